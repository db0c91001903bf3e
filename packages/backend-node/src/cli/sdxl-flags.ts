import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import {
  InvalidArgumentError,
  type LoadedPipelineParts,
  ModelMismatchError,
  ModelNotFoundError,
  type SdxlGenerateOptions,
} from '@latentkit/core';
import { InvalidArgumentError as CommanderArgumentError } from 'commander';
import { UsageError } from './cli-error.js';

/** A `WIDTHxHEIGHT` flag value in pixels. */
export interface PixelSize {
  width: number;
  height: number;
}

/** An `X,Y` flag value in pixels: x from the left edge, y from the top edge. */
export interface PixelPoint {
  x: number;
  y: number;
}

/** The SDXL flags of `latentkit generate`, as commander parsed them. */
export interface SdxlFlags {
  /** `--prompt-2`: the second text encoder's prompt (diffusers' `prompt_2`). */
  prompt2?: string;
  /** `--negative-2`: the second text encoder's negative prompt (`negative_prompt_2`). */
  negative2?: string;
  /** `--original-size WxH`: micro-conditioning `original_size`. */
  originalSize?: PixelSize;
  /** `--target-size WxH`: micro-conditioning `target_size`. */
  targetSize?: PixelSize;
  /** `--crop-top-left X,Y`: micro-conditioning `crops_coords_top_left` (diffusers' order is `(y, x)`). */
  cropTopLeft?: PixelPoint;
  /** `--aesthetic-score`: a refiner's aesthetic score. */
  aestheticScore?: number;
  /** `--negative-aesthetic-score`: a refiner's negative aesthetic score. */
  negativeAestheticScore?: number;
  /** `--refiner DIR`: an SDXL refiner folder that finishes the base's denoising. */
  refiner?: string;
  /** `--high-noise-frac F`: the share of the schedule the base runs before the refiner takes over. */
  highNoiseFrac?: number;
}

/** diffusers' ensemble-of-experts example and A1111's "Switch at" default. */
export const DEFAULT_HIGH_NOISE_FRAC = 0.8;

/** The largest side `--original-size` / `--target-size` take (SDXL was trained on sizes up to ~4096). */
const MAX_SIDE = 16384;

/** `--original-size` / `--target-size`'s parser: `WIDTHxHEIGHT`, two positive integers, e.g. `1024x1024`. */
export function parsePixelSize(value: string): PixelSize {
  const match = /^\s*(\d+)\s*[xX×]\s*(\d+)\s*$/.exec(value);
  const width = Number(match?.[1]);
  const height = Number(match?.[2]);
  if (!match || width < 1 || height < 1 || width > MAX_SIDE || height > MAX_SIDE) {
    throw new CommanderArgumentError(
      `expected WIDTHxHEIGHT, two integers in [1, ${MAX_SIDE}] pixels, e.g. 1024x1024.`,
    );
  }
  return { width, height };
}

/** `--crop-top-left`'s parser: `X,Y`, two integers ≥ 0 (x from the left edge, y from the top), e.g. `0,256`. */
export function parsePixelPoint(value: string): PixelPoint {
  const match = /^\s*(\d+)\s*,\s*(\d+)\s*$/.exec(value);
  const x = Number(match?.[1]);
  const y = Number(match?.[2]);
  if (!match || x > MAX_SIDE || y > MAX_SIDE) {
    throw new CommanderArgumentError(
      `expected X,Y, two integers in [0, ${MAX_SIDE}] pixels (x from the left, y from the top), e.g. 0,256.`,
    );
  }
  return { x, y };
}

/** The SDXL-only flags, in the order they are named in errors. */
const SDXL_ONLY: readonly [string, keyof SdxlFlags][] = [
  ['--refiner', 'refiner'],
  ['--prompt-2', 'prompt2'],
  ['--negative-2', 'negative2'],
  ['--original-size', 'originalSize'],
  ['--target-size', 'targetSize'],
  ['--crop-top-left', 'cropTopLeft'],
  ['--aesthetic-score', 'aestheticScore'],
  ['--negative-aesthetic-score', 'negativeAestheticScore'],
];

