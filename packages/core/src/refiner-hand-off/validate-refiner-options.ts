import { InvalidArgumentError, NotImplementedError } from '../errors.js';
import { checkKnownKeys } from '../pipeline/option-keys.js';
import { SDXL_OPTION_KEYS } from '../pipeline/sdxl-options.js';
import { DEFAULT_HIGH_NOISE_FRAC, type RefinerHandOffOptions } from './refiner-hand-off-options.js';

/** Options the hand-off makes itself (the switch) or cannot share between the two models. */
const NOT_FOR_HAND_OFF: Readonly<Record<string, string>> = {
  denoisingEnd: "pass highNoiseFrac instead: it is the base's denoisingEnd and the refiner's denoisingStart",
  denoisingStart:
    "pass highNoiseFrac instead: it is the base's denoisingEnd and the refiner's denoisingStart",
  strength: 'drop strength: the refiner continues at highNoiseFrac (diffusers ignores strength there)',
  promptEmbeds:
    'pass prompt (and prompt2): the base and the refiner have different text encoders, so one set of embeddings cannot serve both; with embeddings call base.generate and refiner.generate by hand',
  negativePromptEmbeds:
    'pass negativePrompt (and negativePrompt2): the base and the refiner have different text encoders; with embeddings call the two pipelines by hand',
};

/** The option names {@link generateWithRefiner} accepts; any other key is rejected with a "did you mean". */
export const REFINER_HAND_OFF_OPTION_KEYS: readonly string[] = Object.freeze([
  ...SDXL_OPTION_KEYS.filter((key) => !(key in NOT_FOR_HAND_OFF) && key !== 'image' && key !== 'maskImage'),
  'highNoiseFrac',
]);

/**
 * Checks the hand-off's own options of {@link generateWithRefiner} (`highNoiseFrac`, the keys, no `image` /
 * `maskImage`) and returns the switch; every other option is checked by the two pipelines' own validation
 * before the base runs. For callers that want these checks before loading a refiner (the web worker).
 *
 * @throws InvalidArgumentError or NotImplementedError as {@link generateWithRefiner} does.
 */
export function checkRefinerHandOffOptions(options: RefinerHandOffOptions): number {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new InvalidArgumentError({
      name: 'options',
      value: options,
      expected: 'an options object { prompt, highNoiseFrac?, … }',
      fix: "call generateWithRefiner(base, refiner, { prompt: 'a red circle' })",
    });
  }
  const given = options as Record<string, unknown>;
  for (const key of ['image', 'maskImage'] as const) {
    if (given[key] !== undefined) {
      throw new NotImplementedError(
        `generateWithRefiner runs text-to-image only; ${key} is not supported. Fix: for img2img or inpainting with a refiner, call base.generate({ image, ${key === 'maskImage' ? 'maskImage, ' : ''}denoisingEnd, outputType: 'latent' }) and then refiner.generate({ image: latents, denoisingStart }) by hand.`,
      );
    }
  }
  for (const [key, fix] of Object.entries(NOT_FOR_HAND_OFF)) {
    if (given[key] !== undefined) {
      throw new InvalidArgumentError({
        name: key,
        value: given[key],
        expected: 'no such option in generateWithRefiner',
        fix,
      });
    }
  }
  checkKnownKeys('generateWithRefiner', options, REFINER_HAND_OFF_OPTION_KEYS);
  const frac = options.highNoiseFrac ?? DEFAULT_HIGH_NOISE_FRAC;
  if (typeof frac !== 'number' || !(frac > 0 && frac < 1)) {
    throw new InvalidArgumentError({
      name: 'highNoiseFrac',
      value: frac,
      expected:
        'a number in (0, 1): the share of the schedule the base denoises before the refiner takes over',
      fix: `use e.g. ${DEFAULT_HIGH_NOISE_FRAC} (diffusers' example), or call the base alone for the whole schedule`,
    });
  }
  return frac;
}
