import {
  generationParametersFrom as coreGenerationParametersFrom,
  type FromResolvedOptions,
  type GenerationParameters,
  type ResolvedParameters,
} from '@latentkit/core';
import { a1111SamplerName } from '@latentkit/schedulers';

/**
 * `@latentkit/core`'s `generationParametersFrom` with the sampler by its A1111 name (see
 * `a1111SamplerName` of `@latentkit/schedulers`) unless `options.sampler` says otherwise: turns what
 * `generate()` returns in `parameters` into the {@link GenerationParameters} of one image, as
 * `writePng` writes them.
 *
 * ```ts
 * const { images, parameters } = await pipe.generate({ prompt: 'a red circle', seed: 42 });
 * await writePng('circle.png', images[0]!, { parameters: generationParametersFrom(parameters, { imageIndex: 0 }) });
 * ```
 *
 * @throws InvalidArgumentError when `resolved` is not a `generate()` result's `parameters`, or
 *   `imageIndex` is not an index of `resolved.images`.
 */
export function generationParametersFrom(
  resolved: ResolvedParameters,
  options: FromResolvedOptions = {},
): GenerationParameters {
  return coreGenerationParametersFrom(resolved, { ...options, sampler: options.sampler ?? a1111SamplerName });
}
