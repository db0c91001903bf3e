import { InvalidArgumentError, LimitExceededError, ShapeMismatchError } from '../errors.js';
import { isRgbaImage, rgbaToTensor } from '../image/rgba-image.js';
import type { Conditioning } from '../interfaces/conditioning.js';
import type { Denoiser } from '../interfaces/denoiser.js';
import type { LatentCodec } from '../interfaces/latent-codec.js';
import type { PromptEncoder } from '../interfaces/prompt-encoder.js';
import type { Generator } from '../random/generator.js';
import { Tensor } from '../tensor.js';
import type { GenerateOptions, OutputType, StepInfo } from './generate-options.js';
import { zeroStepsError } from './img2img.js';
import { rgbaToMask } from './inpaint-mask.js';
import { checkKnownKeys } from './option-keys.js';
import { type PipelineLimits, resolvePipelineLimits } from './pipeline-limits.js';
import { requireEncode } from './prepare-latents.js';

/** The parts validation needs to know about. */
export interface ValidationParts {
  promptEncoder?: PromptEncoder | undefined;
  denoiser: Denoiser;
  codec: LatentCodec;
  /** Upper bounds of a call; missing ones take {@link DEFAULT_PIPELINE_LIMITS}. */
  limits?: Partial<PipelineLimits> | undefined;
}

/** Which loop a call runs. */
export type GenerationMode = 'txt2img' | 'img2img' | 'inpaint';

/** The options every pipeline's `generate()` shares (prompts, guidance, batch, randomness, output), checked. */
export interface CommonOptions {
  /** Prompts to encode (when `prompt` was given). */
  prompts?: string[];
  /** Negative prompts to encode (under guidance, when no `negativePromptEmbeds`); one per prompt. */
  negativePrompts?: string[];
  /** SDXL: the second text encoder's prompts (`prompt2`), one per prompt; default `prompts`. */
  prompts2?: string[];
  /** SDXL: the second text encoder's negative prompts (`negativePrompt2`), one per negative prompt. */
  negativePrompts2?: string[];
  /**
   * SDXL `force_zeros_for_empty_prompt`: the negative conditioning (hidden states and pooled) is zeros
   * instead of an encoding (under guidance, with no `negativePrompt` and no `negativePromptEmbeds`).
   */
  zeroNegative?: boolean;
  /**
   * SDXL: encode the negative prompts without `clipSkip` (diffusers' SDXL `encode_prompt` applies
   * `clip_skip` to the prompts only), in an encoder call of their own.
   */
  negativesIgnoreClipSkip?: boolean;
  promptEmbeds?: Conditioning;
  /** Negative conditioning, kept only under guidance. */
  negativePromptEmbeds?: Conditioning;
  /** Number of prompts (rows of conditioning before `numImagesPerPrompt`). */
  batchSize: number;
  numImagesPerPrompt: number;
  /** `batchSize · numImagesPerPrompt`. */
  totalImages: number;
  numInferenceSteps: number;
  guidanceScale: number;
  guidanceRescale: number;
  clipSkip?: number;
  doClassifierFreeGuidance: boolean;
  eta: number;
  seed?: number | bigint;
  generator?: Generator;
  generators?: Generator[];
  outputType: OutputType;
  onStep?: (info: StepInfo) => void | Promise<void>;
  signal?: AbortSignal;
  /** The pipeline's limits, resolved. */
  limits: PipelineLimits;
}

/** {@link GenerateOptions} checked, with defaults applied and inputs normalised. */
export interface ValidatedOptions extends CommonOptions {
  mode: GenerationMode;
  width: number;
  height: number;
  latentWidth: number;
  latentHeight: number;
  strength: number;
  latents?: Tensor;
  /** The init image `[B, 3, H, W]` in [0, 1]. */
  image?: Tensor;
  /** The mask `[B, 1, H, W]` in [0, 1], not yet binarised. */
  mask?: Tensor;
  /**
   * SDXL: `image` given as latents `[B, latentChannels, h, w]` (diffusion space, e.g. the base's
   * `outputType: 'latent'` result): the start latents, not encoded. `image` is then undefined.
   */
  imageLatents?: Tensor;
}

/**
 * What differs between the pipelines that take {@link GenerateOptions} (StableDiffusionPipeline and its
 * GLIGEN and SDXL relatives): accepted keys and diffusers' defaults.
 */
export interface GenerateSpec {
  /** The accepted option names (others are rejected with a "did you mean"). */
  keys: readonly string[];
  /** Default `guidanceScale` (SD 7.5, SDXL 5). */
  defaultGuidance: number;
  /** Default img2img `strength` (SD 0.8, SDXL 0.3). */
  img2imgStrength: number;
  /** Default inpainting `strength` (SD 1, SDXL 0.9999). */
  inpaintStrength: number;
  /** Whether `image` may be a latents Tensor `[B, latentChannels, h, w]` (SDXL's refiner hand-off). */
  latentImage: boolean;
  /** SDXL `force_zeros_for_empty_prompt` (see {@link CallSpec.zeroNegative}). */
  zeroNegative: boolean;
}