/** The flags `--refiner` cannot be combined with: the hand-off is text-to-image, base then refiner. */
const NOT_WITH_REFINER: readonly [string, keyof RefinerExclusiveFlags][] = [
  ['--image', 'image'],
  ['--mask', 'mask'],
  ['--strength', 'strength'],
  ['--hires-scale', 'hiresScale'],
  ['--box', 'box'],
];

/** The flags {@link checkSdxlFlags} looks at besides the SDXL ones. */
export interface RefinerExclusiveFlags {
  image?: string;
  mask?: string;
  strength?: number;
  hiresScale?: number;
  box?: readonly unknown[];
}

/**
 * Checks the SDXL flags together, before any model is loaded: `--high-noise-frac` needs `--refiner` and
 * lies strictly between 0 and 1; `--refiner` is text-to-image (no `--image`, `--mask`, `--strength`,
 * `--hires-scale`, `--box`) and must be a folder. Returns the refiner's folder, or undefined.
 */
export async function checkSdxlFlags(flags: SdxlFlags & RefinerExclusiveFlags): Promise<string | undefined> {
  if (flags.highNoiseFrac !== undefined && flags.refiner === undefined) {
    throw new UsageError(
      '--high-noise-frac needs --refiner DIR (the share of the steps the base runs before the refiner).',
    );
  }
  if (flags.refiner === undefined) return undefined;
  for (const [flag, key] of NOT_WITH_REFINER) {
    if (flags[key] !== undefined) {
      throw new UsageError(
        `--refiner cannot take ${flag}: the base + refiner hand-off is text-to-image (the base denoises the first part of the schedule, the refiner the rest). Drop ${flag}, or drop --refiner.`,
      );
    }
  }
  const frac = flags.highNoiseFrac;
  if (frac !== undefined && !(frac > 0 && frac < 1)) {
    throw new InvalidArgumentError({
      name: '--high-noise-frac',
      value: frac,
      expected:
        'a number strictly between 0 and 1: the share of the schedule the base denoises before the refiner',
      fix: `use e.g. --high-noise-frac ${DEFAULT_HIGH_NOISE_FRAC} (diffusers' and A1111's default); without a refiner leave out --refiner`,
    });
  }
  const isFolder = await stat(flags.refiner).then(
    (s) => s.isDirectory(),
    () => false,
  );
  if (!isFolder) {
    throw new ModelNotFoundError(
      `Refiner model folder ${resolve(flags.refiner)} does not exist. Fix: pass --refiner the folder of an SDXL refiner's ONNX export (it holds model_index.json naming StableDiffusionXLImg2ImgPipeline, text_encoder_2/ and unet/).`,
    );
  }
  return flags.refiner;
}

/** The SDXL flags given, by name (`--prompt-2`, …). */
export function sdxlFlagsGiven(flags: SdxlFlags): string[] {
  return SDXL_ONLY.filter(([, key]) => flags[key] !== undefined).map(([flag]) => flag);
}

/**
 * Checks the SDXL flags against the loaded model: on a model that is not SDXL every SDXL flag is refused;
 * the aesthetic scores need a model with `requires_aesthetics_score` (a refiner: `--refiner`, or `--model`
 * itself); a refiner's time ids have no target size, so `--target-size` needs a base model.
 *
 * @param refiner - The refiner's parts when `--refiner` is given.
 * @throws ModelMismatchError naming the flag, the model and the fix.
 */
