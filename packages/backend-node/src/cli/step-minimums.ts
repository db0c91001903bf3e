/**
 * The fewest steps at which a sampler gave the prompt's image with the shipped "shapes" model, by A1111
 * name, measured on "a red circle on a blue background", seeds 1–4, guidance 5 (right = the evaluator's
 * judge finds a red circle on blue). Below them the image is mostly a flat black or white blob:
 * - LMS: 0/4 right at 10–25 steps, 1/4 at 30, 4/4 at 40 and 50;
 * - LMS Karras: 1/4 at 20 and 30, 2/4 at 40, 4/4 at 50;
 * - PLMS: 0/4 at 10–40 steps, 3/4 at 50.
 * DDIM and Euler were right 4/4 from 10 steps. Other models have their own minimums (SD 1.5 runs PLMS
 * well at 20 steps): the CLI warns for the shipped model only.
 */
export const SHIPPED_MODEL_MIN_STEPS: Readonly<Record<string, number>> = {
  LMS: 40,
  'LMS Karras': 50,
  PLMS: 50,
};

/**
 * The warning for a sampler run below its minimum on the shipped model, or `undefined`.
 *
 * @param samplerName the sampler's A1111 name (e.g. `LMS`), as written into the PNG.
 */
export function fewStepsWarning(samplerName: string, steps: number): string | undefined {
  const min = SHIPPED_MODEL_MIN_STEPS[samplerName];
  if (min === undefined || steps >= min) return undefined;
  return `latentkit: warning: ${samplerName} below ${min} steps gives a flat black or white image with the shipped model (--steps ${steps}). Fix: use --steps ${min} or more, or another scheduler (DDIM, Euler, DPM++ 2M).`;
}
