import type {
  GeneratedImages,
  GenerateOptions,
  OutputType,
  ResolvedParameters,
  StepInfo,
} from '../pipeline/generate-options.js';

/**
 * How the first pass's result is enlarged before the hires pass:
 * - `'latent'` (A1111's "Latent", its default): the latents are resized with bilinear interpolation
 *   (`torch.nn.functional.interpolate(mode="bilinear", antialias=False)`), then decoded to the image the
 *   hires pass starts from (see the docs: the pipeline's img2img takes pixels, so they are encoded again);
 * - `'pixel'` (A1111's "Lanczos"): the first pass's image (8-bit) is resized with Pillow's Lanczos.
 */
export type HiresUpscaler = 'latent' | 'pixel';

/** The hires upscalers {@link hiresFix} knows. */
export const HIRES_UPSCALERS: readonly HiresUpscaler[] = Object.freeze(['latent', 'pixel']);

/** A1111's name for each upscaler, as written after `Hires upscaler:`. */
export const HIRES_UPSCALER_NAMES: Readonly<Record<HiresUpscaler, string>> = Object.freeze({
  latent: 'Latent',
  pixel: 'Lanczos',
});

/** The A1111 default hires denoising strength (its txt2img "Denoising strength" slider). */
export const DEFAULT_HIRES_STRENGTH = 0.7;

/** The A1111 default "Upscale by". */
export const DEFAULT_HIRES_SCALE = 2;

/** What {@link HiresFixOptions.onStep} receives: the pipeline's step info and which pass it is. */
export interface HiresStepInfo extends StepInfo {
  /** `'base'` for the first (txt2img) pass, `'hires'` for the img2img pass at the larger size. */
  pass: 'base' | 'hires';
}

/**
 * Options of {@link hiresFix}: `generate()`'s text-to-image options (the first pass; the hires pass uses
 * the same prompts, guidance and seed), and the hires settings. A call gives the images two
 * `generate()` calls made by hand give: see {@link hiresFix}.
 */
export interface HiresFixOptions
  extends Pick<
    GenerateOptions,
    | 'prompt'
    | 'negativePrompt'
    | 'promptEmbeds'
    | 'negativePromptEmbeds'
    | 'clipSkip'
    | 'width'
    | 'height'
    | 'numInferenceSteps'
    | 'guidanceScale'
    | 'guidanceRescale'
    | 'numImagesPerPrompt'
    | 'eta'
    | 'signal'
    | 'outputType'
  > {
  /**
   * The seed of both passes (each starts a fresh `TorchGenerator` from it, as A1111 draws the hires
   * pass's noise from the image's seed again). Default: a random seed, reported in `parameters`.
   */
  seed?: number | bigint;
  /**
   * "Upscale by": the hires size is the first pass's size × this, rounded to the nearest size the model
   * runs (a multiple of `codec.downscale × denoiser.sizeMultiple`). At least 1. Default 2.
   */
  hiresScale?: number;
  /** The hires pass's denoising strength, in (0, 1]. Default 0.7 (A1111's). */
  hiresStrength?: number;
  /**
   * Steps the hires pass runs (A1111's "Hires steps"). Default: `numInferenceSteps`, as A1111 (0 there).
   * The pass's schedule has `numInferenceSteps` = the smallest N with `floor(N · hiresStrength)` =
   * `hiresSteps` (A1111: `int(hiresSteps / strength)`, within one).
   */
  hiresSteps?: number;
  /** How the first pass is enlarged: see {@link HiresUpscaler}. Default `'latent'`. */
  hiresUpscaler?: HiresUpscaler;
  /** Called (and awaited) after each step of either pass. */
  onStep?: (info: HiresStepInfo) => void | Promise<void>;
}

/** The hires settings a {@link hiresFix} call resolved. */
export interface HiresParameters {
  /** "Upscale by", as given (A1111's `Hires upscale`). */
  scale: number;
  /** The upscaler. */
  upscaler: HiresUpscaler;
  /** A1111's name of the upscaler (`Latent`, `Lanczos`), written as `Hires upscaler`. */
  upscalerName: string;
  /** Steps the hires pass ran (A1111's `Hires steps`). */
  steps: number;
  /** The hires pass's denoising strength. */
  strength: number;
  /** The hires pass's schedule length (`numInferenceSteps` of its img2img call). */
  numInferenceSteps: number;
  /** Output width in pixels. */
  width: number;
  /** Output height in pixels. */
  height: number;
}

/**
 * A {@link hiresFix} call's settings, as A1111 writes a hires-fixed image: the first pass's resolved
 * parameters (its size is the `Size:` A1111 writes, its steps the `Steps:`), `strength` = the hires
 * denoising strength (`Denoising strength:`), and the hires settings.
 */
export interface HiresFixParameters extends ResolvedParameters {
  /** The hires pass's denoising strength. */
  strength: number;
  /** The hires settings; `hires.width × hires.height` is the size of the images. */
  hires: HiresParameters;
  /** The hires pass's own resolved parameters (img2img at the hires size), to repeat it by hand. */
  hiresPass: ResolvedParameters;
}

/** The result of {@link hiresFix}. */
export interface HiresFixResult<O extends OutputType = 'image'> {
  /** The hires pass's output, typed by `outputType` as `generate()`'s. */
  images: GeneratedImages<O>;
  /** The settings of both passes. */
  parameters: HiresFixParameters;
}
