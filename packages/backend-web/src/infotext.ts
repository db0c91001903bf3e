import { InvalidArgumentError, type ResolvedParameters } from '@latentkit/core';
import { a1111Schedulers } from '@latentkit/schedulers';

// NOTE: the same A1111 "infotext" layout as @latentkit/backend-node's generation-parameters.ts (which the
// CLI's writePng uses). Both should call one shared formatter once it lives in a browser-safe package
// (core, with the sampler naming in @latentkit/schedulers); until then this is the browser's copy.

// The value a config key has when a scheduler config leaves it out (diffusers' defaults).
const CONFIG_DEFAULTS: Readonly<Record<string, unknown>> = {
  use_karras_sigmas: false,
  use_exponential_sigmas: false,
  use_beta_sigmas: false,
  algorithm_type: 'dpmsolver++',
  skip_prk_steps: false,
};

/** The A1111 name of a scheduler class with a config (`DPM++ 2M Karras`), else the class name. */
function samplerName(className: string, config: Readonly<Record<string, unknown>>): string {
  let best: string | undefined;
  let bestKeys = -1;
  for (const [name, entry] of Object.entries(a1111Schedulers)) {
    if (entry.className !== className) continue;
    const keys = Object.entries(entry.overrides);
    if (!keys.every(([key, value]) => (config[key] ?? CONFIG_DEFAULTS[key]) === value)) continue;
    if (keys.length > bestKeys) {
      best = name;
      bestKeys = keys.length;
    }
  }
  return best ?? className;
}

/** Python's `str(float)` for the floats A1111 writes (7.0, 7.5). */
function pythonFloat(value: number): string {
  return Number.isInteger(value) && Math.abs(value) < 1e16 ? value.toFixed(1) : String(value);
}

/** A1111's `quote()`: JSON-quote a value holding `,`, `:` or a newline. */
function quote(value: string): string {
  return /[,:\n]/.test(value) ? JSON.stringify(value) : value;
}

/** Options of {@link formatInfotext}. */
export interface InfotextOptions {
  /** Which image of the call (index into `parameters.images`). Default 0. */
  imageIndex?: number;
  /** The model's name, written as `Model:`. */
  model?: string;
}

/**
 * One image's generation parameters as AUTOMATIC1111 writes them into a PNG's `parameters` text chunk
 * (its "infotext"): the prompt, a `Negative prompt:` line when there is one, then
 * `Steps: 50, Sampler: DDIM, CFG scale: 5.0, Seed: 42, Size: 32x32, Model: shapes` — the sampler by its
 * A1111 name, a seed of `-1` for a generator without one.
 *
 * @param parameters - `parameters` of a `generate()` result.
 * @throws {@link @latentkit/core!InvalidArgumentError} when `imageIndex` is not an index of `parameters.images`.
 */
export function formatInfotext(parameters: ResolvedParameters, options: InfotextOptions = {}): string {
  const index = options.imageIndex ?? 0;
  const images = (parameters as Partial<ResolvedParameters> | undefined)?.images;
  if (!Array.isArray(images)) {
    throw new InvalidArgumentError({
      name: 'parameters',
      value: parameters,
      expected: 'the `parameters` of a generate() result',
      fix: 'pass result.parameters from pipe.generate() or worker.generate()',
    });
  }
  const image = images[index];
  if (!Number.isInteger(index) || image === undefined) {
    throw new InvalidArgumentError({
      name: 'imageIndex',
      value: index,
      expected: `an integer in [0, ${images.length - 1}] (the call made ${images.length} image(s))`,
      fix: "pass the index of the image in the result's images",
    });
  }
  const pairs: [string, string | number | undefined][] = [
    ['Steps', parameters.numInferenceSteps],
    ['Sampler', samplerName(parameters.scheduler, parameters.schedulerConfig ?? {})],
    ['CFG scale', pythonFloat(parameters.guidanceScale)],
    ['Seed', String(image.seed ?? -1)],
    ['Size', `${parameters.width}x${parameters.height}`],
    ['Model', options.model],
    ['Denoising strength', parameters.strength === undefined ? undefined : pythonFloat(parameters.strength)],
    ['Batch pos', image.batchIndex !== 0 ? image.batchIndex : undefined],
    [
      'Clip skip',
      parameters.clipSkip !== undefined && parameters.clipSkip > 1 ? parameters.clipSkip : undefined,
    ],
    ['CFG Rescale phi', parameters.guidanceRescale !== 0 ? parameters.guidanceRescale : undefined],
  ];
  const settings = pairs
    .filter((pair): pair is [string, string | number] => pair[1] !== undefined)
    .map(([key, value]) => `${key}: ${quote(String(value))}`)
    .join(', ');
  const negative = image.negativePrompt ? `\nNegative prompt: ${image.negativePrompt}` : '';
  return `${image.prompt ?? ''}${negative}\n${settings}`.trim();
}
