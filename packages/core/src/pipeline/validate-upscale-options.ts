import { InvalidArgumentError, ShapeMismatchError } from '../errors.js';
import type { Tensor } from '../tensor.js';
import { UPSCALE_DEFAULTS, UPSCALE_OPTION_KEYS, type UpscaleGenerateOptions } from './upscale-options.js';
import {
  type CommonOptions,
  checkFinite,
  checkImage,
  checkOnStep,
  checkPixelBudget,
  checkTensor,
  type SizeRule,
  type ValidationParts,
  validateCommonOptions,
} from './validate-options.js';

/** {@link UpscaleGenerateOptions} checked, with defaults applied. */
export interface ValidatedUpscaleOptions extends CommonOptions {
  mode: 'upscale';
  /** The low-res image `[B, 3, h, w]` in [0, 1], B = the number of prompts. */
  image: Tensor;
  noiseLevel: number;
  /** Output width (the image's × `codec.downscale`). */
  width: number;
  /** Output height. */
  height: number;
  /** Latent (= low-res image) width. */
  latentWidth: number;
  /** Latent height. */
  latentHeight: number;
  latents?: Tensor;
}

/**
 * Checks an upscale call before any work, through the checks every pipeline shares (keys, steps,
 * guidance, prompts, generators, limits), then the upscaler's own: the image (limits on the OUTPUT size,
 * `codec.downscale` times the image's; sides multiples of `denoiser.sizeMultiple`; one image per prompt),
 * `noiseLevel` an integer in [0, maxNoiseLevel], a denoiser with latent + 3 input channels, `latents`.
 */
export function validateUpscaleOptions(
  options: UpscaleGenerateOptions,
  parts: ValidationParts,
  maxNoiseLevel: number,
): ValidatedUpscaleOptions {
  const common = validateCommonOptions(options, parts, {
    keys: UPSCALE_OPTION_KEYS,
    defaultSteps: UPSCALE_DEFAULTS.numInferenceSteps,
    defaultGuidance: UPSCALE_DEFAULTS.guidanceScale,
  });
  const { denoiser, codec } = parts;
  const { limits, batchSize, totalImages } = common;
  const scale = codec.downscale;

  if (options.image === undefined) {
    throw new InvalidArgumentError({
      name: 'image',
      value: undefined,
      expected:
        'the low-resolution image to upscale: an RgbaImage, or a Tensor [B, 3, h, w] with values in [0, 1]',
      fix: 'pass image (e.g. a 128×128 picture for a 512×512 result)',
    });
  }
  const sm = denoiser.sizeMultiple;
  const multiple = typeof sm === 'number' && Number.isInteger(sm) && sm > 1 ? sm : 1;
  const rule: SizeRule = {
    multiple,
    why: `the denoiser's size multiple: the latents are the image's size and the UNet down-samples them by ${multiple}`,
    max: limits.maxImageSize,
  };
  const image = checkImage(options.image, rule, limits, totalImages, scale);
  const [ib, , h, w] = image.shape as [number, number, number, number];
  if (ib !== batchSize) {
    throw new ShapeMismatchError({
      name: 'image batch',
      value: ib,
      expected: `${batchSize}, one image per prompt (as diffusers' StableDiffusionUpscalePipeline)`,
      fix:
        ib === 1
          ? 'pass one prompt per image: repeat the image for each prompt, or use one prompt'
          : 'pass as many prompts (or promptEmbeds rows) as images',
    });
  }
  checkPixelBudget(totalImages, w * scale, h * scale, limits);

  const noiseLevel = options.noiseLevel ?? UPSCALE_DEFAULTS.noiseLevel;
  if (
    typeof noiseLevel !== 'number' ||
    !Number.isInteger(noiseLevel) ||
    noiseLevel < 0 ||
    noiseLevel > maxNoiseLevel
  ) {
    throw new InvalidArgumentError({
      name: 'noiseLevel',
      value: noiseLevel,
      expected: `an integer in [0, ${maxNoiseLevel}] (the model's max_noise_level)`,
      fix: `use e.g. ${UPSCALE_DEFAULTS.noiseLevel} (more noise: more invented detail, less fidelity to the image)`,
    });
  }

  const latentChannels = codec.latentChannels;
  const imageChannels = image.shape[1]!;
  if (denoiser.inChannels !== latentChannels + imageChannels) {
    throw new InvalidArgumentError({
      name: 'denoiser.inChannels',
      value: denoiser.inChannels,
      expected: `${latentChannels + imageChannels}: the codec's ${latentChannels} latent channels + the ${imageChannels} channels of the noised low-res image`,
      fix: 'use an x4 upscaler UNet (7 input channels) with its own VAE, e.g. a stable-diffusion-x4-upscaler export',
    });
  }

  let latents: Tensor | undefined;
  if (options.latents !== undefined) {
    latents = checkTensor('latents', options.latents);
    const expected = [totalImages, latentChannels, h, w];
    if (latents.shape.join() !== expected.join()) {
      throw new ShapeMismatchError({
        name: 'latents',
        value: latents.shape,
        expected: `shape [${expected.join(', ')}] (images, latent channels, and the low-res image's height and width)`,
        fix: 'draw latents of that shape, or match numImagesPerPrompt and the image to them',
      });
    }
    checkFinite(
      'latents',
      latents,
      'draw the latents again (e.g. with a TorchGenerator); they must be finite',
    );
  }
  checkOnStep(options.onStep);

  const out: ValidatedUpscaleOptions = {
    ...common,
    mode: 'upscale',
    image,
    noiseLevel,
    width: w * scale,
    height: h * scale,
    latentWidth: w,
    latentHeight: h,
  };
  if (latents) out.latents = latents;
  return out;
}
