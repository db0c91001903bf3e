/**
 * Sigma (noise level) utilities shared by the sigma-based schedulers (Euler, Heun, LMS, KDPM2, DPM-Solver,
 * UniPC, …): numpy-style `interp`, the Karras / exponential / beta sigma schedules,
 * `_sigma_to_t` (sigma → fractional training timestep by log-sigma interpolation) and the beta
 * distribution's quantile function (`scipy.stats.beta.ppf`), all as diffusers computes them.
 *
 * Precision: diffusers computes these schedules in numpy float64 (except where noted) and casts to
 * float32 at the end; these helpers return float64 values and leave the final cast to the caller.
 */
import { linspace } from './numpy.js';

/**
 * `numpy.interp(x, xp, fp)` for one point: piecewise-linear interpolation of `fp` over the increasing
 * abscissae `xp`, clamped to `fp[0]` / `fp[last]` outside. Computed in float64 as numpy does
 * (`slope · (x − xp[j]) + fp[j]`).
 */
export function interp(x: number, xp: ArrayLike<number>, fp: ArrayLike<number>): number {
  const n = xp.length;
  if (x <= xp[0]!) return fp[0]!;
  if (x >= xp[n - 1]!) return fp[n - 1]!;
  // Binary search for j with xp[j] <= x < xp[j+1].
  let lo = 0;
  let hi = n - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (xp[mid]! <= x) lo = mid;
    else hi = mid;
  }
  const x0 = xp[lo]!;
  const x1 = xp[lo + 1]!;
  const f0 = fp[lo]!;
  const f1 = fp[lo + 1]!;
  if (x === x0) return f0;
  const slope = (f1 - f0) / (x1 - x0);
  return slope * (x - x0) + f0;
}

/**
 * `numpy.interp` over an array of points; `xp` defaults to `0, 1, …, fp.length − 1` (the form diffusers
 * uses: `np.interp(timesteps, np.arange(0, len(sigmas)), sigmas)`).
 */
export function interpArray(
  x: ArrayLike<number>,
  fp: ArrayLike<number>,
  xp?: ArrayLike<number>,
): Float64Array {
  const abscissae = xp ?? Float64Array.from({ length: fp.length }, (_, i) => i);
  const out = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = interp(x[i]!, abscissae, fp);
  return out;
}

/**
 * The training sigmas `((1 − ᾱ) / ᾱ) ** 0.5` as diffusers computes them with float32 torch ops (each op
 * rounded to float32), in training-time order (σ for t = 0 first).
 */
export function sigmasFromAlphasCumprod(alphasCumprod: ArrayLike<number>): Float32Array {
  const out = new Float32Array(alphasCumprod.length);
  for (let i = 0; i < out.length; i++) {
    const a = Math.fround(alphasCumprod[i]!);
    out[i] = Math.sqrt(Math.fround(Math.fround(1 - a) / a));
  }
  return out;
}

/** `np.log` of a float32 array: float32 results (numpy keeps the dtype). */
export function logFloat32(values: ArrayLike<number>): Float32Array {
  const out = new Float32Array(values.length);
  for (let i = 0; i < out.length; i++) out[i] = Math.log(values[i]!);
  return out;
}

/** Options of {@link sigmaToT}. */
export interface SigmaToTOptions {
  /**
   * The sigma is a float32 value (diffusers' custom `sigmas` path, `np.array(sigmas).astype(np.float32)`):
   * numpy then computes log σ and the interpolation weight in float32 (the final `t` in float64).
   * Default false (float64 sigma, e.g. from the Karras schedule).
   */
  float32?: boolean;
  /**
   * Everything in float32, the final `t` included: the case where diffusers passes torch tensors
   * (KDPM2's interpolated sigmas with `self.log_sigmas`), so torch does the arithmetic. Implies `float32`.
   */
  torch?: boolean;
}

/**
 * diffusers' `_sigma_to_t`: the fractional training timestep whose (log-linearly interpolated) sigma is
 * `sigma`. `logSigmas` is `np.log(training sigmas)` in training-time order (increasing), float32 as
 * diffusers holds it. The weight is clipped to [0, 1], so sigmas outside the training range map to
 * the end points. Result in float64.
 */
