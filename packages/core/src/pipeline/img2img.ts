import { InvalidArgumentError } from '../errors.js';
import type { Scheduler } from '../interfaces/scheduler.js';

/** Where an img2img / inpainting run starts in the schedule. */
export interface StrengthSchedule {
  /** The timesteps to loop over: `scheduler.timesteps[startIndex:]`. */
  timesteps: number[];
  /** Index of the first timestep used (`tStart · order`). */
  startIndex: number;
}

/**
 * diffusers' `get_timesteps`: with `initTimestep = min(floor(steps · strength), steps)` and
 * `tStart = max(steps − initTimestep, 0)`, the loop runs `scheduler.timesteps[tStart · order:]`, and the
 * scheduler is told where it begins (`setBeginIndex`, when it has one). Call after `setTimesteps`.
 * Throws when the strength leaves no step (diffusers' inpainting pipeline does the same).
 */
export function strengthSchedule(
  scheduler: Scheduler,
  numInferenceSteps: number,
  strength: number,
): StrengthSchedule {
  // floor of the float64 product, as Python's int(num_inference_steps * strength).
  const initTimestep = Math.min(Math.floor(numInferenceSteps * strength), numInferenceSteps);
  const tStart = Math.max(numInferenceSteps - initTimestep, 0);
  const startIndex = tStart * scheduler.order;
  const timesteps = scheduler.timesteps.slice(startIndex);
  if (timesteps.length === 0) {
    throw zeroStepsError(numInferenceSteps, strength);
  }
  scheduler.setBeginIndex?.(startIndex);
  return { timesteps, startIndex };
}

/**
 * The error for a strength that leaves no step (`floor(steps · strength) = 0`), naming both values and
 * the smallest fix.
 */
export function zeroStepsError(numInferenceSteps: number, strength: number): InvalidArgumentError {
  const minStrength = 1 / numInferenceSteps;
  const fix =
    strength > 0
      ? `raise strength to at least ${minStrength}, or numInferenceSteps to at least ${Math.ceil(1 / strength)}`
      : `raise strength to at least ${minStrength} (strength 0 would return the image unchanged)`;
  return new InvalidArgumentError({
    name: 'strength',
    value: strength,
    expected: `a strength that leaves at least one of the ${numInferenceSteps} steps (floor(numInferenceSteps · strength) ≥ 1)`,
    fix,
  });
}
