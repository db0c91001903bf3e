import type { RgbaImage } from '../image/rgba-image.js';
import type { Conditioning } from '../interfaces/conditioning.js';
import type { Generator } from '../random/generator.js';
import type { Tensor } from '../tensor.js';

/**
 * What {@link StableDiffusionPipeline.generate} returns in `images`:
 * - `'image'` (default): `RgbaImage[]`, one per generated image, bytes `round(x · 255)`.
 * - `'tensor'`: a `Tensor` `[N, 3, H, W]` with values in [0, 1] (diffusers' `output_type="pt"`).
 * - `'latent'`: the final latents `[N, 4, H/8, W/8]` in diffusion space, not decoded and not divided by
 *   the VAE scaling factor (diffusers' `output_type="latent"`).
 */
export type OutputType = 'image' | 'tensor' | 'latent';

/** The type of `images` for an {@link OutputType}: `RgbaImage[]` for `'image'`, a `Tensor` otherwise. */
export type GeneratedImages<O extends OutputType> = O extends 'image' ? RgbaImage[] : Tensor;

/** What one generated image was made with, beyond the settings shared by the whole call. */
export interface ImageParameters {
  /** The prompt of this image; undefined when the call passed `promptEmbeds`. */
  prompt?: string;
  /** The negative prompt of this image (`''` by default under guidance); undefined with embeddings or without guidance. */
  negativePrompt?: string;
  /** SDXL: the second text encoder's prompt (`prompt2`), when it differs from `prompt`. */
  prompt2?: string;
  /** SDXL: the second text encoder's negative prompt (`negativePrompt2`), when it differs from `negativePrompt`. */
  negativePrompt2?: string;
  /**
   * The seed of the generator that made this image: the call's `seed` (or the random seed chosen for it),
   * or the initial seed of this image's `TorchGenerator`; undefined for other generators.
   */
  seed?: number | bigint;
  /**
   * The image's position among the images drawn from the same generator (0 with one generator per image):
   * the same seed and batch index give the same image again.
   */
  batchIndex: number;
}

/** The layout a GLIGEN call used: the objects and the scheduled-sampling beta. */
export interface ResolvedLayout {
  /** The phrases, in object order; undefined when the call passed phrase embeddings. */
  phrases?: string[];
  /** The boxes `[x0, y0, x1, y1]` (fractions, origin top left), in object order. */
  boxes: [number, number, number, number][];
  /** `gligenScheduledSamplingBeta` as resolved. */
  scheduledSamplingBeta: number;
}

/** What an SDXL call resolved (StableDiffusionXLPipeline only): micro-conditioning and the schedule fractions. */
export interface ResolvedSdxlParameters {
  /** `[height, width]`, default the output size. */
  originalSize: [number, number];
  /** `[top, left]`, default `[0, 0]`. */
  cropsCoordsTopLeft: [number, number];
  /** `[height, width]`, default the output size (not used by the refiner's time ids). */
  targetSize: [number, number];
  /** As given. */
  negativeOriginalSize?: [number, number];
  /** As given. */
  negativeCropsCoordsTopLeft?: [number, number];
  /** As given. */
  negativeTargetSize?: [number, number];
  /** The refiner's aesthetic score (`requiresAestheticsScore` img2img / inpainting only). */
  aestheticScore?: number;
  /** The refiner's negative aesthetic score (`requiresAestheticsScore` img2img / inpainting only). */
  negativeAestheticScore?: number;
  /** The positive and negative time-id rows the denoiser received (5 or 6 values each). */
  timeIds: { positive: number[]; negative: number[] };
  /** `denoisingEnd`, when given. */
  denoisingEnd?: number;
  /** `denoisingStart`, when given. */
  denoisingStart?: number;
}

/** The settings a call resolved (defaults filled in): enough to write A1111 parameters or repeat the call. */
export interface ResolvedParameters {
  /** `txt2img`, `img2img` or `inpaint` (StableDiffusionPipeline), or `upscale` (StableDiffusionUpscalePipeline). */
  mode: 'txt2img' | 'img2img' | 'inpaint' | 'upscale';
  /** Output width in pixels. */
  width: number;
  /** Output height in pixels. */
  height: number;
  /** `numInferenceSteps` as resolved. */
  numInferenceSteps: number;
  /** `guidanceScale` as resolved. */
  guidanceScale: number;
  /** `guidanceRescale` as resolved. */
  guidanceRescale: number;
  /** DDIM's η as resolved. */
  eta: number;
  /** img2img / inpainting strength; undefined for txt2img. */
  strength?: number;
  /** `clipSkip`, when given. */
  clipSkip?: number;
  /** The x4 upscaler's noise level (`upscale` only). */
  noiseLevel?: number;
  /** The layout of a layout-to-image call (StableDiffusionGLIGENPipeline only). */
  layout?: ResolvedLayout;
  /** SDXL's micro-conditioning and schedule fractions (StableDiffusionXLPipeline only). */
  sdxl?: ResolvedSdxlParameters;
  /** The scheduler's diffusers class name (`config._class_name`, e.g. `DDIMScheduler`). */
  scheduler: string;
  /** The scheduler's config as used (snake_case keys), to tell e.g. Karras sigmas apart. */
  schedulerConfig: Readonly<Record<string, unknown>>;
  /** One entry per generated image, in the order of `images`. */
  images: ImageParameters[];
}

/** The result of {@link StableDiffusionPipeline.generate}. */
export interface GenerateResult<O extends OutputType = 'image'> {
  /** The images, typed by `outputType`: see {@link OutputType}. */
  images: GeneratedImages<O>;
  /** The resolved settings of the call, and each image's prompt and seed. */
  parameters: ResolvedParameters;
}

