/**
 * The fewest steps at which a scheduler gave the prompt's image with the shipped "shapes" model, measured
 * on "a red circle on a blue background", seeds 1–4, guidance 5: below them LMS and PLMS give a flat black
 * or white blob (LMS: 0/4 right at 20 and 25 steps, 1/4 at 30, 4/4 at 40; PLMS: 0/4 up to 40 steps, 3/4 at
 * 50). DDIM and Euler were right 4/4 from 10 steps. Other models have their own minimums (SD 1.5 runs
 * PLMS at 20 steps): the CLI warns for the shipped model only.
 */
export const SHIPPED_MODEL_MIN_STEPS: Readonly<Record<string, number>> = {
  LMSDiscreteScheduler: 40,
  PNDMScheduler: 50,
};

/**
 * The warning for a scheduler run below its minimum on the shipped model, or `undefined`.
 *
 * @param className the scheduler's diffusers class name.
 * @param displayName the name to show (the A1111 name, e.g. `LMS`).
 */
export function fewStepsWarning(className: string, displayName: string, steps: number): string | undefined {
  const min = SHIPPED_MODEL_MIN_STEPS[className];
  if (min === undefined || steps >= min) return undefined;
  return `latentkit: warning: ${displayName} below ${min} steps gives a flat black or white image with the shipped model (--steps ${steps}). Fix: use --steps ${min} or more, or another scheduler (DDIM, Euler, DPM++ 2M).`;
}
