import type {
  GeneratedImages,
  OutputType,
  ResolvedParameters,
  StepInfo,
} from '../pipeline/generate-options.js';
import type { SdxlGenerateOptions } from '../pipeline/sdxl-options.js';

/** diffusers' `high_noise_frac` of its base + refiner example: the base runs the first 80 % of the schedule. */
export const DEFAULT_HIGH_NOISE_FRAC = 0.8;

/** What {@link RefinerHandOffOptions.onStep} receives: the pipeline's step info and whose step it was. */
export interface RefinerStepInfo extends StepInfo {
  /** `'base'` while the base denoises the first `highNoiseFrac`, `'refiner'` for the rest. */
  pass: 'base' | 'refiner';
}

/**
 * Options of {@link generateWithRefiner}: the base call's {@link SdxlGenerateOptions} (text-to-image), the
 * switch `highNoiseFrac`, and the refiner's own aesthetic scores. The refiner gets the same prompts (both
 * encoders'), steps, guidance, `clipSkip`, `eta`, `numImagesPerPrompt`, seed and the original size / crop
 * micro-conditioning; `width`, `height` and `latents` are the base's (the refiner takes the size from the
 * base's latents), and the target sizes go to the refiner only when it is not a refiner model
 * (`requiresAestheticsScore: false`: diffusers allows a base as the second expert).
 */
export interface RefinerHandOffOptions
  extends Omit<
    SdxlGenerateOptions,
    | 'image'
    | 'maskImage'
    | 'strength'
    | 'denoisingEnd'
    | 'denoisingStart'
    | 'promptEmbeds'
    | 'negativePromptEmbeds'
    | 'aestheticScore'
    | 'negativeAestheticScore'
    | 'onStep'
    | 'outputType'
  > {
  /**
   * In (0, 1): the share of the schedule the base denoises (its `denoisingEnd`; the refiner's
   * `denoisingStart`). Default 0.8 ({@link DEFAULT_HIGH_NOISE_FRAC}, diffusers' docs).
   */
  highNoiseFrac?: number;
  /** The refiner's aesthetic score (refiner models only, `requiresAestheticsScore`). Default 6. */
  aestheticScore?: number;
  /** The refiner's negative aesthetic score (refiner models only). Default 2.5. */
  negativeAestheticScore?: number;
  /** What the refiner returns, as `generate()`'s `outputType`. Default `'image'`. */
  outputType?: OutputType;
  /** Called (and awaited) after each step of the base and then of the refiner. */
  onStep?: (info: RefinerStepInfo) => void | Promise<void>;
}

/**
 * A {@link generateWithRefiner} call's settings: the base call's resolved parameters (its `sdxl.denoisingEnd`
 * is the switch), the switch, and the refiner call's own resolved parameters — what
 * `refinerGenerationParameters(generationParametersFrom(p), generationParametersFrom(p.refinerPass),
 * { name, switchAt: p.highNoiseFrac })` writes as A1111 parameters.
 */
export interface RefinerHandOffParameters extends ResolvedParameters {
  /** The switch: the base's `denoisingEnd`, the refiner's `denoisingStart`. */
  highNoiseFrac: number;
  /** The refiner call's resolved parameters (img2img from the base's latents), to repeat it by hand. */
  refinerPass: ResolvedParameters;
}

/** The result of {@link generateWithRefiner}. */
export interface RefinerHandOffResult<O extends OutputType = 'image'> {
  /** The refiner's output, typed by `outputType` as `generate()`'s. */
  images: GeneratedImages<O>;
  /** The settings of both calls. */
  parameters: RefinerHandOffParameters;
}
