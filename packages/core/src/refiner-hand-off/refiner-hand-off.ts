import { InvalidArgumentError } from '../errors.js';
import type { GenerateResult, OutputType, StepInfo } from '../pipeline/generate-options.js';
import type { SdxlGenerateOptions } from '../pipeline/sdxl-options.js';
import type { StableDiffusionXLPipeline } from '../pipeline/stable-diffusion-xl-pipeline.js';
import { validateSdxlOptions } from '../pipeline/validate-sdxl-options.js';
import { Tensor } from '../tensor.js';
import type { RefinerHandOffOptions, RefinerHandOffResult } from './refiner-hand-off-options.js';
import { checkRefinerHandOffOptions } from './validate-refiner-options.js';

function randomSeed(): number {
  return Math.floor(Math.random() * Number.MAX_SAFE_INTEGER);
}

/** Throws unless `pipe` is an SDXL pipeline (`generate`, `config.requiresAestheticsScore`, `codec`). */
function checkSdxlPipeline(name: 'base' | 'refiner', pipe: StableDiffusionXLPipeline): void {
  const p = pipe as Partial<StableDiffusionXLPipeline> | undefined;
  if (
    typeof p?.generate !== 'function' ||
    typeof p.codec !== 'object' ||
    typeof p.config?.requiresAestheticsScore !== 'boolean'
  ) {
    throw new InvalidArgumentError({
      name,
      value: pipe,
      expected: 'a StableDiffusionXLPipeline',
      fix: `load it with StableDiffusionXLPipeline.fromPretrained(…) and call generateWithRefiner(base, refiner, { prompt })`,
    });
  }
}

/**
 * diffusers' "ensemble of expert denoisers" in one call: the SDXL `base` denoises the first
 * `highNoiseFrac` of the schedule and hands its latents to the `refiner`, which denoises the rest.
 *
 * ```ts
 * const { images, parameters } = await generateWithRefiner(base, refiner, {
 *   prompt: 'a majestic lion jumping from a big stone at night', numInferenceSteps: 40, seed: 42,
 * });
 * ```
 *
 * It is two `generate()` calls, and gives their images bit for bit:
 * 1. `base.generate({ ...options, denoisingEnd: highNoiseFrac, outputType: 'latent' })`;
 * 2. `refiner.generate({ prompts, steps, guidance, seed, …, image: latents, denoisingStart: highNoiseFrac,
 *    aestheticScore, negativeAestheticScore, outputType })`.
 *
 * Randomness: with `seed` each call starts a fresh `TorchGenerator` from it (as `latentkit generate
 * --refiner` does); without `seed` or `generator` one random seed is chosen for both and reported in
 * `parameters`; a `generator` (or one per image) is drawn from by the base and the refiner continues it, as
 * passing the same torch generator to both diffusers calls does.
 *
 * Every option of both calls is checked before the base runs (the refiner's against latents of the size
 * the base will return). The refiner may be a base model too (diffusers allows it): the aesthetic scores
 * are then refused and the target sizes passed on.
 *
 * @throws InvalidArgumentError for a bad option (an unknown key with a "did you mean", `highNoiseFrac`
 *   outside (0, 1), `denoisingEnd` / `denoisingStart` / `strength` / embeddings), a `base` or `refiner` that
 *   is not an SDXL pipeline, a `base` that is a refiner model; NotImplementedError for `image` /
 *   `maskImage`; the errors of `generate()`.
 */
export async function generateWithRefiner<O extends OutputType = 'image'>(
  base: StableDiffusionXLPipeline,
  refiner: StableDiffusionXLPipeline,
  options: RefinerHandOffOptions & { outputType?: O },
): Promise<RefinerHandOffResult<O>> {
  checkSdxlPipeline('base', base);
  checkSdxlPipeline('refiner', refiner);
  if (base.config.requiresAestheticsScore) {
    throw new InvalidArgumentError({
      name: 'base',
      value: 'a refiner model (requiresAestheticsScore: true)',
      expected: 'a text-to-image SDXL model (a refiner runs img2img only)',
      fix: 'pass the base model first and the refiner second: generateWithRefiner(base, refiner, options)',
    });
  }
  const highNoiseFrac = checkRefinerHandOffOptions(options);
  const {
    highNoiseFrac: _frac,
    aestheticScore,
    negativeAestheticScore,
    outputType,
    onStep,
    width,
    height,
    latents,
    targetSize,
    negativeTargetSize,
    seed: givenSeed,
    generator,
    ...shared
  } = options;
  // Both given: passed on, so the base's validation refuses them together.
  const randomness: Pick<SdxlGenerateOptions, 'seed' | 'generator'> = generator
    ? { generator, ...(givenSeed !== undefined ? { seed: givenSeed } : {}) }
    : { seed: givenSeed ?? randomSeed() };
  const refinerModel = refiner.config.requiresAestheticsScore;
  const baseOptions: SdxlGenerateOptions & { outputType: 'latent' } = {
    ...shared,
    ...randomness,
    ...defined({ width, height, latents, targetSize, negativeTargetSize }),
    denoisingEnd: highNoiseFrac,
    outputType: 'latent',
  };
  const refinerOptions: SdxlGenerateOptions = {
    ...shared,
    ...randomness,
    // A base model as the refiner refuses the scores in its own validation (it has no aesthetic time id).
    ...defined({ aestheticScore, negativeAestheticScore }),
    ...(refinerModel ? {} : defined({ targetSize, negativeTargetSize })),
    denoisingStart: highNoiseFrac,
  };
  if (outputType !== undefined) refinerOptions.outputType = outputType;

  // Both calls' options, checked before any work: the refiner's against latents of the base's output size.
  const first = validateSdxlOptions(baseOptions, base, base.config);
  const down = base.codec.downscale;
  const shape = [first.totalImages, base.codec.latentChannels, first.height / down, first.width / down];
  const placeholder = new Tensor(new Float32Array(shape.reduce((a, b) => a * b, 1)), shape);
  validateSdxlOptions({ ...refinerOptions, image: placeholder }, refiner, refiner.config);

  const step = (pass: 'base' | 'refiner') => (info: StepInfo) => onStep?.({ ...info, pass });
  const handOff: GenerateResult<'latent'> = await base.generate({
    ...baseOptions,
    ...(onStep ? { onStep: step('base') } : {}),
  });
  const refined = await refiner.generate<O>({
    ...refinerOptions,
    ...(onStep ? { onStep: step('refiner') } : {}),
    image: handOff.images,
  } as SdxlGenerateOptions & { outputType?: O });
  return {
    images: refined.images,
    parameters: { ...handOff.parameters, highNoiseFrac, refinerPass: refined.parameters },
  };
}

/** The entries of `values` that are not undefined. */
function defined<T extends object>(values: T): Partial<T> {
  return Object.fromEntries(Object.entries(values).filter(([, v]) => v !== undefined)) as Partial<T>;
}
