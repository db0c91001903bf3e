import {
  formatGenerationParameters,
  generationParametersFrom,
  type ResolvedParameters,
} from '@latentkit/core';
import { a1111SamplerName } from '@latentkit/schedulers';

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
 * A1111 name, a seed of `-1` for a generator without one. The same text as `@latentkit/backend-node`'s
 * `writePng` writes: `@latentkit/core`'s `formatGenerationParameters(generationParametersFrom(…))` with
 * `a1111SamplerName` of `@latentkit/schedulers`.
 *
 * @param parameters - `parameters` of a `generate()` result.
 * @throws {@link @latentkit/core!InvalidArgumentError} when `parameters` is not a `generate()` result's
 *   `parameters`, or `imageIndex` is not an index of `parameters.images`.
 */
export function formatInfotext(parameters: ResolvedParameters, options: InfotextOptions = {}): string {
  return formatGenerationParameters(
    generationParametersFrom(parameters, {
      ...(options.imageIndex !== undefined ? { imageIndex: options.imageIndex } : {}),
      ...(options.model !== undefined ? { model: options.model } : {}),
      sampler: a1111SamplerName,
    }),
  );
}
