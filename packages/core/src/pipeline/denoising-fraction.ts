import { InvalidArgumentError } from '../errors.js';
import type { Scheduler } from '../interfaces/scheduler.js';
import type { StrengthSchedule } from './img2img.js';

/** Python's `round()` of a float: to the nearest integer, halves to the even one. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** The scheduler's `num_train_timesteps` (diffusers' default 1000 when the config has none). */
export function trainTimesteps(scheduler: Scheduler): number {
  const n = scheduler.config['num_train_timesteps'];
  return typeof n === 'number' && Number.isFinite(n) && n > 0 ? n : 1000;
}

/**
 * diffusers' `discrete_timestep_cutoff` of `denoising_end` / `denoising_start`:
 * `int(round(T − fraction · T))`, T = `num_train_timesteps`.
 */
export function timestepCutoff(scheduler: Scheduler, fraction: number): number {
  const T = trainTimesteps(scheduler);
  return roundHalfEven(T - fraction * T);
}

/**
 * `denoisingEnd` (diffusers' SDXL pipelines, step 8.1 / 9.1): keeps the leading timesteps `t ≥ cutoff`.
 * The base of the "ensemble of expert denoisers" stops there and hands its latents to the refiner.
 *
 * @throws {@link InvalidArgumentError} when no timestep is kept (diffusers would return the start latents
 *   undenoised).
 */
export function truncateAtDenoisingEnd(
  scheduler: Scheduler,
  timesteps: readonly number[],
  denoisingEnd: number,
): number[] {
  const cutoff = timestepCutoff(scheduler, denoisingEnd);
  const kept = timesteps.filter((t) => t >= cutoff).length;
  if (kept === 0) {
    throw new InvalidArgumentError({
      name: 'denoisingEnd',
      value: denoisingEnd,
      expected: `a fraction that keeps at least one timestep at or above its cutoff ${cutoff} (the run's first timestep is ${timesteps[0]})`,
      fix: 'raise denoisingEnd (e.g. 0.8), or drop it to run the whole schedule',
    });
  }
  return timesteps.slice(0, kept);
}

/**
 * `denoisingStart` (diffusers' SDXL img2img / inpainting `get_timesteps` with `denoising_start`): runs the
 * last `n = count(t < cutoff)` timesteps (+1 for a second-order scheduler when n is even, so a Heun step is
 * not cut in half) and tells the scheduler where it begins. Strength is ignored. Call after `setTimesteps`.
 *
 * @throws {@link InvalidArgumentError} when no timestep lies below the cutoff (nothing would run).
 */
export function denoisingStartSchedule(scheduler: Scheduler, denoisingStart: number): StrengthSchedule {
  const all = scheduler.timesteps;
  const cutoff = timestepCutoff(scheduler, denoisingStart);
  let n = all.filter((t) => t < cutoff).length;
  if (n === 0) {
    throw new InvalidArgumentError({
      name: 'denoisingStart',
      value: denoisingStart,
      expected: `a fraction that leaves at least one timestep below its cutoff ${cutoff} (the schedule's smallest timestep is ${Math.min(...all)})`,
      fix: 'lower denoisingStart (e.g. 0.8), or raise numInferenceSteps',
    });
  }
  if (scheduler.order === 2 && n % 2 === 0) n += 1;
  const startIndex = Math.max(all.length - n, 0);
  scheduler.setBeginIndex?.(startIndex);
  return { timesteps: all.slice(startIndex), startIndex };
}