/** What {@link GenerateOptions.onStep} receives after each scheduler step. */
export interface StepInfo {
  /** 0-based index of the step just completed (diffusers' `callback_on_step_end` `step`). */
  step: number;
  /** Number of steps this call runs: the timesteps looped over (fewer than `numInferenceSteps` for img2img). */
  totalSteps: number;
  /** The timestep of the step just completed, as the scheduler holds it. */
  timestep: number;
  /** The latents after the step `[N, 4, h, w]`. Read them; do not modify them. */
  latents: Tensor;
}

/**
 * Options of {@link StableDiffusionPipeline.generate}. Names and defaults follow diffusers'
 * `StableDiffusionPipeline.__call__` (camelCase). Give a `prompt` or `promptEmbeds`; add `image` for
 * img2img, and `image` + `maskImage` for inpainting.
 */
export interface GenerateOptions {
  /**
   * The prompt, or one prompt per batch item. Encoded by the pipeline's `promptEncoder`.
   * Give either this or `promptEmbeds`, not both. A1111's `<lora:name:weight>` tags (here and in
   * `negativePrompt`) set loaded LoRA adapters' weights for this call and are not encoded
   * (docs/lora-and-embeddings.md).
   */
  prompt?: string | string[];
  /**
   * What to guide away from, used only when `guidanceScale > 1`: one string for every prompt, or one per
   * prompt. Default: the empty prompt `""` (as diffusers). Not together with `negativePromptEmbeds`.
   */
  negativePrompt?: string | string[];
  /** Precomputed conditioning `[B, tokens, D]` (one row per prompt) instead of `prompt`. */
  promptEmbeds?: Conditioning;
  /**
   * Precomputed negative conditioning; must have exactly the shape of the positive conditioning.
   * Used only when `guidanceScale > 1`. Without it (and without `negativePrompt`) the pipeline encodes `""`,
   * which needs a `promptEncoder`.
   */
  negativePromptEmbeds?: Conditioning;
  /**
   * A1111's "clip skip": take the text encoder's hidden states N−1 layers before the last (1 = no skip,
   * 2 = the usual "clip skip 2"). Passed to `promptEncoder.encode`; ignored with `promptEmbeds`.
   */
  clipSkip?: number;
  /**
   * Output width in pixels, a multiple of `codec.downscale`. Default: the width of `image` when given,
   * else `denoiser.sampleSize · codec.downscale`, else 512.
   */
  width?: number;
  /** Output height in pixels, a multiple of `codec.downscale`. Default: as `width`. */
  height?: number;
  /** Denoising steps of the schedule (img2img runs the last `floor(steps · strength)` of them). Default 50. */
  numInferenceSteps?: number;
  /** Classifier-free guidance scale; guidance runs only when it is > 1. Default 7.5. */
  guidanceScale?: number;
  /**
   * Guidance rescale φ in [0, 1] ("Common Diffusion Noise Schedules and Sample Steps are Flawed", §3.4);
   * applies only under guidance. Default 0 (off).
   */
  guidanceRescale?: number;
  /** Images per prompt; each prompt's conditioning is repeated in a row (repeat-interleave). Default 1. */
  numImagesPerPrompt?: number;
  /** DDIM's η, passed to `scheduler.step` (schedulers without η ignore it). Default 0. */
  eta?: number;
  /**
   * Seed of a fresh `TorchGenerator`: the same seed gives the numbers diffusers gives with
   * `torch.Generator().manual_seed(seed)`. Not together with `generator`. Default: a random seed.
   */
  seed?: number | bigint;
  /**
   * The random source, or one per generated image (length `prompts · numImagesPerPrompt`): with a list,
   * image i's initial latents, VAE sampling and per-step scheduler noise come from generator i, as
   * diffusers' `randn_tensor` does with a list of generators.
   */
  generator?: Generator | Generator[];
  /**
   * Initial noise `[N, latentChannels, H/downscale, W/downscale]` instead of drawing it; multiplied by
   * `scheduler.initNoiseSigma` as diffusers does. Text-to-image and inpainting only.
   */
  latents?: Tensor;
  /**
   * The init image for img2img / inpainting: a `Tensor` `[B, 3, H, W]` with values in [0, 1], or an
   * `RgbaImage` (alpha ignored). B is 1, the number of prompts, or the number of images. Its size is the
   * output size; it must be a multiple of `codec.downscale` (the pipeline does not resize).
   */
  image?: Tensor | RgbaImage;
  /**
   * How much to transform `image`, in [0, 1]: the pipeline runs `floor(numInferenceSteps · strength)` steps
   * from the matching noise level. Only with `image`. Default 0.8 (img2img) and 1 (inpainting), as diffusers.
   */
  strength?: number;
  /**
   * The inpainting mask (white = repaint, black = keep), the size of `image`: a `Tensor` `[B, 1, H, W]`
   * with values in [0, 1], or an `RgbaImage` whose luminance is used (PIL's `convert("L")`:
   * `(19595·R + 38470·G + 7471·B + 32768) >> 16`). Binarised at 0.5. Needs `image`.
   */
  maskImage?: Tensor | RgbaImage;
  /** Called (and awaited) after each scheduler step. */
  onStep?: (info: StepInfo) => void | Promise<void>;
  /**
   * Cancels the call: checked before every denoiser call and before decoding; the promise then rejects
   * with `signal.reason`.
   */
  signal?: AbortSignal;
  /** The form of `images`: see {@link OutputType}. Default `'image'`. */
  outputType?: OutputType;
}