/** StableDiffusionPipeline's {@link GenerateSpec}: diffusers' `StableDiffusion*Pipeline` defaults. */
export const SD_GENERATE_SPEC: GenerateSpec = Object.freeze({
  keys: [],
  defaultGuidance: 7.5,
  img2imgStrength: 0.8,
  inpaintStrength: 1,
  latentImage: false,
  zeroNegative: false,
});

/** The options shared by every pipeline's `generate()`, as {@link validateCommonOptions} reads them. */
export type CommonGenerateOptions = Pick<
  GenerateOptions,
  | 'prompt'
  | 'negativePrompt'
  | 'promptEmbeds'
  | 'negativePromptEmbeds'
  | 'clipSkip'
  | 'numInferenceSteps'
  | 'guidanceScale'
  | 'guidanceRescale'
  | 'numImagesPerPrompt'
  | 'eta'
  | 'seed'
  | 'generator'
  | 'onStep'
  | 'signal'
  | 'outputType'
>;

/** What differs between pipelines in the shared checks: the accepted keys and the defaults. */
export interface CallSpec {
  /** The accepted option names (others are rejected with a "did you mean"). */
  keys: readonly string[];
  /** Default `numInferenceSteps`. */
  defaultSteps: number;
  /** Default `guidanceScale`. */
  defaultGuidance: number;
  /**
   * SDXL `force_zeros_for_empty_prompt`: under guidance with neither `negativePrompt` nor
   * `negativePromptEmbeds`, the negative conditioning is zeros (nothing is encoded for it).
   */
  zeroNegative?: boolean;
}

const OUTPUT_TYPES: readonly OutputType[] = ['image', 'tensor', 'latent'];

/** One entry per key of {@link GenerateOptions}: tsc fails here when an option is added but not listed. */
const OPTION_KEYS: Record<keyof GenerateOptions, true> = {
  prompt: true,
  negativePrompt: true,
  promptEmbeds: true,
  negativePromptEmbeds: true,
  clipSkip: true,
  width: true,
  height: true,
  numInferenceSteps: true,
  guidanceScale: true,
  guidanceRescale: true,
  numImagesPerPrompt: true,
  eta: true,
  seed: true,
  generator: true,
  latents: true,
  image: true,
  strength: true,
  maskImage: true,
  onStep: true,
  signal: true,
  outputType: true,
};

/** The option names `generate()` accepts; any other key is rejected with a "did you mean". */
export const GENERATE_OPTION_KEYS: readonly (keyof GenerateOptions)[] = Object.freeze(
  Object.keys(OPTION_KEYS) as (keyof GenerateOptions)[],
);

/**
 * The largest |guidanceScale| accepted. diffusers users use 1–30; far larger scales only amplify the
 * difference of the two predictions until float32 overflows (1e30 gives an image of NaN).
 */
export const MAX_GUIDANCE_SCALE = 100;

export function isFiniteNumber(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

/** The sizes a model can run: multiples of `multiple` px, for the reason `why`. */
export interface SizeRule {
  multiple: number;
  why: string;
  max: number;
}

function sizeRule(codec: LatentCodec, denoiser: Denoiser, limits: PipelineLimits): SizeRule {
  const downscale = codec.downscale;
  const sm = denoiser.sizeMultiple;
  const factor = typeof sm === 'number' && Number.isInteger(sm) && sm > 1 ? sm : 1;
  const why =
    factor === 1
      ? "the codec's downscale"
      : `the codec's downscale ${downscale} × the denoiser's size multiple ${factor}, as the UNet down-samples the latent by ${factor}`;
  return { multiple: downscale * factor, why, max: limits.maxImageSize };
}

/** The two multiples of the rule nearest to `value` that are within the size limit, as "a or b". */
export function nearestMultiples(value: number, rule: SizeRule): string {
  const { multiple, max } = rule;
  const below = Math.floor(value / multiple) * multiple;
  const above = below + multiple;
  const sizes = [below, above].filter((v) => v >= multiple && v <= max);
  return sizes.length > 0 ? sizes.join(' or ') : `${multiple}`;
}

/** Width and height must be at most `limits.maxImageSize`: checked before anything is allocated. */
export function checkSideLimit(name: string, value: number, limits: PipelineLimits): void {
  if (value > limits.maxImageSize) {
    throw new LimitExceededError({
      name,
      value,
      expected: `at most ${limits.maxImageSize} pixels (limits.maxImageSize)`,
      fix: `use a smaller size, or raise the limit: new StableDiffusionPipeline({ ...parts, limits: { maxImageSize: ${value} } }) or fromPretrained(…, { limits: { maxImageSize: ${value} } })`,
    });
  }
}

export function checkPositiveInteger(name: string, value: unknown, fix: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new InvalidArgumentError({ name, value, expected: 'an integer ≥ 1', fix });
  }
  return value;
}

export function checkTensor(name: string, value: unknown): Tensor {
  if (!(value instanceof Tensor)) {
    throw new InvalidArgumentError({ name, value, expected: 'a Tensor', fix: `pass a Tensor as ${name}` });
  }
  return value;
}

