import type { RgbaImage } from '../image/rgba-image.js';
import type { Conditioning } from '../interfaces/conditioning.js';
import type { Generator } from '../random/generator.js';
import type { Tensor } from '../tensor.js';
import type { OutputType, StepInfo } from './generate-options.js';

/**
 * Options of {@link StableDiffusionUpscalePipeline.generate}. Names and defaults follow diffusers'
 * `StableDiffusionUpscalePipeline.__call__` (camelCase): 75 steps, guidance 9, noise level 20.
 */
export interface UpscaleGenerateOptions {
  /** What the image shows, or one prompt per image of `image`. Give either this or `promptEmbeds`. */
  prompt?: string | string[];
  /**
   * What to guide away from, used only when `guidanceScale > 1`: one string for every prompt, or one per
   * prompt. Default `""`. Not together with `negativePromptEmbeds`.
   */
  negativePrompt?: string | string[];
  /** Precomputed conditioning `[B, tokens, D]` (one row per prompt) instead of `prompt`. */
  promptEmbeds?: Conditioning;
  /** Precomputed negative conditioning, the shape of `promptEmbeds`; used only under guidance. */
  negativePromptEmbeds?: Conditioning;
  /** A1111's "clip skip" (1 = no skip), passed to `promptEncoder.encode`. */
  clipSkip?: number;
  /**
   * The low-resolution image: an `RgbaImage`, or a `Tensor` `[B, 3, h, w]` with values in [0, 1] (B = the
   * number of prompts). The output is `codec.downscale` (4) times its size; h and w must be multiples of
   * `denoiser.sizeMultiple`. Required.
   */
  image: Tensor | RgbaImage;
  /**
   * How much noise the low-res scheduler adds to the image before the UNet sees it, an integer from 0 to
   * the pipeline's `maxNoiseLevel`. More noise lets the model invent more detail and follow the image
   * less. Default 20.
   */
  noiseLevel?: number;
  /** Denoising steps. Default 75. */
  numInferenceSteps?: number;
  /** Classifier-free guidance scale; guidance runs only when it is > 1. Default 9. */
  guidanceScale?: number;
  /** Images per prompt. Default 1. */
  numImagesPerPrompt?: number;
  /** DDIM's η, passed to `scheduler.step`. Default 0. */
  eta?: number;
  /** Seed of a fresh `TorchGenerator` (diffusers' `torch.Generator().manual_seed(seed)`). Not with `generator`. */
  seed?: number | bigint;
  /**
   * The random source, or one per generated image. As diffusers: the low-res noise is drawn first (image i
   * from generator i, so one image uses `generators[0]`), then the latents (item i from generator i).
   */
  generator?: Generator | Generator[];
  /** Initial noise `[N, latentChannels, h, w]` (the low-res size) instead of drawing it. */
  latents?: Tensor;
  /** Called (and awaited) after each scheduler step. */
  onStep?: (info: StepInfo) => void | Promise<void>;
  /** Cancels the call (checked before every denoiser call and before decoding). */
  signal?: AbortSignal;
  /** The form of `images`: `'image'` (default), `'tensor'` or `'latent'` (the final latents). */
  outputType?: OutputType;
}

/** One entry per key of {@link UpscaleGenerateOptions}: tsc fails here when an option is added but not listed. */
const KEYS: Record<keyof UpscaleGenerateOptions, true> = {
  prompt: true,
  negativePrompt: true,
  promptEmbeds: true,
  negativePromptEmbeds: true,
  clipSkip: true,
  image: true,
  noiseLevel: true,
  numInferenceSteps: true,
  guidanceScale: true,
  numImagesPerPrompt: true,
  eta: true,
  seed: true,
  generator: true,
  latents: true,
  onStep: true,
  signal: true,
  outputType: true,
};

/** The option names the upscaler's `generate()` accepts; any other key is rejected with a "did you mean". */
export const UPSCALE_OPTION_KEYS: readonly (keyof UpscaleGenerateOptions)[] = Object.freeze(
  Object.keys(KEYS) as (keyof UpscaleGenerateOptions)[],
);

/** diffusers' defaults of `StableDiffusionUpscalePipeline.__call__`. */
export const UPSCALE_DEFAULTS = Object.freeze({
  numInferenceSteps: 75,
  guidanceScale: 9,
  noiseLevel: 20,
  maxNoiseLevel: 350,
});
