import type { Scheduler } from '@latentkit/core';
import { minimumSensibleSteps } from '@latentkit/schedulers';

/**
 * The warning for a scheduler run below its minimum sensible step count (`minimumSensibleSteps` of
 * `@latentkit/schedulers`: 50 for LMS and PLMS, measured with the shipped model, where fewer steps give a
 * flat black or white blob), or `undefined`. The CLI shows it for the shipped model only: full-size models
 * are less sensitive (SD 1.5 runs PLMS well at 20 steps).
 *
 * @param samplerName the name to show (the A1111 name, e.g. `LMS`).
 */
export function fewStepsWarning(
  scheduler: Pick<Scheduler, 'config'>,
  samplerName: string,
  steps: number,
): string | undefined {
  const min = minimumSensibleSteps(scheduler);
  if (steps >= min) return undefined;
  return `latentkit: warning: ${samplerName} below ${min} steps gives a flat black or white image with the shipped model (--steps ${steps}). Fix: use --steps ${min} or more, or another scheduler (DDIM, Euler, DPM++ 2M).`;
}
