import { InvalidArgumentError } from '../errors.js';
import type { GenerationParameters } from './infotext.js';

/** The refiner of a base + refiner run, as {@link refinerGenerationParameters} writes it. */
export interface RefinerInfo {
  /** The refiner's name, written after `Refiner:` (A1111 writes its checkpoint's short title). */
  name: string;
  /** The share of the schedule the base ran (`denoisingEnd` = the refiner's `denoisingStart`), in (0, 1). */
  switchAt: number;
}

/** The refiner's own keys that the image keeps: what its time ids held besides the base's. */
const REFINER_KEYS = ['Aesthetic score', 'Negative aesthetic score'] as const;

/**
 * The parameters of an image made by an SDXL base and a refiner (diffusers' "ensemble of expert
 * denoisers": the base with `denoisingEnd`, the refiner with `denoisingStart` on its latents), as A1111
 * writes a refiner run: the base's settings, then `Refiner: <name>, Refiner switch at: <switchAt>`. The
 * base's `Denoising end` is that switch and is not written twice; the refiner's aesthetic scores are kept.
 *
 * ```ts
 * const infotext = refinerGenerationParameters(
 *   generationParametersFrom(handOff.parameters),
 *   generationParametersFrom(refined.parameters),
 *   { name: 'sd_xl_refiner_1.0', switchAt: 0.8 },
 * );
 * ```
 *
 * @throws InvalidArgumentError when `refiner.name` is empty or `refiner.switchAt` is not in (0, 1).
 */
export function refinerGenerationParameters(
  base: GenerationParameters,
  refinerRun: GenerationParameters,
  refiner: RefinerInfo,
): GenerationParameters {
  if (typeof refiner?.name !== 'string' || refiner.name.trim() === '') {
    throw new InvalidArgumentError({
      name: 'refiner.name',
      value: refiner?.name,
      expected: 'a non-empty string (written after "Refiner:")',
      fix: "pass the refiner's name, e.g. its folder's name",
    });
  }
  if (typeof refiner.switchAt !== 'number' || !(refiner.switchAt > 0 && refiner.switchAt < 1)) {
    throw new InvalidArgumentError({
      name: 'refiner.switchAt',
      value: refiner.switchAt,
      expected: "a number in (0, 1): the base's denoisingEnd, the refiner's denoisingStart",
      fix: 'pass the denoisingEnd the base ran with, e.g. 0.8',
    });
  }
  const extra: Record<string, string | number | boolean> = { ...base.extra };
  delete extra['Denoising end'];
  for (const key of REFINER_KEYS) {
    const value = refinerRun.extra?.[key];
    if (value !== undefined) extra[key] = value;
  }
  extra['Refiner'] = refiner.name;
  extra['Refiner switch at'] = refiner.switchAt;
  return { ...base, extra };
}
