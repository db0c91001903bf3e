import { InvalidArgumentError, LimitExceededError, ShapeMismatchError } from '../errors.js';
import { denormalizeImage } from '../image/image-range.js';
import { type RgbaImage, rgbaToTensor } from '../image/rgba-image.js';
import {
  type FromResolvedOptions,
  generationParametersFrom,
} from '../parameters/generation-parameters-from.js';
import type { GenerationParameters } from '../parameters/infotext.js';
import type { GenerateOptions, OutputType } from '../pipeline/generate-options.js';
import { checkDecodedImage } from '../pipeline/non-finite.js';
import type { StableDiffusionPipeline } from '../pipeline/stable-diffusion-pipeline.js';
import { validateGenerateOptions } from '../pipeline/validate-options.js';
import type { Tensor } from '../tensor.js';
import {
  HIRES_UPSCALER_NAMES,
  type HiresFixOptions,
  type HiresFixParameters,
  type HiresFixResult,
  type HiresParameters,
} from './hires-fix-options.js';
import { hiresInferenceSteps, hiresSide } from './hires-schedule.js';
import { resizeLanczos } from './lanczos-resize.js';
import { upscaleLatentsBilinear } from './latent-upscale.js';
import { checkHiresOptions } from './validate-hires-options.js';

function randomSeed(): number {
  return Math.floor(Math.random() * Number.MAX_SAFE_INTEGER);
}

/**
 * A1111's "Hires. fix" on a {@link StableDiffusionPipeline}: text-to-image at the first pass's size,
 * the result enlarged by `hiresScale` (`hiresUpscaler`: the latents bilinearly, or the image with
 * Lanczos), then img2img at the larger size with `hiresStrength` for `hiresSteps` steps, with the same
 * prompts, guidance and seed.
 *
 * ```ts
 * const { images, parameters } = await hiresFix(pipe, { prompt: 'a red circle', seed: 42, hiresScale: 2 });
 * ```
 *
 * It is two `generate()` calls, and gives their images bit for bit:
 * 1. `generate({ ...options, seed, outputType: 'latent' })` (`'image'` for the pixel upscaler);
 * 2. the upscale: `upscaleLatentsBilinear(latents, H / downscale, W / downscale)` then `codec.decode` and
 *    `denormalizeImage` — or `resizeLanczos(image, W, H)` for each image;
 * 3. `generate({ ...options, seed, image, strength: hiresStrength,
 *    numInferenceSteps: hiresInferenceSteps(hiresSteps, hiresStrength) })`.
 *
 * Every option, the hires size and both passes' limits are checked before the first pass runs.
 *
 * @throws InvalidArgumentError for a bad option (an unknown key with a "did you mean"); LimitExceededError
 *   when the hires size is over `pipe.limits`; the errors of `generate()`.
 */
export async function hiresFix<O extends OutputType = 'image'>(
  pipe: StableDiffusionPipeline,
  options: HiresFixOptions & { outputType?: O },
): Promise<HiresFixResult<O>> {
  if (typeof pipe?.generate !== 'function' || typeof pipe.codec !== 'object') {
    throw new InvalidArgumentError({
      name: 'pipe',
      value: pipe,
      expected: 'a StableDiffusionPipeline',
      fix: 'pass the pipeline first: hiresFix(pipe, { prompt, hiresScale })',
    });
  }
  const hires = checkHiresOptions(options);
  const {
    hiresScale,
    hiresStrength,
    hiresUpscaler,
    onStep,
    outputType,
    seed: givenSeed,
    ...common
  } = hires.options;
  const seed = givenSeed ?? randomSeed();
  const base: Omit<GenerateOptions, 'outputType'> = { ...common, seed };
  // The first pass's size (defaults filled in by the pipeline's own validation).
  const first = validateGenerateOptions(base, pipe);
  const hiresSteps = hires.hiresSteps ?? first.numInferenceSteps;
  const numInferenceSteps = hiresInferenceSteps(hiresSteps, hiresStrength);
  checkScheduleLength(pipe, numInferenceSteps, hiresSteps, hiresStrength);
  const sizeStep = pipe.codec.downscale * sizeMultiple(pipe);
  const width = hiresSideChecked('width', first.width, hiresScale, sizeStep, pipe);
  const height = hiresSideChecked('height', first.height, hiresScale, sizeStep, pipe);
  // The hires pass's size and pixel budget, checked as a txt2img call of that size before any work.
  validateGenerateOptions({ ...base, width, height, numInferenceSteps }, pipe);

  const step = (pass: 'base' | 'hires') => (info: Parameters<NonNullable<GenerateOptions['onStep']>>[0]) =>
    onStep?.({ ...info, pass });
  const hooks = onStep ? { onStep: step('base') } : {};
  let image: Tensor;
  let baseParameters: HiresFixParameters['hiresPass'];
  if (hiresUpscaler === 'latent') {
    const result = await pipe.generate({ ...base, ...hooks, outputType: 'latent' });
    baseParameters = result.parameters;
    const downscale = pipe.codec.downscale;
    const latents = upscaleLatentsBilinear(result.images, height / downscale, width / downscale);
    options.signal?.throwIfAborted();
    image = denormalizeImage(
      checkDecodedImage(checkDecoded(await pipe.codec.decode(latents), width, height)),
    );
  } else {
    const result = await pipe.generate({ ...base, ...hooks, outputType: 'image' });
    baseParameters = result.parameters;
    image = rgbaToTensor(result.images.map((img: RgbaImage) => resizeLanczos(img, width, height)));
  }

  const secondOptions: GenerateOptions & { outputType?: O } = {
    ...base,
    ...(onStep ? { onStep: step('hires') } : {}),
    image,
    strength: hiresStrength,
    numInferenceSteps,
  };
  if (outputType !== undefined) secondOptions.outputType = outputType as O;
  const second = await pipe.generate<O>(secondOptions);
  const hiresParameters: HiresParameters = {
    scale: hiresScale,
    upscaler: hiresUpscaler,
    upscalerName: HIRES_UPSCALER_NAMES[hiresUpscaler],
    steps: hiresSteps,
    strength: hiresStrength,
    numInferenceSteps,
    width,
    height,
  };
  return {
    images: second.images,
    parameters: {
      ...baseParameters,
      strength: hiresStrength,
      hires: hiresParameters,
      hiresPass: second.parameters,
    },
  };
}

