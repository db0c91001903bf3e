/**
 * The numpy arithmetic diffusers uses to lay out integer timesteps (`np.arange`, `np.linspace`,
 * `np.round`), reproduced in float64 as numpy computes it, and the DDPM family's three spacings.
 */

/** The `timestep_spacing` values of diffusers (Table 2 of "Common Diffusion Noise Schedules and Sample Steps are Flawed"). */
export const TIMESTEP_SPACINGS = ['linspace', 'leading', 'trailing'] as const;

/** One of {@link TIMESTEP_SPACINGS}. */
export type TimestepSpacing = (typeof TIMESTEP_SPACINGS)[number];

/** `np.round`: round half to even. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  // Math.round rounds .5 up; numpy rounds ties to the even neighbour.
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * `np.arange(start, stop, step)` for float arguments: length `ceil((stop − start)/step)`, values
 * `start + i·delta` with `delta = (start + step) − start`, as numpy's fill computes them.
 */
export function numpyArange(start: number, stop: number, step: number): number[] {
  const length = Math.max(0, Math.ceil((stop - start) / step));
  if (length === 0) return [];
  const delta = start + step - start;
  const out = new Array<number>(length);
  out[0] = start;
  for (let i = 1; i < length; i++) out[i] = start + i * delta;
  return out;
}

/** `np.linspace(start, stop, num, endpoint)`: `start + i·step`, and exactly `stop` last when `endpoint`. */
export function numpyLinspace(start: number, stop: number, num: number, endpoint = true): number[] {
  const div = endpoint ? num - 1 : num;
  const out = new Array<number>(num);
  const delta = stop - start;
  const step = div > 0 ? delta / div : Number.NaN;
  for (let i = 0; i < num; i++)
    out[i] = div > 0 ? (step === 0 ? (i / div) * delta : i * step) + start : start;
  if (endpoint && num > 1) out[num - 1] = stop;
  return out;
}

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
      return numpyLinspace(0, trainSteps - 1, n)
        .map(roundHalfEven)
        .reverse();
    case 'leading': {
      const ratio = Math.floor(trainSteps / n);
      return Array.from({ length: n }, (_, i) => (n - 1 - i) * ratio + stepsOffset);
    }
    case 'trailing':
      // numpy's arange length, ceil(T / (T/n)), is n + 1 for some n (61, 103, …), which gives diffusers a
      // bogus last timestep of −1; only the n real ones are kept.
      return numpyArange(trainSteps, 0, -trainSteps / n)
        .slice(0, n)
        .map((t) => roundHalfEven(t) - 1);
  }
}
