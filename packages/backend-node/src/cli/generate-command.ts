import { randomInt } from 'node:crypto';
import { mkdir, stat } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import {
  type Generator,
  ModelNotFoundError,
  type RgbaImage,
  StableDiffusionPipeline,
  TorchGenerator,
} from '@latentkit/core';
import { shapesModelDefaults, shapesModelName, shapesModelPath } from '@latentkit/model-shapes';
import { createScheduler } from '@latentkit/schedulers';
import type { ExecutionProviderName } from '../execution-providers.js';
import type { GenerationParameters } from '../generation-parameters.js';
import { nodeBackend } from '../node-backend.js';
import { readPng, writePng } from '../png.js';
import { InterruptedError, UsageError } from './cli-error.js';
import { outputPaths } from './output-paths.js';
import { createStepProgress } from './progress.js';
import { schedulerDisplayName } from './scheduler-name.js';
import { requireShippedModel } from './shipped-model.js';

/** The flags of `latentkit generate`, as commander parsed them. */
export interface GenerateFlags {
  model?: string;
  negative?: string;
  steps?: number;
  guidance?: number;
  scheduler?: string;
  seed?: number | bigint;
  width?: number;
  height?: number;
  n: number;
  image?: string;
  strength?: number;
  mask?: string;
  out?: string;
  provider: ExecutionProviderName[];
  json?: boolean;
}

/** Where the command writes: stdout for results, stderr for progress and warnings. */
export interface CommandIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
}

/** What `--json` prints. */
export interface GenerateSummary {
  files: string[];
  seeds: string[];
  prompt: string;
  negativePrompt: string;
  width: number;
  height: number;
  steps: number;
  guidance: number;
  scheduler: string;
  model: string;
  providers: Record<string, string>;
  timings: { loadMs: number; generateMs: number; writeMs: number; totalMs: number };
}

async function requireFolder(path: string): Promise<void> {
  const isFolder = await stat(path).then(
    (s) => s.isDirectory(),
    () => false,
  );
  if (!isFolder) {
    throw new ModelNotFoundError(
      `Model folder ${resolve(path)} does not exist. Fix: pass --model the folder of a diffusers ONNX export (it holds model_index.json).`,
    );
  }
}

function addToSeed(seed: number | bigint, i: number): number | bigint {
  return typeof seed === 'bigint' ? seed + BigInt(i) : seed + i;
}

/** Steps and guidance when neither the flags nor the shipped model's card say otherwise. */
const OTHER_MODEL_DEFAULTS = { numInferenceSteps: 20, guidanceScale: 7.5 } as const;

/** `latentkit generate "<prompt>" …`: generates images and writes PNGs with their parameters. */
export async function runGenerate(
  prompt: string,
  flags: GenerateFlags,
  io: CommandIo,
): Promise<GenerateSummary> {
  const started = performance.now();
  if (flags.mask && !flags.image) throw new UsageError('--mask needs --image (the picture to inpaint).');
  if (flags.strength !== undefined && !flags.image)
    throw new UsageError('--strength needs --image (img2img).');
  if (flags.model === undefined) await requireShippedModel();
  else await requireFolder(flags.model);

  // A1111's random seed range; printed (and written into the PNG) so the image can be made again.
  const seed = flags.seed ?? randomInt(0, 4294967294);
  const seeds = Array.from({ length: flags.n }, (_, i) => addToSeed(seed, i));
  const image: RgbaImage | undefined = flags.image ? await readPng(flags.image) : undefined;
  const mask: RgbaImage | undefined = flags.mask ? await readPng(flags.mask) : undefined;

  // An unknown scheduler name fails here, before minutes of model loading.
  if (flags.scheduler) createScheduler(flags.scheduler);

  const modelDir = flags.model ?? shapesModelPath;
  // The shipped model's card recommends its own settings; other models get A1111-like defaults.
  const defaults = flags.model === undefined ? shapesModelDefaults : OTHER_MODEL_DEFAULTS;
  const steps = flags.steps ?? defaults.numInferenceSteps;
  const guidance = flags.guidance ?? defaults.guidanceScale;
  const parts = await nodeBackend.load(modelDir, {
    providers: flags.provider,
    // Text-to-image never encodes an image: skip the VAE encoder's session (memory, load time).
    ...(image ? {} : { components: ['text_encoder', 'unet', 'vae_decoder'] as const }),
    onWarning: (message) => io.stderr.write(`${message}\n`),
    // onnxruntime's own native error lines duplicate our one-line fallback warning.
    logLevel: process.env['LATENTKIT_DEBUG'] ? 'warning' : 'fatal',
  });
  const pipeline = new StableDiffusionPipeline(parts);
  const loaded = performance.now();
  const progress = createStepProgress(io.stderr, Boolean(io.stderr.isTTY) && !flags.json);
  const abort = new AbortController();
  const onSigint = () => abort.abort(new InterruptedError());
  process.once('SIGINT', onSigint);
  try {
    if (flags.scheduler) pipeline.scheduler = createScheduler(flags.scheduler, pipeline.scheduler.config);
    // One generator per image, seeded seed, seed+1, … (as A1111 numbers a batch): image i is the
    // image a single run with seed+i gives.
    const generator: Generator[] = seeds.map((s) => new TorchGenerator(s));
    const { images } = await pipeline.generate({
      prompt,
      negativePrompt: flags.negative ?? '',
      numInferenceSteps: steps,
      guidanceScale: guidance,
      numImagesPerPrompt: flags.n,
      generator,
      ...(flags.width !== undefined ? { width: flags.width } : {}),
      ...(flags.height !== undefined ? { height: flags.height } : {}),
      ...(image ? { image } : {}),
      ...(mask ? { maskImage: mask } : {}),
      ...(flags.strength !== undefined ? { strength: flags.strength } : {}),
      onStep: ({ step, totalSteps }) => progress.update(step + 1, totalSteps),
      signal: abort.signal,
    });
    progress.stop();
    const generated = performance.now();

    const files = outputPaths(flags.out, images.length, seed);
    const scheduler = flags.scheduler ?? schedulerDisplayName(pipeline.scheduler);
    const model = flags.model === undefined ? shapesModelName : basename(resolve(flags.model));
    for (let i = 0; i < images.length; i++) {
      const img = images[i]!;
      const parameters: GenerationParameters = {
        prompt,
        negativePrompt: flags.negative ?? '',
        steps,
        sampler: scheduler,
        cfgScale: guidance,
        seed: seeds[i]!,
        width: img.width,
        height: img.height,
        model,
        ...(image ? { denoisingStrength: flags.strength ?? (mask ? 1 : 0.8) } : {}),
      };
      await mkdir(dirname(resolve(files[i]!)), { recursive: true });
      await writePng(files[i]!, img, { parameters });
    }
    const written = performance.now();
    const first = images[0]!;
    return {
      files,
      seeds: seeds.map(String),
      prompt,
      negativePrompt: flags.negative ?? '',
      width: first.width,
      height: first.height,
      steps,
      guidance,
      scheduler,
      model: resolve(modelDir),
      providers: { ...parts.providers },
      timings: {
        loadMs: Math.round(loaded - started),
        generateMs: Math.round(generated - loaded),
        writeMs: Math.round(written - generated),
        totalMs: Math.round(written - started),
      },
    };
  } finally {
    progress.stop();
    process.off('SIGINT', onSigint);
    await parts.dispose();
  }
}
