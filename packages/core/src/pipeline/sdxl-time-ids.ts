import { Tensor } from '../tensor.js';
import type { SizePair } from './sdxl-options.js';

/** The micro-conditioning of one SDXL call with diffusers' defaults filled in (see {@link resolveMicroConditioning}). */
export interface MicroConditioning {
  /** `[height, width]`: `originalSize` (default: the output size). */
  originalSize: SizePair;
  /** `[top, left]`: `cropsCoordsTopLeft` (default `[0, 0]`). */
  cropsCoordsTopLeft: SizePair;
  /** `[height, width]`: `targetSize` (default: the output size). */
  targetSize: SizePair;
  /** As given; txt2img uses the negative time ids only when both negative sizes are given. */
  negativeOriginalSize?: SizePair;
  /** As given (default `[0, 0]` where it is used). */
  negativeCropsCoordsTopLeft?: SizePair;
  /** As given. */
  negativeTargetSize?: SizePair;
  /** The refiner's aesthetic score (default 6). */
  aestheticScore: number;
  /** The refiner's negative aesthetic score (default 2.5). */
  negativeAestheticScore: number;
}

/** What the time ids depend on besides the micro-conditioning. */
export interface TimeIdsInput {
  /** `txt2img` builds them as diffusers' `StableDiffusionXLPipeline`; the others as its img2img / inpainting pipelines. */
  mode: 'txt2img' | 'img2img' | 'inpaint';
  /** The refiner's 5 values (with the aesthetic score) instead of 6 (with the target size); img2img / inpainting only. */
  requiresAestheticsScore: boolean;
  /** Images of the call (prompts · numImagesPerPrompt). */
  totalImages: number;
  /** Whether the denoiser batch is `[uncond…; cond…]`. */
  doClassifierFreeGuidance: boolean;
}

/** The positive and negative time-id rows, and the `[rows, 5|6]` tensor the denoiser receives. */
export interface TimeIds {
  /** The positive row. */
  positive: number[];
  /** The negative row (equal to the positive one when none applies). */
  negative: number[];
  /** One row per denoiser batch row. */
  timeIds: Tensor;
}

/**
 * Fills diffusers' defaults into the micro-conditioning options: `originalSize` and `targetSize` default
 * to the output size `[height, width]`, crops to `[0, 0]`, aesthetic scores to 6 and 2.5.
 */
export function resolveMicroConditioning(
  options: {
    originalSize?: SizePair | undefined;
    cropsCoordsTopLeft?: SizePair | undefined;
    targetSize?: SizePair | undefined;
    negativeOriginalSize?: SizePair | undefined;
    negativeCropsCoordsTopLeft?: SizePair | undefined;
    negativeTargetSize?: SizePair | undefined;
    aestheticScore?: number | undefined;
    negativeAestheticScore?: number | undefined;
  },
  height: number,
  width: number,
): MicroConditioning {
  const pair = (p: SizePair | undefined, fallback: SizePair): SizePair => (p ? [p[0], p[1]] : fallback);
  const out: MicroConditioning = {
    originalSize: pair(options.originalSize, [height, width]),
    cropsCoordsTopLeft: pair(options.cropsCoordsTopLeft, [0, 0]),
    targetSize: pair(options.targetSize, [height, width]),
    aestheticScore: options.aestheticScore ?? 6,
    negativeAestheticScore: options.negativeAestheticScore ?? 2.5,
  };
  if (options.negativeOriginalSize) out.negativeOriginalSize = pair(options.negativeOriginalSize, [0, 0]);
  if (options.negativeCropsCoordsTopLeft)
    out.negativeCropsCoordsTopLeft = pair(options.negativeCropsCoordsTopLeft, [0, 0]);
  if (options.negativeTargetSize) out.negativeTargetSize = pair(options.negativeTargetSize, [0, 0]);
  return out;
}

/**
 * SDXL's micro-conditioning time ids, exactly as diffusers builds them (`_get_add_time_ids` and the rows
 * fed to the UNet):
 * - txt2img: `pos = [...originalSize, ...crops, ...targetSize]`; `neg` only when both `negativeOriginalSize`
 *   and `negativeTargetSize` are given (`[...negOriginal, ...(negCrops ?? [0, 0]), ...negTarget]`), else
 *   `pos`. Under guidance the pair `[neg, pos]` is tiled N times (rows `neg, pos, neg, pos, …`), which for
 *   N ≥ 2 and `neg ≠ pos` does not line up with the `[uncond…; cond…]` batch — diffusers' quirk, reproduced.
 * - img2img / inpainting, refiner (5 values): `pos = [...originalSize, ...crops, aestheticScore]`,
 *   `neg = [...negOriginal, ...negCrops, negativeAestheticScore]`.
 * - img2img / inpainting, base (6 values): `pos = [...originalSize, ...crops, ...targetSize]`,
 *   `neg = [...negOriginal, ...crops, ...negTarget]` — the positive crops (diffusers' quirk). Negative
 *   sizes default to the positive ones. Rows under guidance `[neg × N; pos × N]`.
 * Without guidance: `pos × N`.
 */
export function sdxlTimeIds(m: MicroConditioning, input: TimeIdsInput): TimeIds {
  const n = input.totalImages;
  let positive: number[];
  let negative: number[];
  if (input.mode === 'txt2img') {
    positive = [...m.originalSize, ...m.cropsCoordsTopLeft, ...m.targetSize];
    negative =
      m.negativeOriginalSize && m.negativeTargetSize
        ? [...m.negativeOriginalSize, ...(m.negativeCropsCoordsTopLeft ?? [0, 0]), ...m.negativeTargetSize]
        : positive;
  } else {
    const negOriginal = m.negativeOriginalSize ?? m.originalSize;
    if (input.requiresAestheticsScore) {
      positive = [...m.originalSize, ...m.cropsCoordsTopLeft, m.aestheticScore];
      negative = [...negOriginal, ...(m.negativeCropsCoordsTopLeft ?? [0, 0]), m.negativeAestheticScore];
    } else {
      positive = [...m.originalSize, ...m.cropsCoordsTopLeft, ...m.targetSize];
      negative = [...negOriginal, ...m.cropsCoordsTopLeft, ...(m.negativeTargetSize ?? m.targetSize)];
    }
  }
  let rows: number[][];
  if (!input.doClassifierFreeGuidance) rows = Array.from({ length: n }, () => positive);
  else if (input.mode === 'txt2img') rows = Array.from({ length: n }, () => [negative, positive]).flat();
  else rows = [...Array.from({ length: n }, () => negative), ...Array.from({ length: n }, () => positive)];
  const k = positive.length;
  return {
    positive,
    negative,
    timeIds: new Tensor(Float32Array.from(rows.flat()), [rows.length, k]),
  };
}
