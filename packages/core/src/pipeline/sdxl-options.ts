import type { GenerateOptions } from './generate-options.js';
import { GENERATE_OPTION_KEYS } from './validate-options.js';

/** A `[height, width]` pair in pixels, or a `[top, left]` crop corner, as diffusers' SDXL pipelines take them. */
export type SizePair = [number, number];

/**
 * Options of {@link StableDiffusionXLPipeline.generate}: {@link GenerateOptions} (txt2img, img2img with
 * `image`, inpainting with `image` + `maskImage`) and SDXL's own. Names and defaults follow diffusers'
 * `StableDiffusionXLPipeline`, `StableDiffusionXLImg2ImgPipeline` and `StableDiffusionXLInpaintPipeline`
 * `__call__` (camelCase): guidance 5, img2img strength 0.3, inpainting strength 0.9999, 50 steps.
 *
 * `image` may also be a `Tensor` `[B, latentChannels, h, w]`: latents (e.g. the base's `outputType: 'latent'`
 * result for the refiner), used as they are — not encoded, and with `denoisingStart` not noised.
 */
export interface SdxlGenerateOptions extends GenerateOptions {
  /** The prompt(s) of the second text encoder (diffusers' `prompt_2`). Default: `prompt`. */
  prompt2?: string | string[];
  /** The negative prompt(s) of the second text encoder (`negative_prompt_2`). Default: `negativePrompt`. */
  negativePrompt2?: string | string[];
  /** Micro-conditioning: the "original" image size `[height, width]`. Default: the output size. */
  originalSize?: SizePair;
  /** Micro-conditioning: the crop's top-left corner `[top, left]`. Default `[0, 0]`. */
  cropsCoordsTopLeft?: SizePair;
  /** Micro-conditioning: the target size `[height, width]` (base models). Default: the output size. */
  targetSize?: SizePair;
  /** Negative micro-conditioning: original size `[height, width]`. See docs/sdxl.md for the defaults. */
  negativeOriginalSize?: SizePair;
  /** Negative micro-conditioning: crop top-left `[top, left]`. Default `[0, 0]`. */
  negativeCropsCoordsTopLeft?: SizePair;
  /** Negative micro-conditioning: target size `[height, width]`. See docs/sdxl.md for the defaults. */
  negativeTargetSize?: SizePair;
  /** Refiner (`requiresAestheticsScore`) img2img / inpainting only: the aesthetic score. Default 6. */
  aestheticScore?: number;
  /** Refiner img2img / inpainting only: the negative aesthetic score. Default 2.5. */
  negativeAestheticScore?: number;
  /**
   * In (0, 1): stop the schedule at this fraction (diffusers' "ensemble of expert denoisers"), e.g. 0.8 with
   * `outputType: 'latent'` for the base, whose latents the refiner continues with `denoisingStart: 0.8`.
   */
  denoisingEnd?: number;
  /** In (0, 1), img2img / inpainting only: start the schedule at this fraction; `strength` is then ignored. */
  denoisingStart?: number;
}

type SdxlOptionKey = Exclude<keyof SdxlGenerateOptions, keyof GenerateOptions>;

/** One entry per SDXL option: tsc fails here when one is added to {@link SdxlGenerateOptions} but not listed. */
const SDXL_KEYS: Record<SdxlOptionKey, true> = {
  prompt2: true,
  negativePrompt2: true,
  originalSize: true,
  cropsCoordsTopLeft: true,
  targetSize: true,
  negativeOriginalSize: true,
  negativeCropsCoordsTopLeft: true,
  negativeTargetSize: true,
  aestheticScore: true,
  negativeAestheticScore: true,
  denoisingEnd: true,
  denoisingStart: true,
};

/** The option names the SDXL pipeline's `generate()` accepts; any other key is rejected with a "did you mean". */
export const SDXL_OPTION_KEYS: readonly (keyof SdxlGenerateOptions)[] = Object.freeze([
  ...GENERATE_OPTION_KEYS,
  ...(Object.keys(SDXL_KEYS) as SdxlOptionKey[]),
]);

/** diffusers' defaults of the SDXL pipelines' `__call__`. */
export const SDXL_DEFAULTS = Object.freeze({
  numInferenceSteps: 50,
  guidanceScale: 5,
  img2imgStrength: 0.3,
  inpaintStrength: 0.9999,
  aestheticScore: 6,
  negativeAestheticScore: 2.5,
});
