import { InvalidArgumentError } from '../errors.js';
import type { ResolvedParameters } from '../pipeline/generate-options.js';
import type { GenerationParameters } from './infotext.js';
import { sdxlInfotextExtra } from './sdxl-infotext.js';

/** Names a scheduler from its diffusers class name and config (e.g. `a1111SamplerName`). */
export type SamplerNamer = (className: string, config: Readonly<Record<string, unknown>>) => string;

/** Options of {@link generationParametersFrom}. */
export interface FromResolvedOptions {
  /** Which of the call's images (index into `images` / `parameters.images`). Default 0. */
  imageIndex?: number;
  /** The model's name, written as `Model:`. */
  model?: string;
  /**
   * The sampler as it is written after `Sampler:`: a name, or a function that names it from the
   * scheduler's diffusers class name and config. Default: the class name (`resolved.scheduler`). The
   * backends pass `a1111SamplerName` of `@latentkit/schedulers`, which gives A1111's names
   * (`DPM++ 2M Karras` for `DPMSolverMultistepScheduler` with Karras sigmas).
   */
  sampler?: string | SamplerNamer;
}

/**
 * Turns what `generate()` returns in `parameters` (the call's resolved settings and each image's prompt
 * and seed) into the {@link GenerationParameters} of one image:
 *
 * ```ts
 * const { images, parameters } = await pipe.generate({ prompt: 'a red circle', seed: 42 });
 * const text = formatGenerationParameters(generationParametersFrom(parameters, { imageIndex: 0 }));
 * ```
 *
 * An image made from embeddings has no prompt (written as `''`); a generator without a seed writes no
 * `Seed:` value of its own, so the seed is `-1` (A1111's "random"). A batch index other than 0 (several
 * images from one generator) is written as `Batch pos`; clip skip above 1, a guidance rescale and an eta
 * other than 0 as `Clip skip`, `CFG Rescale phi` and `Eta` (`Eta DDIM` for DDIM), as A1111 writes them.
 * A layout-to-image call adds `Layout` (its objects as `phrase@x0,y0,x1,y1`, joined by `; `, as the CLI's
 * `--box` takes them; `(embedding)` for objects given as phrase embeddings) and `GLIGEN beta`. An SDXL call
 * adds its own keys where they carry information (`Prompt 2`, `Original size`, `Crop top left`,
 * `Aesthetic score`, `Denoising end`, …: see `sdxlInfotextExtra`).
 *
 * @throws InvalidArgumentError when `resolved` is not the `parameters` of a `generate()` result, or
 *   `imageIndex` is not an index of `resolved.images`.
 */
export function generationParametersFrom(
  resolved: ResolvedParameters,
  options: FromResolvedOptions = {},
): GenerationParameters {
  const images = (resolved as Partial<ResolvedParameters> | null | undefined)?.images;
  if (!Array.isArray(images)) {
    throw new InvalidArgumentError({
      name: 'parameters',
      value: resolved,
      expected: 'the `parameters` of a generate() result',
      fix: 'pass result.parameters from pipe.generate() or worker.generate()',
    });
  }
  const index = options.imageIndex ?? 0;
  const image = images[index];
  if (!Number.isInteger(index) || image === undefined) {
    throw new InvalidArgumentError({
      name: 'imageIndex',
      value: index,
      expected: `an integer in [0, ${images.length - 1}] (the call made ${images.length} image(s))`,
      fix: "pass the index of the image in the result's images",
    });
  }
  const extra: Record<string, string | number | boolean> = {};
  if (image.batchIndex !== 0) extra['Batch pos'] = image.batchIndex;
  if (resolved.clipSkip !== undefined && resolved.clipSkip > 1) extra['Clip skip'] = resolved.clipSkip;
  if (resolved.guidanceRescale !== 0) extra['CFG Rescale phi'] = resolved.guidanceRescale;
  if (resolved.eta !== 0) extra[resolved.scheduler === 'DDIMScheduler' ? 'Eta DDIM' : 'Eta'] = resolved.eta;
  const layout = resolved.layout;
  if (layout) {
    // As the CLI's --box takes them (phrase@x0,y0,x1,y1), so a run can be repeated from the PNG.
    const phrases = layout.phrases ?? layout.boxes.map(() => '(embedding)');
    extra['Layout'] = layout.boxes.map((box, i) => `${phrases[i]}@${box.join(',')}`).join('; ');
    extra['GLIGEN beta'] = layout.scheduledSamplingBeta;
  }
  Object.assign(extra, sdxlInfotextExtra(resolved, image));
  return {
    prompt: image.prompt ?? '',
    ...(image.negativePrompt ? { negativePrompt: image.negativePrompt } : {}),
    steps: resolved.numInferenceSteps,
    sampler: samplerName(resolved, options.sampler),
    cfgScale: resolved.guidanceScale,
    seed: image.seed ?? -1,
    width: resolved.width,
    height: resolved.height,
    ...(options.model !== undefined ? { model: options.model } : {}),
    ...(resolved.strength !== undefined ? { denoisingStrength: resolved.strength } : {}),
    ...(Object.keys(extra).length > 0 ? { extra } : {}),
  };
}

function samplerName(resolved: ResolvedParameters, sampler: string | SamplerNamer | undefined): string {
  if (typeof sampler === 'function') return sampler(resolved.scheduler, resolved.schedulerConfig ?? {});
  return sampler ?? resolved.scheduler;
}

/** True for the `parameters` of a `generate()` result (rather than {@link GenerationParameters}). */
export function isResolvedParameters(
  value: GenerationParameters | ResolvedParameters,
): value is ResolvedParameters {
  return Array.isArray((value as Partial<ResolvedParameters>).images);
}