export function sigmaToT(sigma: number, logSigmas: ArrayLike<number>, options: SigmaToTOptions = {}): number {
  const f32 = options.float32 === true || options.torch === true;
  const r = f32 ? Math.fround : (v: number) => v;
  const logSigma = r(Math.log(Math.max(f32 ? Math.fround(sigma) : sigma, 1e-10)));
  const n = logSigmas.length;
  // low_idx = (number of log_sigmas <= log_sigma) − 1 via cumsum(...).argmax, clipped to [0, n − 2].
  // cumsum of the boolean column is non-decreasing; argmax picks its first maximal entry, which is the
  // last index with dists >= 0 (or 0 when none is).
  let last = 0;
  for (let i = 0; i < n; i++) if (r(logSigma - logSigmas[i]!) >= 0) last = i;
  const lowIdx = Math.min(last, n - 2);
  const highIdx = lowIdx + 1;
  const low = logSigmas[lowIdx]!;
  const high = logSigmas[highIdx]!;
  // `low - high` is float32 − float32 in numpy: rounded to float32.
  let w = r(r(low - logSigma) / Math.fround(low - high));
  w = Math.min(Math.max(w, 0), 1);
  if (options.torch === true)
    return Math.fround(Math.fround(Math.fround(1 - w) * lowIdx) + Math.fround(w * highIdx));
  return r(1 - w) * lowIdx + w * highIdx;
}

/**
 * The Karras et al. (2022) schedule of `num` sigmas from `sigmaMax` down to `sigmaMin`:
 * `(σmax^(1/ρ) + ramp · (σmin^(1/ρ) − σmax^(1/ρ)))^ρ` with `ramp = linspace(0, 1, num)`, float64.
 */
export function karrasSigmas(sigmaMin: number, sigmaMax: number, num: number, rho = 7.0): Float64Array {
  const ramp = linspace(0, 1, num);
  const minInvRho = sigmaMin ** (1 / rho);
  const maxInvRho = sigmaMax ** (1 / rho);
  const out = new Float64Array(num);
  for (let i = 0; i < num; i++) out[i] = (maxInvRho + ramp[i]! * (minInvRho - maxInvRho)) ** rho;
  return out;
}

/** The exponential schedule: `exp(linspace(log σmax, log σmin, num))`, float64. */
export function exponentialSigmas(sigmaMin: number, sigmaMax: number, num: number): Float64Array {
  const logs = linspace(Math.log(sigmaMax), Math.log(sigmaMin), num);
  return logs.map((v) => Math.exp(v));
}

/** A sigma schedule that diffusers' `use_karras_sigmas` / `use_exponential_sigmas` / `use_beta_sigmas` selects. */
export type SigmaScheduleKind = 'karras' | 'exponential' | 'beta';

/**
 * `num` sigmas of the Karras, exponential or beta schedule between `sigmaMin` and `sigmaMax` (descending,
 * float64): {@link karrasSigmas}, {@link exponentialSigmas} or {@link betaSigmas}.
 */
export function convertSigmas(
  kind: SigmaScheduleKind,
  sigmaMin: number,
  sigmaMax: number,
  num: number,
): Float64Array {
  if (kind === 'karras') return karrasSigmas(sigmaMin, sigmaMax, num);
  if (kind === 'exponential') return exponentialSigmas(sigmaMin, sigmaMax, num);
  return betaSigmas(sigmaMin, sigmaMax, num);
}

/**
 * The beta schedule of "Beta Sampling is All You Need" (Lee et al. 2024), as diffusers'
 * `_convert_to_beta`: `σmin + ppf(1 − linspace(0, 1, num)[i]; α, β) · (σmax − σmin)`, float64.
 */
export function betaSigmas(
  sigmaMin: number,
  sigmaMax: number,
  num: number,
  alpha = 0.6,
  beta = 0.6,
): Float64Array {
  const ts = linspace(0, 1, num);
  const out = new Float64Array(num);
  for (let i = 0; i < num; i++) out[i] = sigmaMin + betaPpf(1 - ts[i]!, alpha, beta) * (sigmaMax - sigmaMin);
  return out;
}

