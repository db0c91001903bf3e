/**
 * The numpy arithmetic diffusers lays out timesteps and sigmas with (`np.linspace`, `np.arange`,
 * `np.round`), reproduced in float64 as numpy computes it — so the rounding of every value, and so every
 * tie broken by `np.round`, is numpy's.
 */

/**
 * `np.linspace(start, stop, num, endpoint)` in float64, as numpy computes it: `i · step + start` with
 * `step = (stop − start) / div` (div = num − 1, or num without the end point), and the last value set to
 * `stop` exactly when `endpoint`.
 */
export function linspace(start: number, stop: number, num: number, endpoint = true): Float64Array {
  const out = new Float64Array(num);
  const div = endpoint ? num - 1 : num;
  if (div <= 0) {
    out.fill(start);
    return out;
  }
  const delta = stop - start;
  const step = delta / div;
  // numpy scales i/div by delta instead when the step underflows to 0.
  for (let i = 0; i < num; i++) out[i] = (step === 0 ? (i / div) * delta : i * step) + start;
  if (endpoint && num > 1) out[num - 1] = stop;
  return out;
}

/**
 * `np.arange(start, stop, step)` for float arguments: `ceil((stop − start) / step)` values
 * `start + i · delta`, where numpy's fill takes `delta = (start + step) − start` (which can differ from
 * `step` in the last bit: `np.arange(1000, 0, -1000/48)[3]` is 937.4999999999999, not 937.5).
 */
export function arange(start: number, stop: number, step: number): Float64Array {
  const length = Math.max(0, Math.ceil((stop - start) / step));
  const out = new Float64Array(length);
  if (length === 0) return out;
  const delta = start + step - start;
  out[0] = start;
  for (let i = 1; i < length; i++) out[i] = start + i * delta;
  return out;
}

/** `np.round`: round half to even, as numpy rounds (JavaScript's `Math.round` rounds half up). */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}