/** Rejects a tensor that holds NaN or ±Infinity, naming the first such element. */
export function checkFinite(name: string, t: Tensor, fix: string): void {
  const data = t.data;
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if (v - v !== 0) {
      throw new InvalidArgumentError({
        name: `${name}[${flatIndexToString(i, t.shape)}]`,
        value: v,
        expected: 'finite numbers only (no NaN or ±Infinity)',
        fix,
      });
    }
  }
}

function flatIndexToString(index: number, shape: readonly number[]): string {
  const out: number[] = [];
  let rest = index;
  for (let d = shape.length - 1; d >= 0; d--) {
    const size = shape[d]!;
    out.unshift(size > 0 ? rest % size : 0);
    rest = size > 0 ? Math.floor(rest / size) : 0;
  }
  return out.join(', ');
}

function checkUnitRange(name: string, t: Tensor, fix: string): void {
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < t.data.length; i++) {
    const v = t.data[i]!;
    if (!(v >= min)) min = Number.isNaN(v) ? Number.NaN : v;
    if (!(v <= max)) max = Number.isNaN(v) ? Number.NaN : v;
    if (Number.isNaN(v)) break;
  }
  if (!(min >= 0 && max <= 1)) {
    throw new InvalidArgumentError({
      name: `${name} values`,
      value: [min, max],
      expected: 'values in [0, 1]',
      fix,
    });
  }
}

/** Checks one conditioning's own shapes; returns its batch size. */
function checkConditioning(name: string, c: Conditioning): number {
  if (typeof c !== 'object' || c === null) {
    throw new InvalidArgumentError({ name, value: c, expected: 'a Conditioning { encoderHiddenStates, … }' });
  }
  const ehs = checkTensor(`${name}.encoderHiddenStates`, c.encoderHiddenStates);
  if (ehs.shape.length !== 3 || ehs.shape[0]! < 1) {
    throw new ShapeMismatchError({
      name: `${name}.encoderHiddenStates`,
      value: ehs.shape,
      expected: 'shape [batch ≥ 1, tokens, hiddenSize]',
      fix: 'pass one row per prompt, e.g. [1, 77, 768] for one SD 1.x prompt',
    });
  }
  const batch = ehs.shape[0]!;
  const finiteFix = 'compute the embeddings again; values that overflow float32 become ±Infinity';
  checkFinite(`${name}.encoderHiddenStates`, ehs, finiteFix);
  for (const key of ['textEmbeds', 'timeIds'] as const) {
    const t = c[key];
    if (t === undefined) continue;
    checkTensor(`${name}.${key}`, t);
    checkFinite(`${name}.${key}`, t, finiteFix);
    if (t.shape.length !== 2 || t.shape[0] !== batch) {
      throw new ShapeMismatchError({
        name: `${name}.${key}`,
        value: t.shape,
        expected: `shape [${batch}, n]: one row per row of ${name}.encoderHiddenStates`,
      });
    }
  }
  return batch;
}

/**
 * Checks that negative conditioning has exactly the positive one's shapes (as diffusers' `check_inputs`):
 * batch, token count, hidden size, and the optional SDXL fields.
 */
export function checkNegativeMatches(pos: Conditioning, neg: Conditioning): void {
  const [pb, pt, pd] = pos.encoderHiddenStates.shape as [number, number, number];
  const [nb, nt, nd] = neg.encoderHiddenStates.shape as [number, number, number];
  const fix = 'encode the negative prompt with the same encoder and prompt count as the prompt';
  if (nb !== pb) {
    throw new ShapeMismatchError({
      name: 'negativePromptEmbeds batch',
      value: nb,
      expected: `${pb}, the batch of promptEmbeds (one negative row per prompt)`,
      fix,
    });
  }
  if (nt !== pt) {
    throw new ShapeMismatchError({
      name: 'negativePromptEmbeds token count',
      value: nt,
      expected: `${pt}, the token count of promptEmbeds`,
      fix: 'pad or chunk both to the same number of tokens',
    });
  }
  if (nd !== pd) {
    throw new ShapeMismatchError({
      name: 'negativePromptEmbeds hidden size',
      value: nd,
      expected: `${pd}, the hidden size of promptEmbeds`,
      fix: 'use embeddings from the same text encoder for both',
    });
  }
  for (const key of ['textEmbeds', 'timeIds'] as const) {
    const p = pos[key];
    const n = neg[key];
    if ((p === undefined) !== (n === undefined)) {
      throw new ShapeMismatchError({
        name: `negativePromptEmbeds.${key}`,
        value: n === undefined ? 'missing' : 'present',
        expected: `${p === undefined ? 'absent' : 'present'}, as in promptEmbeds`,
        fix: `give ${key} in both conditionings or in neither`,
      });
    }
    if (p && n && p.shape.join() !== n.shape.join()) {
      throw new ShapeMismatchError({
        name: `negativePromptEmbeds.${key}`,
        value: n.shape,
        expected: `shape [${p.shape.join(', ')}], as promptEmbeds.${key}`,
      });
    }
  }
}

function toPromptList(name: string, value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value) && value.length > 0 && value.every((p) => typeof p === 'string'))
    return [...value];
  throw new InvalidArgumentError({
    name,
    value,
    expected: 'a string or a non-empty array of strings',
    fix: `pass ${name}: "a photo of a cat" or ${name}: ["a cat", "a dog"]`,
  });
}

