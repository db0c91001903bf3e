import { InvalidArgumentError } from '../errors.js';
import { checkKnownKeys, closestName } from '../pipeline/option-keys.js';
import {
  DEFAULT_HIRES_SCALE,
  DEFAULT_HIRES_STRENGTH,
  HIRES_UPSCALERS,
  type HiresFixOptions,
  type HiresUpscaler,
} from './hires-fix-options.js';

/** The option names {@link hiresFix} accepts; any other key is rejected with a "did you mean". */
export const HIRES_FIX_OPTION_KEYS: readonly (keyof HiresFixOptions)[] = Object.freeze([
  'prompt',
  'negativePrompt',
  'promptEmbeds',
  'negativePromptEmbeds',
  'clipSkip',
  'width',
  'height',
  'numInferenceSteps',
  'guidanceScale',
  'guidanceRescale',
  'numImagesPerPrompt',
  'eta',
  'seed',
  'onStep',
  'signal',
  'outputType',
  'hiresScale',
  'hiresStrength',
  'hiresSteps',
  'hiresUpscaler',
]);

/** Options whose absence is on purpose: each pass makes its own, from the seed and the first pass. */
const NOT_FOR_HIRES: Readonly<Record<string, string>> = {
  generator:
    'pass seed instead: both passes start a generator from it (a generator would be drawn from by the first pass)',
  latents: 'drop latents: the first pass draws its noise from seed',
  image: 'hires fix is text-to-image; for an image of your own call pipe.generate({ image, strength })',
  maskImage: 'hires fix is text-to-image; inpaint with pipe.generate({ image, maskImage })',
};

/** {@link HiresFixOptions} with the hires defaults filled in (`hiresSteps` stays optional). */
export interface CheckedHiresOptions {
  options: Omit<HiresFixOptions, 'hiresScale' | 'hiresStrength' | 'hiresUpscaler' | 'hiresSteps'> & {
    hiresScale: number;
    hiresStrength: number;
    hiresUpscaler: HiresUpscaler;
  };
  hiresSteps?: number;
}

/**
 * Checks the hires settings of {@link hiresFix} options and the keys of the whole object; the rest is
 * checked by the pipeline's own validation, before the first pass.
 */
export function checkHiresOptions(options: HiresFixOptions): CheckedHiresOptions {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidArgumentError({
      name: 'options',
      value: options,
      expected: 'an options object',
      fix: "pass e.g. hiresFix(pipe, { prompt: 'a red circle', hiresScale: 2 })",
    });
  }
  for (const key of Object.keys(options)) {
    const fix = NOT_FOR_HIRES[key];
    if (fix !== undefined) {
      throw new InvalidArgumentError({
        name: `hiresFix() options key "${key}"`,
        value: (options as Record<string, unknown>)[key],
        expected: `one of the known options (${HIRES_FIX_OPTION_KEYS.join(', ')})`,
        fix,
      });
    }
  }
  checkKnownKeys('hiresFix() options', options, HIRES_FIX_OPTION_KEYS);
  const {
    hiresScale = DEFAULT_HIRES_SCALE,
    hiresStrength = DEFAULT_HIRES_STRENGTH,
    hiresUpscaler = 'latent',
    hiresSteps,
    ...rest
  } = options;
  if (typeof hiresScale !== 'number' || !Number.isFinite(hiresScale) || hiresScale < 1) {
    throw new InvalidArgumentError({
      name: 'hiresScale',
      value: hiresScale,
      expected: 'a finite number ≥ 1 (the hires size is the first size × hiresScale)',
      fix: 'use e.g. hiresScale: 2 (A1111\'s "Upscale by"); to make smaller images, lower width and height',
    });
  }
  if (
    typeof hiresStrength !== 'number' ||
    !Number.isFinite(hiresStrength) ||
    hiresStrength <= 0 ||
    hiresStrength > 1
  ) {
    throw new InvalidArgumentError({
      name: 'hiresStrength',
      value: hiresStrength,
      expected: "a number in (0, 1] (the hires pass's denoising strength)",
      fix: `use e.g. ${DEFAULT_HIRES_STRENGTH} (A1111's default); 0 would leave the upscaled image unchanged`,
    });
  }
  if (
    hiresSteps !== undefined &&
    (typeof hiresSteps !== 'number' || !Number.isInteger(hiresSteps) || hiresSteps < 1)
  ) {
    throw new InvalidArgumentError({
      name: 'hiresSteps',
      value: hiresSteps,
      expected: 'an integer ≥ 1 (the steps the hires pass runs)',
      fix: 'use e.g. hiresSteps: 20, or leave it out to run numInferenceSteps steps',
    });
  }
  if (!(HIRES_UPSCALERS as readonly unknown[]).includes(hiresUpscaler)) {
    const suggestion =
      typeof hiresUpscaler === 'string'
        ? hiresUpscaler.toLowerCase() === 'lanczos'
          ? 'pixel'
          : closestName(hiresUpscaler, HIRES_UPSCALERS)
        : undefined;
    throw new InvalidArgumentError({
      name: 'hiresUpscaler',
      value: hiresUpscaler,
      expected: `one of ${HIRES_UPSCALERS.map((u) => `'${u}'`).join(', ')}`,
      fix: suggestion
        ? `did you mean '${suggestion}'?`
        : "use 'latent' (A1111's Latent) or 'pixel' (Lanczos)",
    });
  }
  return {
    options: { ...rest, hiresScale, hiresStrength, hiresUpscaler },
    ...(hiresSteps !== undefined ? { hiresSteps } : {}),
  };
}
