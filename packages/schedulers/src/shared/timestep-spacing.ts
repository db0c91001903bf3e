/**
 * diffusers' `timestep_spacing` (Table 2 of "Common Diffusion Noise Schedules and Sample Steps are Flawed")
 * and the three ways its scheduler families turn it into integer timesteps — they differ, so each family
 * has its own clearly named function here:
 * - {@link discreteTimesteps}: DDIM, DDPM, PNDM (n points over [0, T − 1]);
 * - {@link sigmaTimesteps}: the k-diffusion-style schedulers (Euler, Euler ancestral, Heun, LMS, KDPM2),
 *   float32 values;
 * - {@link dpmSolverTimesteps}: DPM-Solver (multi/singlestep), DEIS, UniPC (n + 1 points, `leading`
 *   divides by n + 1).
 */
import { InvalidArgumentError } from '@latentkit/core';
import { arange, linspace, roundHalfEven } from './numpy.js';

/** The `timestep_spacing` values of diffusers. */
export const TIMESTEP_SPACINGS = ['linspace', 'leading', 'trailing'] as const;

/** One of {@link TIMESTEP_SPACINGS}. */
export type TimestepSpacing = (typeof TIMESTEP_SPACINGS)[number];

/**
 * The integer timesteps DDIM and DDPM use for `n` steps, in descending order, as their
 * `set_timesteps` computes them:
 * - linspace: `round(linspace(0, T−1, n))`;
 * - leading: `arange(n)·(T // n) + steps_offset`;
 * - trailing: `round(arange(T, 0, −T/n)) − 1` (the first n of them).
 */
export function discreteTimesteps(
  spacing: TimestepSpacing,
  trainSteps: number,
  n: number,
  stepsOffset: number,
): number[] {
  switch (spacing) {
    case 'linspace':
      return Array.from(linspace(0, trainSteps - 1, n), roundHalfEven).reverse();
    case 'leading': {
      const ratio = Math.floor(trainSteps / n);
      return Array.from({ length: n }, (_, i) => (n - 1 - i) * ratio + stepsOffset);
    }
    case 'trailing':
      // numpy's arange length, ceil(T / (T/n)), is n + 1 for some n (61, 103, …), which gives diffusers a
      // bogus last timestep of −1; only the n real ones are kept.
      return Array.from(arange(trainSteps, 0, -trainSteps / n).subarray(0, n), (t) => roundHalfEven(t) - 1);
  }
}

/**
 * The inference timesteps of the k-diffusion-style schedulers (Euler, Euler ancestral, Heun, LMS, KDPM2),
 * as float32 values in denoising order, for `timestep_spacing`:
 * - `linspace`: `np.linspace(0, T − 1, n)` reversed;
 * - `leading`: `round(arange(n) · (T // n))` reversed, plus `steps_offset`;
 * - `trailing`: `round(arange(T, 0, −T / n)) − 1`.
 */
export function sigmaTimesteps(
  spacing: TimestepSpacing,
  numTrainTimesteps: number,
  numInferenceSteps: number,
  stepsOffset = 0,
): Float32Array {
  const n = numInferenceSteps;
  const T = numTrainTimesteps;
  if (spacing === 'linspace') {
    const lin = linspace(0, T - 1, n);
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = lin[n - 1 - i]!;
    return out;
  }
  if (spacing === 'leading') {
    const ratio = Math.floor(T / n);
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = Math.fround(roundHalfEven((n - 1 - i) * ratio)) + stepsOffset;
    return out;
  }
  return Float32Array.from(arange(T, 0, -T / n), (v) => Math.fround(roundHalfEven(v)) - 1);
}

/**
 * The integer timesteps of the DPM-Solver family (DPMSolverMultistep/Singlestep, DEIS, UniPC) for `n`
 * steps: `linspace` (n + 1 points over [0, lastTimestep − 1], the first dropped), `leading` (ratio
 * `lastTimestep // (n + 1)`, plus `steps_offset`) or `trailing` (ratio `numTrain / n` counting down from
 * `lastTimestep`, minus 1), as their `set_timesteps` computes them. `lastTimestep` is T less the steps
 * clipped by `lambda_min_clipped`.
 */
export function dpmSolverTimesteps(
  className: string,
  spacing: string,
  n: number,
  numTrain: number,
  lastTimestep: number,
  stepsOffset: number,
): number[] {
  switch (spacing) {
    case 'linspace': {
      const ts = linspace(0, lastTimestep - 1, n + 1);
      const out: number[] = [];
      for (let i = n; i >= 1; i--) out.push(roundHalfEven(ts[i]!));
      return out;
    }
    case 'leading': {
      const ratio = Math.floor(lastTimestep / (n + 1));
      const out: number[] = [];
      for (let i = n; i >= 1; i--) out.push(i * ratio + stepsOffset);
      return out;
    }
    case 'trailing': {
      const ratio = numTrain / n;
      return Array.from(arange(lastTimestep, 0, -ratio), (t) => Math.trunc(roundHalfEven(t)) - 1);
    }
    default:
      throw new InvalidArgumentError({
        name: `${className} config timestep_spacing`,
        value: spacing,
        expected: 'one of "linspace", "leading", "trailing"',
      });
  }
}