export function checkSdxlModel(
  flags: SdxlFlags,
  model: string,
  parts: LoadedPipelineParts,
  refiner?: { name: string; parts: LoadedPipelineParts },
): void {
  if (!parts.sdxl) {
    const given = sdxlFlagsGiven(flags);
    if (given.length > 0) {
      throw new ModelMismatchError(
        `${given.join(', ')} ${given.length === 1 ? 'needs' : 'need'} an SDXL model, but ${model} is not one (its model_index.json names no SDXL pipeline and it has no text_encoder_2). Fix: drop ${given.join(', ')}, or pass --model an SDXL export (docs/sdxl.md).`,
      );
    }
    return;
  }
  if (refiner && !refiner.parts.sdxl) {
    throw new ModelMismatchError(
      `--refiner ${refiner.name} is not an SDXL model (its model_index.json names no SDXL pipeline and it has no text_encoder_2). Fix: pass --refiner an SDXL refiner export (stable-diffusion-xl-refiner-1.0, model_index.json naming StableDiffusionXLImg2ImgPipeline).`,
    );
  }
  const scored = refiner ? refiner.parts.sdxl!.requiresAestheticsScore : parts.sdxl.requiresAestheticsScore;
  for (const [flag, value] of [
    ['--aesthetic-score', flags.aestheticScore],
    ['--negative-aesthetic-score', flags.negativeAestheticScore],
  ] as const) {
    if (value !== undefined && !scored) {
      const which = refiner ? `the refiner ${refiner.name}` : model;
      throw new ModelMismatchError(
        `${flag} applies to an SDXL refiner (model_index.json "requires_aesthetics_score": true), but ${which} has no aesthetic score in its time ids. Fix: drop ${flag}, or add --refiner DIR with a refiner export.`,
      );
    }
  }
  if (flags.targetSize !== undefined && parts.sdxl.requiresAestheticsScore) {
    throw new ModelMismatchError(
      `--target-size applies to an SDXL base model, but ${model} is a refiner (requires_aesthetics_score: its time ids hold the aesthetic score instead of the target size). Fix: drop --target-size, or use --aesthetic-score.`,
    );
  }
}

/** diffusers' `[height, width]` from a `WxH` flag. */
function heightWidth(size: PixelSize): [number, number] {
  return [size.height, size.width];
}

/** The micro-conditioning and prompt-2 options the flags give the base model (or a lone SDXL model). */
export function sdxlBaseOptions(
  flags: SdxlFlags,
): Pick<
  SdxlGenerateOptions,
  | 'prompt2'
  | 'negativePrompt2'
  | 'originalSize'
  | 'targetSize'
  | 'cropsCoordsTopLeft'
  | 'aestheticScore'
  | 'negativeAestheticScore'
> {
  return {
    ...(flags.prompt2 !== undefined ? { prompt2: flags.prompt2 } : {}),
    ...(flags.negative2 !== undefined ? { negativePrompt2: flags.negative2 } : {}),
    ...(flags.originalSize ? { originalSize: heightWidth(flags.originalSize) } : {}),
    ...(flags.targetSize ? { targetSize: heightWidth(flags.targetSize) } : {}),
    ...(flags.cropTopLeft ? { cropsCoordsTopLeft: [flags.cropTopLeft.y, flags.cropTopLeft.x] } : {}),
    // Only with --refiner are the scores the refiner's; on a lone refiner model they are its own.
    ...(flags.refiner === undefined && flags.aestheticScore !== undefined
      ? { aestheticScore: flags.aestheticScore }
      : {}),
    ...(flags.refiner === undefined && flags.negativeAestheticScore !== undefined
      ? { negativeAestheticScore: flags.negativeAestheticScore }
      : {}),
  };
}

/**
 * The options the flags give the refiner: the prompts 2, the original size and crop (a refiner's time ids
 * hold them too) and the aesthetic scores; no target size (a refiner has none).
 */
export function sdxlRefinerOptions(
  flags: SdxlFlags,
): Pick<
  SdxlGenerateOptions,
  | 'prompt2'
  | 'negativePrompt2'
  | 'originalSize'
  | 'cropsCoordsTopLeft'
  | 'aestheticScore'
  | 'negativeAestheticScore'
> {
  return {
    ...(flags.prompt2 !== undefined ? { prompt2: flags.prompt2 } : {}),
    ...(flags.negative2 !== undefined ? { negativePrompt2: flags.negative2 } : {}),
    ...(flags.originalSize ? { originalSize: heightWidth(flags.originalSize) } : {}),
    ...(flags.cropTopLeft ? { cropsCoordsTopLeft: [flags.cropTopLeft.y, flags.cropTopLeft.x] } : {}),
    ...(flags.aestheticScore !== undefined ? { aestheticScore: flags.aestheticScore } : {}),
    ...(flags.negativeAestheticScore !== undefined
      ? { negativeAestheticScore: flags.negativeAestheticScore }
      : {}),
  };
}