/** The denoiser's size multiple when it is a sensible integer, else 1 (as the pipeline reads it). */
function sizeMultiple(pipe: StableDiffusionPipeline): number {
  const sm = pipe.denoiser.sizeMultiple;
  return typeof sm === 'number' && Number.isInteger(sm) && sm > 1 ? sm : 1;
}

/** One side of the hires size, within `pipe.limits.maxImageSize` (named after `hiresScale`). */
function hiresSideChecked(
  side: 'width' | 'height',
  size: number,
  scale: number,
  step: number,
  pipe: StableDiffusionPipeline,
): number {
  const value = hiresSide(size, scale, step);
  const max = pipe.limits.maxImageSize;
  if (value > max) {
    const largest = Math.floor(max / step) * step;
    throw new LimitExceededError({
      name: 'hiresScale',
      value: scale,
      expected: `a scale whose hires ${side} (${size} × ${scale} → ${value} px) is at most ${max} pixels (limits.maxImageSize)`,
      fix: `use hiresScale ${Math.floor((largest / size) * 100) / 100} or less, or raise limits.maxImageSize`,
    });
  }
  return value;
}

/** The hires pass's schedule must fit the scheduler's training schedule (`num_train_timesteps`). */
function checkScheduleLength(
  pipe: StableDiffusionPipeline,
  numInferenceSteps: number,
  hiresSteps: number,
  strength: number,
): void {
  const trained = pipe.scheduler.config['num_train_timesteps'];
  if (typeof trained !== 'number' || numInferenceSteps <= trained) return;
  throw new InvalidArgumentError({
    name: 'hiresStrength',
    value: strength,
    expected: `a strength and hiresSteps whose schedule (${numInferenceSteps} steps for ${hiresSteps} hires steps at strength ${strength}) fits the scheduler's ${trained} training timesteps`,
    fix: `raise hiresStrength to at least ${Math.ceil((hiresSteps / trained) * 1000) / 1000}, or lower hiresSteps`,
  });
}

/** The decoder's output for the upscaled latents must be the hires size. */
function checkDecoded(decoded: Tensor, width: number, height: number): Tensor {
  const [, c, h, w] = decoded.shape;
  if (decoded.shape.length !== 4 || c !== 3 || h !== height || w !== width) {
    throw new ShapeMismatchError({
      name: 'codec.decode output',
      value: decoded.shape,
      expected: `an image [B, 3, ${height}, ${width}] (the upscaled latents decoded)`,
      fix: 'check that the codec decodes latents of any size (its downscale is codec.downscale)',
    });
  }
  return decoded;
}

/**
 * The A1111 infotext keys of a {@link hiresFix} image, beside `Denoising strength` (written from
 * `parameters.strength`): `Hires upscale`, `Hires steps`, `Hires upscaler`, in A1111's order.
 */
export function hiresInfotextExtra(hires: HiresParameters): Record<string, string | number> {
  return {
    'Hires upscale': hires.scale,
    'Hires steps': hires.steps,
    'Hires upscaler': hires.upscalerName,
  };
}

/**
 * {@link generationParametersFrom} for a {@link hiresFix} result: the first pass's settings (`Size:` is
 * its size, as A1111 writes it), `Denoising strength`, and the hires keys of {@link hiresInfotextExtra}.
 *
 * ```ts
 * const text = formatGenerationParameters(hiresGenerationParameters(result.parameters));
 * // "… Size: 32x32, Denoising strength: 0.7, Hires upscale: 2, Hires steps: 50, Hires upscaler: Latent"
 * ```
 *
 * @throws InvalidArgumentError when `parameters` is not a hiresFix result's `parameters`, or as
 *   generationParametersFrom.
 */
export function hiresGenerationParameters(
  parameters: HiresFixParameters,
  options: FromResolvedOptions = {},
): GenerationParameters {
  const hires = (parameters as Partial<HiresFixParameters> | null | undefined)?.hires;
  if (typeof hires !== 'object' || hires === null) {
    throw new InvalidArgumentError({
      name: 'parameters',
      value: parameters,
      expected: 'the `parameters` of a hiresFix() result (with `hires`)',
      fix: 'pass result.parameters from hiresFix(); for generate() results use generationParametersFrom',
    });
  }
  const out = generationParametersFrom(parameters, options);
  return { ...out, extra: { ...out.extra, ...hiresInfotextExtra(hires) } };
}