/**
 * Checks an init image (an `RgbaImage`, or a Tensor `[B, 3, H, W]` in [0, 1]) and returns it as a Tensor:
 * the limits on the output size (the image's size × `outputScale`; for an `RgbaImage` before it is
 * converted), shape, finite values in [0, 1], and sides that are multiples of `rule.multiple`.
 */
export function checkImage(
  value: unknown,
  rule: SizeRule,
  limits: PipelineLimits,
  totalImages: number,
  outputScale = 1,
): Tensor {
  const side = (name: string) =>
    outputScale === 1 ? `image ${name}` : `output ${name} (image ${name} × ${outputScale})`;
  if (isRgbaImage(value)) {
    // Before the image is converted (which allocates 3 floats per pixel).
    checkSideLimit(side('width'), value.width * outputScale, limits);
    checkSideLimit(side('height'), value.height * outputScale, limits);
    checkPixelBudget(totalImages, value.width * outputScale, value.height * outputScale, limits);
  }
  const image = isRgbaImage(value) ? rgbaToTensor(value, 'image') : checkTensor('image', value);
  if (image.shape.length !== 4 || image.shape[1] !== 3 || image.shape[0]! < 1) {
    throw new ShapeMismatchError({
      name: 'image',
      value: image.shape,
      expected: 'shape [batch, 3, height, width] (RGB, channels first)',
      fix: 'pass an RgbaImage, or a Tensor [1, 3, H, W] with values in [0, 1]',
    });
  }
  const [, , h, w] = image.shape as [number, number, number, number];
  checkSideLimit(side('width'), w * outputScale, limits);
  checkSideLimit(side('height'), h * outputScale, limits);
  checkFinite('image', image, 'replace NaN and ±Infinity in the image with values in [0, 1]');
  checkUnitRange('image', image, 'scale the image to [0, 1] (bytes / 255); [-1, 1] tensors are not accepted');
  for (const [name, size] of [
    ['image width', w],
    ['image height', h],
  ] as const) {
    if (size % rule.multiple !== 0) {
      throw new InvalidArgumentError({
        name,
        value: size,
        expected: `a multiple of ${rule.multiple} (${rule.why})`,
        fix: `resize or crop the image to ${nearestMultiples(size, rule)} pixels`,
      });
    }
  }
  return image;
}

function checkMask(value: unknown, image: { readonly shape: readonly number[] }): Tensor {
  const mask = isRgbaImage(value) ? rgbaToMask(value) : checkTensor('maskImage', value);
  if (mask.shape.length !== 4 || mask.shape[1] !== 1) {
    throw new ShapeMismatchError({
      name: 'maskImage',
      value: mask.shape,
      expected: 'shape [batch, 1, height, width]',
      fix: 'pass an RgbaImage, or a single-channel Tensor [1, 1, H, W] with values in [0, 1]',
    });
  }
  const [ib, , ih, iw] = image.shape as [number, number, number, number];
  const [mb, , mh, mw] = mask.shape as [number, number, number, number];
  if (mh !== ih || mw !== iw) {
    throw new ShapeMismatchError({
      name: 'maskImage size (width×height)',
      value: [mw, mh],
      expected: `${iw}×${ih}, the size of image`,
      fix: 'resize the mask to the size of the image',
    });
  }
  if (mb !== 1 && mb !== ib) {
    throw new ShapeMismatchError({
      name: 'maskImage batch',
      value: mb,
      expected: `1 or ${ib} (the batch of image)`,
      fix: 'pass one mask for all images, or one per image',
    });
  }
  checkFinite('maskImage', mask, 'replace NaN and ±Infinity in the mask with values in [0, 1]');
  checkUnitRange('maskImage', mask, 'scale the mask to [0, 1] (1 = repaint)');
  return mask;
}

/** The number of images of one call must be at most `limits.maxImagesPerCall`. */
export function checkImageCount(name: string, count: number, limits: PipelineLimits): void {
  if (count > limits.maxImagesPerCall) {
    throw new LimitExceededError({
      name,
      value: count,
      expected: `at most ${limits.maxImagesPerCall} images per call (limits.maxImagesPerCall)`,
      fix: `generate in several calls, or raise the limit: limits: { maxImagesPerCall: ${count} } (pipeline constructor or fromPretrained option, or pipe.limits)`,
    });
  }
}

/** images × width × height must be within `limits.maxPixelsPerCall`, a stand-in for activation memory. */
export function checkPixelBudget(
  images: number,
  width: number,
  height: number,
  limits: PipelineLimits,
): void {
  const pixels = images * width * height;
  if (pixels > limits.maxPixelsPerCall) {
    throw new LimitExceededError({
      name: `pixels per call (${images} image(s) × ${width} × ${height})`,
      value: pixels,
      expected: `at most ${limits.maxPixelsPerCall} pixels per call (limits.maxPixelsPerCall, an estimate of the activation memory the machine can hold)`,
      fix: `make fewer or smaller images per call, or, with the memory to spare, raise the limit: limits: { maxPixelsPerCall: ${pixels} } (pipeline constructor or fromPretrained option, or pipe.limits)`,
    });
  }
}

