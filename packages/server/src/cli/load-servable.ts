import { basename, resolve } from 'node:path';
import { type ExecutionProviderName, nodeBackend } from '@latentkit/backend-node';
import { DiffusionPipeline, ModelMismatchError } from '@latentkit/core';
import { shapesModelDefaults, shapesModelName, shapesModelPath } from '@latentkit/model-shapes';
import { modelDefaults } from '../model-defaults.js';
import { isServablePipeline, type ServablePipeline } from '../run-generation.js';
import type { ModelDefaults } from '../server-options.js';

/** Steps and guidance for models other than the shipped one: `latentkit generate`'s (diffusers-like). */
const OTHER_MODEL_DEFAULTS = { steps: 20, guidanceScale: 7.5 } as const;

/** What `--model`, `--steps` and `--guidance` ask for. */
export interface ModelFlags {
  /** A diffusers ONNX folder or a Hub id `org/name`; absent: the shipped "shapes" model. */
  model?: string;
  /** Default steps of requests that leave them out. */
  steps?: number;
  /** Default guidance scale of requests that leave it out. */
  guidance?: number;
  /** Execution providers in order of preference (`--provider cuda,cpu`); default CPU. */
  provider?: ExecutionProviderName[];
}

/** A loaded, servable model: its pipeline, the id it is served under and its request defaults. */
export interface LoadedModel {
  pipe: ServablePipeline;
  modelName: string;
  defaults: ModelDefaults;
}

/** The name a model is served under: `shapes` for the shipped one, a folder's name, or the Hub id. */
export function modelNameFor(model: string | undefined): string {
  if (model === undefined) return shapesModelName;
  const local = /^[./~]/.test(model) || model.includes('\\') || model.split('/').length !== 2;
  return local ? basename(resolve(model)) : model;
}

/**
 * Loads `--model` with the class that fits it (`DiffusionPipeline.fromPretrained` on onnxruntime-node,
 * sessions on a worker thread so the event loop stays free), refuses pipelines the server cannot serve
 * (x4 upscalers, GLIGEN layout models) with their sessions released, and works out the defaults: the
 * model's native size; for the shipped model its card's steps and guidance (50, 5, as `latentkit
 * generate`), for others 20 and 7.5; `--steps` / `--guidance` override either.
 */
export async function loadServable(flags: ModelFlags): Promise<LoadedModel> {
  const source = flags.model ?? shapesModelPath;
  const modelName = modelNameFor(flags.model);
  const pipe = await DiffusionPipeline.fromPretrained(source, {
    backend: nodeBackend,
    sessionThread: 'worker',
    ...(flags.provider !== undefined ? { providers: flags.provider } : {}),
    onWarning: (message: string) => process.stderr.write(`${message}\n`),
    logLevel: process.env['LATENTKIT_DEBUG'] ? 'warning' : 'fatal',
  });
  if (!isServablePipeline(pipe)) {
    const kind = pipe.constructor.name;
    await pipe.dispose();
    throw new ModelMismatchError(
      `the model ${JSON.stringify(modelName)} is a ${kind} model, which the server does not serve: it serves text-to-image, img2img and inpainting models (StableDiffusionPipeline, StableDiffusionXLPipeline). Fix: pass --model a Stable Diffusion 1.x/2.x or SDXL export, or leave --model out for the shipped model.`,
    );
  }
  const card =
    flags.model === undefined
      ? { steps: shapesModelDefaults.numInferenceSteps, guidanceScale: shapesModelDefaults.guidanceScale }
      : OTHER_MODEL_DEFAULTS;
  const defaults = modelDefaults(pipe, {
    steps: flags.steps ?? card.steps,
    guidanceScale: flags.guidance ?? card.guidanceScale,
  });
  return { pipe, modelName, defaults };
}
