import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { InvalidArgumentError, ModelNotFoundError } from '@latentkit/core';
import { InvalidArgumentError as CommanderArgumentError } from 'commander';
import { UsageError } from './cli-error.js';

/** The x4-upscaler flags of `latentkit generate`, as commander parsed them. */
export interface UpscaleFlags {
  upscale?: number;
  upscalerModel?: string;
  upscaleSteps?: number;
  upscaleGuidance?: number;
  noiseLevel?: number;
}

/** diffusers' `StableDiffusionUpscalePipeline` defaults, for upscaler models without a model card of ours. */
export const X4_UPSCALER_DEFAULTS = { numInferenceSteps: 75, guidanceScale: 9, noiseLevel: 20 } as const;

/** `--upscale`'s parser: the factor of the x4 upscaler, 4 (the only one there is). */
export function parseUpscaleFactor(value: string): number {
  if (value.trim() !== '4') {
    throw new CommanderArgumentError(
      'expected 4 (the x4 upscaler; for other factors use --hires-scale X, which upscales and then refines).',
    );
  }
  return 4;
}

/**
 * Checks the upscale flags together, before any model is loaded: the sub-flags need `--upscale 4`, and
 * `--upscaler-model` must be a folder. Returns the upscaler folder to load, or undefined when `--upscale`
 * is off. `shippedUpscaler` is the shipped upscaler's folder, used without `--upscaler-model` with the
 * shipped model (it is trained on the shapes world only), or undefined when this checkout has none.
 */
export async function checkUpscaleFlags(
  flags: UpscaleFlags & { model?: string },
  shippedUpscaler: string | undefined,
): Promise<string | undefined> {
  const on = flags.upscale !== undefined;
  for (const [flag, value] of [
    ['--upscaler-model', flags.upscalerModel],
    ['--upscale-steps', flags.upscaleSteps],
    ['--upscale-guidance', flags.upscaleGuidance],
    ['--noise-level', flags.noiseLevel],
  ] as const) {
    if (value !== undefined && !on) throw new UsageError(`${flag} needs --upscale 4.`);
  }
  if (!on) return undefined;
  if (flags.upscalerModel === undefined && flags.model !== undefined) {
    throw new UsageError(
      '--upscale 4 with --model needs --upscaler-model DIR: the shipped upscaler knows only the shapes world (for SD models: an ONNX export of stable-diffusion-x4-upscaler, docs/model-folders.md).',
    );
  }
  const dir = flags.upscalerModel ?? shippedUpscaler;
  if (dir === undefined) {
    throw new InvalidArgumentError({
      name: '--upscaler-model',
      value: undefined,
      expected: 'an x4 upscaler model folder (this checkout has no shipped upscaler)',
      fix: 'pass --upscaler-model DIR, a diffusers ONNX export of stable-diffusion-x4-upscaler (docs/model-folders.md)',
    });
  }
  const isFolder = await stat(dir).then(
    (s) => s.isDirectory(),
    () => false,
  );
  if (!isFolder) {
    throw new ModelNotFoundError(
      `Upscaler model folder ${resolve(dir)} does not exist. Fix: pass --upscaler-model the folder of an x4 upscaler export (it holds model_index.json and low_res_scheduler/).`,
    );
  }
  return dir;
}