/**
 * The checks every pipeline's `generate()` shares, in order: the options object and its keys, outputType,
 * steps, guidance, clipSkip, images per prompt, η, prompts and conditioning, seed and generators. Each
 * problem is a typed error naming the value, what was expected, and the fix.
 */
export function validateCommonOptions(
  options: CommonGenerateOptions,
  parts: ValidationParts,
  spec: CallSpec,
): CommonOptions {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidArgumentError({ name: 'options', value: options, expected: 'an options object' });
  }
  checkKnownKeys('generate() options', options, spec.keys);
  const { promptEncoder } = parts;
  const limits = resolvePipelineLimits(parts.limits);

  const outputType = options.outputType ?? 'image';
  if (!OUTPUT_TYPES.includes(outputType)) {
    throw new InvalidArgumentError({
      name: 'outputType',
      value: outputType,
      expected: `one of ${OUTPUT_TYPES.map((t) => `'${t}'`).join(', ')}`,
      fix: "use 'image' for RgbaImage[], 'tensor' for a [0, 1] Tensor, 'latent' for the latents",
    });
  }

  const numInferenceSteps = checkPositiveInteger(
    'numInferenceSteps',
    options.numInferenceSteps ?? spec.defaultSteps,
    'use a whole number of steps such as 20 or 50',
  );
  const guidanceScale = options.guidanceScale ?? spec.defaultGuidance;
  if (!isFiniteNumber(guidanceScale) || Math.abs(guidanceScale) > MAX_GUIDANCE_SCALE) {
    throw new InvalidArgumentError({
      name: 'guidanceScale',
      value: guidanceScale,
      expected: `a finite number in [-${MAX_GUIDANCE_SCALE}, ${MAX_GUIDANCE_SCALE}] (guidance runs when it is > 1)`,
      fix: 'use e.g. 7.5 (1–30 is the useful range), or 1 to turn guidance off',
    });
  }
  const guidanceRescale = options.guidanceRescale ?? 0;
  if (!isFiniteNumber(guidanceRescale) || guidanceRescale < 0 || guidanceRescale > 1) {
    throw new InvalidArgumentError({
      name: 'guidanceRescale',
      value: guidanceRescale,
      expected: 'a number in [0, 1]',
      fix: 'use 0 (off) or e.g. 0.7',
    });
  }
  if (options.clipSkip !== undefined) {
    checkPositiveInteger('clipSkip', options.clipSkip, 'use 1 (no skip) or 2 (skip the last layer)');
  }
  const numImagesPerPrompt = checkPositiveInteger(
    'numImagesPerPrompt',
    options.numImagesPerPrompt ?? 1,
    'use 1 or more images per prompt',
  );
  checkImageCount('numImagesPerPrompt', numImagesPerPrompt, limits);
  const eta = options.eta ?? 0;
  if (!isFiniteNumber(eta) || eta < 0 || eta > 1) {
    // DDIM's variance term is √(1 − ᾱₜ₋₁ − σₜ²) with σₜ = η·…: η > 1 can make it the root of a negative.
    throw new InvalidArgumentError({
      name: 'eta',
      value: eta,
      expected: 'a number in [0, 1]',
      fix: 'use 0 (deterministic DDIM) to 1 (DDPM-like)',
    });
  }
  const doClassifierFreeGuidance = guidanceScale > 1;

  // --- prompts and conditioning ---
  if (options.prompt !== undefined && options.promptEmbeds !== undefined) {
    throw new InvalidArgumentError({
      name: 'prompt',
      value: options.prompt,
      expected: 'either prompt or promptEmbeds, not both',
      fix: 'drop prompt to use promptEmbeds, or drop promptEmbeds',
    });
  }
  if (options.prompt === undefined && options.promptEmbeds === undefined) {
    throw new InvalidArgumentError({
      name: 'prompt',
      value: undefined,
      expected: 'a prompt or promptEmbeds',
      fix: 'pass prompt: "…" (with a promptEncoder) or promptEmbeds: { encoderHiddenStates }',
    });
  }
  if (options.negativePrompt !== undefined && options.negativePromptEmbeds !== undefined) {
    throw new InvalidArgumentError({
      name: 'negativePrompt',
      value: options.negativePrompt,
      expected: 'either negativePrompt or negativePromptEmbeds, not both',
      fix: 'drop one of them',
    });
  }
  const noEncoderFix =
    'construct the pipeline with a promptEncoder, or pass promptEmbeds and negativePromptEmbeds';
  let prompts: string[] | undefined;
  let batchSize: number;
  if (options.prompt !== undefined) {
    prompts = toPromptList('prompt', options.prompt);
    batchSize = prompts.length;
    if (!promptEncoder) {
      throw new InvalidArgumentError({
        name: 'prompt',
        value: options.prompt,
        expected: 'a pipeline with a promptEncoder to encode text',
        fix: noEncoderFix,
      });
    }
  } else {
    batchSize = checkConditioning('promptEmbeds', options.promptEmbeds!);
  }
  if (options.negativePromptEmbeds !== undefined) {
    checkConditioning('negativePromptEmbeds', options.negativePromptEmbeds);
    if (options.promptEmbeds) checkNegativeMatches(options.promptEmbeds, options.negativePromptEmbeds);
    else if (options.negativePromptEmbeds.encoderHiddenStates.shape[0] !== batchSize) {
      throw new ShapeMismatchError({
        name: 'negativePromptEmbeds batch',
        value: options.negativePromptEmbeds.encoderHiddenStates.shape[0],
        expected: `${batchSize}, the number of prompts`,
        fix: 'give one negative row per prompt',
      });
    }
  }
  let negativePrompts: string[] | undefined;
  const zeroNegative =
    doClassifierFreeGuidance &&
    spec.zeroNegative === true &&
    options.negativePrompt === undefined &&
    options.negativePromptEmbeds === undefined;
  if (zeroNegative) {
    // SDXL force_zeros_for_empty_prompt: zeros, nothing to encode.
  } else if (doClassifierFreeGuidance && options.negativePromptEmbeds === undefined) {
    const given = options.negativePrompt ?? '';
    const list = toPromptList('negativePrompt', given);
    if (typeof given === 'string') negativePrompts = Array.from({ length: batchSize }, () => given);
    else if (list.length !== batchSize) {
      throw new InvalidArgumentError({
        name: 'negativePrompt length',
        value: list.length,
        expected: `${batchSize}, the number of prompts`,
        fix: 'pass one negative prompt per prompt, or a single string for all',
      });
    } else negativePrompts = list;
    if (!promptEncoder) {
      throw new InvalidArgumentError({
        name: 'negativePromptEmbeds',
        value: undefined,
        expected: `negative conditioning for guidance (guidanceScale ${guidanceScale} > 1): negativePromptEmbeds, or a promptEncoder to encode ${JSON.stringify(negativePrompts[0])}`,
        fix: 'pass negativePromptEmbeds, construct the pipeline with a promptEncoder, or set guidanceScale to 1',
      });
    }
  } else if (options.negativePrompt !== undefined && Array.isArray(options.negativePrompt)) {
    // diffusers checks the count even when guidance is off.
    const list = toPromptList('negativePrompt', options.negativePrompt);
    if (list.length !== batchSize) {
      throw new InvalidArgumentError({
        name: 'negativePrompt length',
        value: list.length,
        expected: `${batchSize}, the number of prompts`,
        fix: 'pass one negative prompt per prompt, or a single string for all',
      });
    }
  }
  const totalImages = batchSize * numImagesPerPrompt;
  checkImageCount(
    `images per call (${batchSize} prompt(s) × numImagesPerPrompt ${numImagesPerPrompt})`,
    totalImages,
    limits,
  );

  // --- randomness ---
  if (options.seed !== undefined && options.generator !== undefined) {
    throw new InvalidArgumentError({
      name: 'seed',
      value: options.seed,
      expected: 'either seed or generator, not both',
      fix: 'drop seed, or drop generator',
    });
  }
  if (options.seed !== undefined && typeof options.seed !== 'number' && typeof options.seed !== 'bigint') {
    throw new InvalidArgumentError({
      name: 'seed',
      value: options.seed,
      expected: 'an integer number or bigint',
    });
  }
  let generator: Generator | undefined;
  let generators: Generator[] | undefined;
  if (Array.isArray(options.generator)) {
    if (options.generator.length !== totalImages) {
      throw new InvalidArgumentError({
        name: 'generator length',
        value: options.generator.length,
        expected: `${totalImages} generators, one per image (${batchSize} prompt(s) × numImagesPerPrompt ${numImagesPerPrompt})`,
        fix: `pass ${totalImages} generators, or a single generator`,
      });
    }
    options.generator.forEach((g, i) => {
      if (typeof g?.randn !== 'function') {
        throw new InvalidArgumentError({
          name: `generator[${i}]`,
          value: g,
          expected: 'a Generator (randn, rand)',
        });
      }
    });
    generators = [...options.generator];
  } else if (options.generator !== undefined) {
    if (typeof options.generator?.randn !== 'function') {
      throw new InvalidArgumentError({
        name: 'generator',
        value: options.generator,
        expected: 'a Generator (randn, rand)',
      });
    }
    generator = options.generator;
  }

  const out: CommonOptions = {
    batchSize,
    numImagesPerPrompt,
    totalImages,
    numInferenceSteps,
    guidanceScale,
    guidanceRescale,
    doClassifierFreeGuidance,
    eta,
    outputType,
    limits,
  };
  if (prompts) out.prompts = prompts;
  if (negativePrompts) out.negativePrompts = negativePrompts;
  if (zeroNegative) out.zeroNegative = true;
  if (options.promptEmbeds) out.promptEmbeds = options.promptEmbeds;
  if (options.negativePromptEmbeds && doClassifierFreeGuidance)
    out.negativePromptEmbeds = options.negativePromptEmbeds;
  if (options.clipSkip !== undefined) out.clipSkip = options.clipSkip;
  if (options.seed !== undefined) out.seed = options.seed;
  if (generator) out.generator = generator;
  if (generators) out.generators = generators;
  if (options.onStep) out.onStep = options.onStep;
  if (options.signal) out.signal = options.signal;
  return out;
}