// Lanczos approximation (g = 7, n = 9): log Γ to about 1e-15 relative for positive arguments.
const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
  12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];

/** log Γ(x) for x > 0 (Lanczos, reflection below 0.5). */
export function logGamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - logGamma(1 - x);
  const z = x - 1;
  let a = LANCZOS[0]!;
  const t = z + 7.5;
  for (let i = 1; i < 9; i++) a += LANCZOS[i]! / (z + i);
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(a);
}

/** Continued fraction of the incomplete beta function (modified Lentz), for x < (a + 1) / (a + b + 2). */
function betaContinuedFraction(x: number, a: number, b: number): number {
  const tiny = 1e-300;
  const qab = a + b;
  const qap = a + 1;
  const qam = a - 1;
  let c = 1;
  let d = 1 - (qab * x) / qap;
  if (Math.abs(d) < tiny) d = tiny;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= 10000; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((qam + m2) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    h *= d * c;
    aa = (-(a + m) * (qab + m) * x) / ((a + m2) * (qap + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < 1e-16) break;
  }
  return h;
}

/** The regularized incomplete beta function I_x(a, b): the CDF of Beta(a, b) at x. */
export function betaCdf(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const logFront = a * Math.log(x) + b * Math.log1p(-x) - (logGamma(a) + logGamma(b) - logGamma(a + b));
  const front = Math.exp(logFront);
  if (x < (a + 1) / (a + b + 2)) return (front * betaContinuedFraction(x, a, b)) / a;
  return 1 - (front * betaContinuedFraction(1 - x, b, a)) / b;
}

/**
 * The quantile function of Beta(a, b) (`scipy.stats.beta.ppf(p, a, b)`): the x in [0, 1] with
 * `betaCdf(x, a, b) = p`. Safeguarded Newton iteration inside a shrinking bisection bracket, to full
 * float64 precision of the CDF.
 */
export function betaPpf(p: number, a: number, b: number): number {
  if (Number.isNaN(p) || p < 0 || p > 1) return Number.NaN;
  if (p === 0) return 0;
  if (p === 1) return 1;
  const logBeta = logGamma(a) + logGamma(b) - logGamma(a + b);
  let lo = 0;
  let hi = 1;
  // Start from the tail approximations (I_x ≈ x^a / (a B) near 0, 1 − (1−x)^b / (b B) near 1).
  const x0 = Math.exp((Math.log(p) + Math.log(a) + logBeta) / a);
  const x1 = 1 - Math.exp((Math.log1p(-p) + Math.log(b) + logBeta) / b);
  let x = p < 0.5 ? Math.min(x0, 0.5) : Math.max(x1, 0.5);
  if (!(x > 0 && x < 1)) x = 0.5;
  for (let iter = 0; iter < 300; iter++) {
    const f = betaCdf(x, a, b) - p;
    if (f === 0) return x;
    if (f < 0) lo = x;
    else hi = x;
    const pdf = Math.exp((a - 1) * Math.log(x) + (b - 1) * Math.log1p(-x) - logBeta);
    let next = x - f / pdf;
    if (!(next > lo && next < hi) || !Number.isFinite(next)) next = 0.5 * (lo + hi);
    if (Math.abs(next - x) <= 1e-16 * Math.max(x, 1e-300) || hi - lo <= 4e-16 * Math.max(hi, 1e-300))
      return next;
    x = next;
  }
  return x;
}

/**
 * The index of `timestep` in `timesteps` as diffusers' `index_for_timestep` picks it: the second match
 * when the value occurs more than once (so a schedule entered part-way does not skip a sigma), else the
 * first; −1 when the value is absent (callers decide whether that is an error). A float32 schedule
 * also matches the timestep rounded to float32, as torch compares a float32 tensor with a Python float.
 */
export function indexForTimestep(timesteps: ArrayLike<number>, timestep: number): number {
  const t32 = Math.fround(timestep);
  let first = -1;
  for (let i = 0; i < timesteps.length; i++) {
    const v = timesteps[i];
    if (v === timestep || v === t32) {
      if (first >= 0) return i;
      first = i;
    }
  }
  return first;
}