/** `onStep`, when given, must be a function. */
export function checkOnStep(onStep: unknown): void {
  if (onStep !== undefined && typeof onStep !== 'function') {
    throw new InvalidArgumentError({ name: 'onStep', value: onStep, expected: 'a function' });
  }
}

/**
 * Checks every option of a `generate` call against the pipeline's parts before any work, applies the
 * defaults, and normalises inputs. Each problem is a typed error naming the value, what was expected,
 * and the fix.
 *
 * @param keys - The accepted option names (a pipeline that adds options, as the GLIGEN one, passes its own).
 */
export function validateGenerateOptions(
  options: GenerateOptions,
  parts: ValidationParts,
  keysOrSpec: readonly string[] | Partial<GenerateSpec> = GENERATE_OPTION_KEYS,
): ValidatedOptions {
  const spec: GenerateSpec = Array.isArray(keysOrSpec)
    ? { ...SD_GENERATE_SPEC, keys: keysOrSpec as readonly string[] }
    : { ...SD_GENERATE_SPEC, keys: GENERATE_OPTION_KEYS, ...(keysOrSpec as Partial<GenerateSpec>) };
  const common = validateCommonOptions(options, parts, {
    keys: spec.keys,
    defaultSteps: 50,
    defaultGuidance: spec.defaultGuidance,
    zeroNegative: spec.zeroNegative,
  });
  const { denoiser, codec } = parts;
  const { limits, batchSize, totalImages, numInferenceSteps } = common;
  const rule = sizeRule(codec, denoiser, limits);
  const downscale = codec.downscale;
  const latentChannels = codec.latentChannels;

  // --- image, mask, mode ---
  let image: Tensor | undefined;
  let imageLatents: Tensor | undefined;
  let mask: Tensor | undefined;
  if (
    spec.latentImage &&
    options.image instanceof Tensor &&
    options.image.shape.length === 4 &&
    options.image.shape[1] === latentChannels &&
    latentChannels !== 3
  ) {
    imageLatents = checkImageLatents(options.image, rule, downscale, limits, totalImages);
  } else if (options.image !== undefined) {
    requireEncode(codec);
    image = checkImage(options.image, rule, limits, totalImages);
  }
  // The pixel image, or (latents) a stand-in of the output size for the mask and size checks.
  const sized = image ?? (imageLatents ? latentsSizeImage(imageLatents, downscale) : undefined);
  if (options.maskImage !== undefined) {
    if (!sized) {
      throw new InvalidArgumentError({
        name: 'maskImage',
        value: options.maskImage,
        expected: 'an image to inpaint together with the mask',
        fix: 'pass image: the picture to inpaint, or drop maskImage',
      });
    }
    mask = checkMask(options.maskImage, sized);
  }
  const mode: GenerationMode = mask ? 'inpaint' : sized ? 'img2img' : 'txt2img';
  if (sized) {
    const ib = sized.shape[0]!;
    if (ib !== 1 && ib !== batchSize && ib !== totalImages) {
      throw new ShapeMismatchError({
        name: 'image batch',
        value: ib,
        expected: `1, ${batchSize} (one per prompt) or ${totalImages} (one per image)`,
        fix: 'pass one image for all prompts, or one per prompt',
      });
    }
  }

  if (options.strength !== undefined && !sized) {
    throw new InvalidArgumentError({
      name: 'strength',
      value: options.strength,
      expected: 'an image to transform (strength applies to img2img and inpainting only)',
      fix: 'pass image, or drop strength',
    });
  }
  const strength = options.strength ?? (mode === 'inpaint' ? spec.inpaintStrength : spec.img2imgStrength);
  if (!isFiniteNumber(strength) || strength < 0 || strength > 1) {
    throw new InvalidArgumentError({
      name: 'strength',
      value: strength,
      expected: 'a number in [0, 1]',
      fix: 'use e.g. 0.8 (1 = ignore the image, 0 = keep it)',
    });
  }
  if (sized && Math.min(Math.floor(numInferenceSteps * strength), numInferenceSteps) < 1) {
    throw zeroStepsError(numInferenceSteps, strength);
  }

  // --- size ---
  const defaultSize = denoiser.sampleSize !== undefined ? denoiser.sampleSize * downscale : 512;
  const width = options.width ?? (sized ? sized.shape[3]! : defaultSize);
  const height = options.height ?? (sized ? sized.shape[2]! : defaultSize);
  for (const [name, value] of [
    ['width', width],
    ['height', height],
  ] as const) {
    if (typeof value === 'number' && Number.isInteger(value)) checkSideLimit(name, value, limits);
    if (
      typeof value !== 'number' ||
      !Number.isInteger(value) ||
      value < rule.multiple ||
      value % rule.multiple !== 0
    ) {
      throw new InvalidArgumentError({
        name,
        value,
        expected: `a positive multiple of ${rule.multiple} (${rule.why})`,
        fix:
          typeof value === 'number' && value > 0
            ? `use ${nearestMultiples(value, rule)}`
            : `use e.g. ${Math.max(rule.multiple, Math.round(512 / rule.multiple) * rule.multiple)}`,
      });
    }
  }
  checkPixelBudget(totalImages, width, height, limits);
  if (sized && (width !== sized.shape[3] || height !== sized.shape[2])) {
    throw new ShapeMismatchError({
      name: 'width×height',
      value: [width, height],
      expected: `${sized.shape[3]}×${sized.shape[2]}, the size of image${imageLatents ? ` (latents × ${downscale})` : ''} (the pipeline does not resize)`,
      fix: 'drop width and height, or resize the image first',
    });
  }
  const latentWidth = width / downscale;
  const latentHeight = height / downscale;

  // --- denoiser channels vs mode ---
  const inpaintChannels = 2 * latentChannels + 1;
  if (!mask && denoiser.inChannels !== latentChannels) {
    const isInpaint = denoiser.inChannels === inpaintChannels;
    throw new InvalidArgumentError({
      name: 'denoiser.inChannels',
      value: denoiser.inChannels,
      expected: `${latentChannels} (the codec's latent channels) for ${mode}`,
      fix: isInpaint
        ? `this is a ${inpaintChannels}-channel inpainting UNet: pass image and maskImage, or use a text-to-image UNet`
        : 'use a denoiser that matches the codec',
    });
  }
  if (mask && denoiser.inChannels !== latentChannels && denoiser.inChannels !== inpaintChannels) {
    throw new InvalidArgumentError({
      name: 'denoiser.inChannels',
      value: denoiser.inChannels,
      expected: `${latentChannels} (blending) or ${inpaintChannels} (inpainting UNet) for inpainting`,
      fix: 'use a text-to-image or an inpainting UNet that matches the codec',
    });
  }

  // --- latents ---
  let latents: Tensor | undefined;
  if (options.latents !== undefined) {
    if (mode === 'img2img') {
      throw new InvalidArgumentError({
        name: 'latents',
        value: options.latents,
        expected: 'no latents for img2img (its start latents come from the image and strength)',
        fix: 'drop latents, or drop image for text-to-image',
      });
    }
    latents = checkTensor('latents', options.latents);
    const expected = [totalImages, latentChannels, latentHeight, latentWidth];
    if (latents.shape.join() !== expected.join()) {
      throw new ShapeMismatchError({
        name: 'latents',
        value: latents.shape,
        expected: `shape [${expected.join(', ')}] (images, latent channels, height/${downscale}, width/${downscale})`,
        fix: 'draw latents of that shape, or match width, height and numImagesPerPrompt to them',
      });
    }
    checkFinite(
      'latents',
      latents,
      'draw the latents again (e.g. with a TorchGenerator); they must be finite',
    );
  }

  checkOnStep(options.onStep);

  const out: ValidatedOptions = {
    ...common,
    mode,
    width,
    height,
    latentWidth,
    latentHeight,
    strength,
  };
  if (latents) out.latents = latents;
  if (image) out.image = image;
  if (imageLatents) out.imageLatents = imageLatents;
  if (mask) out.mask = mask;
  return out;
}

/**
 * Checks `image` given as latents `[B, latentChannels, h, w]` (SDXL's refiner hand-off): the output size
 * it implies (h, w × downscale) within the limits and a multiple of the size rule, finite values.
 */
function checkImageLatents(
  latents: Tensor,
  rule: SizeRule,
  downscale: number,
  limits: PipelineLimits,
  totalImages: number,
): Tensor {
  const [b, , h, w] = latents.shape as [number, number, number, number];
  if (b < 1 || h < 1 || w < 1) {
    throw new ShapeMismatchError({
      name: 'image (latents)',
      value: latents.shape,
      expected: 'shape [batch ≥ 1, latentChannels, height ≥ 1, width ≥ 1]',
      fix: "pass the base pipeline's outputType: 'latent' result as image",
    });
  }
  checkSideLimit(`image width (latents width ${w} × ${downscale})`, w * downscale, limits);
  checkSideLimit(`image height (latents height ${h} × ${downscale})`, h * downscale, limits);
  checkPixelBudget(totalImages, w * downscale, h * downscale, limits);
  for (const [name, size] of [
    ['width', w],
    ['height', h],
  ] as const) {
    if ((size * downscale) % rule.multiple !== 0) {
      throw new InvalidArgumentError({
        name: `image (latents) ${name}`,
        value: size,
        expected: `a multiple of ${rule.multiple / downscale} latent pixels (${rule.multiple} image pixels: ${rule.why})`,
        fix: 'generate the latents at a size the denoiser accepts, e.g. with the base pipeline at the same width and height',
      });
    }
  }
  checkFinite(
    'image (latents)',
    latents,
    'pass finite latents (the base pipeline stops with NonFiniteOutputError before it returns NaN)',
  );
  return latents;
}

/** An empty `[B, 3, h·downscale, w·downscale]` stand-in: the image size that latents `[B, C, h, w]` imply. */
function latentsSizeImage(latents: Tensor, downscale: number): { shape: readonly number[] } {
  const [b, , h, w] = latents.shape as [number, number, number, number];
  return { shape: [b, 3, h * downscale, w * downscale] };
}
