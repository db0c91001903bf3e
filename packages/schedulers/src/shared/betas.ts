import { InvalidArgumentError } from '@latentkit/core';
import type { SchedulerConfig } from './config.js';
import { MAX_TRAIN_TIMESTEPS } from './config-ranges.js';

/** Lanes of torch's float32 `Vectorized` on AVX2, the kernel torch's CPU linspace runs on x86. */
const VEC_LANES = 8;

/**
 * `torch.linspace(start, end, steps, dtype=torch.float32)` as torch's CPU kernel computes it:
 * `step = (end − start)/(steps − 1)` in float32; the first half counts up from `start`, the second half
 * counts down from `end`. The kernel fills 2×8 elements at a time with `Vectorized::arange(base, step)`
 * (`base + k·step` per lane, `base` taken from the block's first index, so a block that starts before the
 * halfway point is counted up even past it) and the tail one by one; this reproduces that rounding.
 */
export function linspaceFloat32(start: number, end: number, steps: number): Float32Array {
  const fr = Math.fround;
  const out = new Float32Array(steps);
  if (steps === 1) {
    out[0] = start;
    return out;
  }
  const s = fr(start);
  const e = fr(end);
  const step = fr(fr(e - s) / (steps - 1));
  const half = Math.floor(steps / 2);
  const scalar = (i: number): number =>
    i < half ? fr(s + fr(step * i)) : fr(e - fr(step * (steps - i - 1)));
  let i = 0;
  for (; i <= steps - 2 * VEC_LANES; i += 2 * VEC_LANES) {
    for (let v = i; v < i + 2 * VEC_LANES; v += VEC_LANES) {
      const base = scalar(v);
      for (let k = 0; k < VEC_LANES; k++) out[v + k] = fr(base + fr(k * step));
    }
  }
  for (; i < steps; i++) out[i] = scalar(i);
  return out;
}

/** Whether `value` is a usable β: a finite number strictly between 0 and 1 (else ᾱ or σ is NaN/Infinity). */
function isBeta(value: unknown): value is number {
  return typeof value === 'number' && value > 0 && value < 1;
}

/** Reads `beta_start` / `beta_end`, which must be in (0, 1). */
function betaKey(className: string, config: SchedulerConfig, key: 'beta_start' | 'beta_end'): number {
  const value = config[key];
  if (isBeta(value)) return value;
  throw new InvalidArgumentError({
    name: `${className} config ${key}`,
    value,
    expected: 'a number strictly between 0 and 1 (a β is a variance fraction)',
    fix: "use the model's values (Stable Diffusion: beta_start 0.00085, beta_end 0.012), or null for the defaults",
  });
}

/**
 * Reads a `trained_betas` list: an array (or typed array) of exactly `numTrainTimesteps` numbers, each in
 * (0, 1). diffusers takes the list's length as the schedule's and `num_train_timesteps` for the timesteps,
 * so a list of another length silently indexes past its end; here it is an error.
 */
function trainedBetas(className: string, trained: unknown, numTrainTimesteps: number): Float32Array {
  const fix = 'give one β in (0, 1) per training timestep, or null to use beta_schedule';
  const list = Array.isArray(trained)
    ? trained
    : ArrayBuffer.isView(trained)
      ? Array.from(trained as Float32Array)
      : null;
  if (list === null) {
    throw new InvalidArgumentError({
      name: `${className} config trained_betas`,
      value: trained,
      expected: 'a list of numbers, or null',
      fix,
    });
  }
  if (list.length !== numTrainTimesteps) {
    throw new InvalidArgumentError({
      name: `${className} config trained_betas`,
      value: `a list of ${list.length} numbers`,
      expected: `num_train_timesteps (${numTrainTimesteps}) numbers`,
      fix,
    });
  }
  const bad = list.findIndex((b) => !isBeta(b));
  if (bad >= 0) {
    throw new InvalidArgumentError({
      name: `${className} config trained_betas[${bad}]`,
      value: list[bad],
      expected: 'a number strictly between 0 and 1',
      fix,
    });
  }
  return Float32Array.from(list as number[]);
}

/** The ᾱ(t) of the cosine schedule ("squaredcos_cap_v2") and its exponential variant, in float64. */
function alphaBar(t: number, transform: 'cosine' | 'exp'): number {
  if (transform === 'exp') return Math.exp(t * -12.0);
  return Math.cos(((t + 0.008) / 1.008) * Math.PI * 0.5) ** 2;
}

/** diffusers' `betas_for_alpha_bar`: betas from a continuous ᾱ(t), capped at `maxBeta`. */
export function betasForAlphaBar(
  steps: number,
  maxBeta = 0.999,
  transform: 'cosine' | 'exp' = 'cosine',
): Float32Array {
  const betas = new Float32Array(steps);
  for (let i = 0; i < steps; i++) {
    const t1 = i / steps;
    const t2 = (i + 1) / steps;
    betas[i] = Math.min(1 - alphaBar(t2, transform) / alphaBar(t1, transform), maxBeta);
  }
  return betas;
}

/** The `beta_schedule` names every beta-based diffusers scheduler accepts. */
export const BETA_SCHEDULES = ['linear', 'scaled_linear', 'squaredcos_cap_v2'] as const;

/**
 * The betas of a diffusers config: `trained_betas` if given, else `beta_schedule` over
 * `num_train_timesteps`: linear, scaled_linear, squaredcos_cap_v2, and — where `schedules` lists it, as
 * for DDPMScheduler — GeoDiff's sigmoid schedule.
 */
export function betasFromConfig(
  className: string,
  config: SchedulerConfig,
  schedules: readonly string[] = BETA_SCHEDULES,
): Float32Array {
  const n = config.num_train_timesteps as number;
  const trained = config.trained_betas;
  if (trained !== null && trained !== undefined) return trainedBetas(className, trained, n);
  const schedule = config.beta_schedule;
  if (typeof schedule !== 'string' || !schedules.includes(schedule)) {
    throw new InvalidArgumentError({
      name: `${className} config beta_schedule`,
      value: schedule,
      expected: `one of ${schedules.map((c) => JSON.stringify(c)).join(', ')}, or a trained_betas list`,
    });
  }
  const start = schedule === 'squaredcos_cap_v2' ? 0 : betaKey(className, config, 'beta_start');
  const end = schedule === 'squaredcos_cap_v2' ? 0 : betaKey(className, config, 'beta_end');
  switch (schedule) {
    case 'linear':
      return linspaceFloat32(start, end, n);
    case 'scaled_linear': {
      const roots = linspaceFloat32(Math.sqrt(start), Math.sqrt(end), n);
      return roots.map((r) => r * r);
    }
    case 'sigmoid': {
      // sigmoid(linspace(-6, 6)) · (end − start) + start; the Python scalars are cast to float32.
      const x = linspaceFloat32(-6, 6, n);
      const range = Math.fround(end - start);
      const offset = Math.fround(start);
      return x.map((v) => Math.fround(Math.fround(1 / (1 + Math.exp(-v))) * range) + offset);
    }
    default:
      return betasForAlphaBar(n);
  }
}

/** `torch.cumprod(1 − betas)`: torch's CPU kernel accumulates float32 products in float64. */
export function alphasCumprodFromBetas(betas: Float32Array): Float32Array {
  const out = new Float32Array(betas.length);
  let acc = 1;
  for (let i = 0; i < betas.length; i++) {
    acc *= Math.fround(1 - betas[i]!);
    out[i] = acc;
  }
  return out;
}

/**
 * diffusers' `rescale_zero_terminal_snr` (Lin et al. 2023, Algorithm 1): shifts and scales √ᾱ so the
 * last timestep has zero SNR, then recovers betas. Computed in float32 steps as torch does.
 */
export function rescaleZeroTerminalSnr(betas: Float32Array): Float32Array {
  const n = betas.length;
  const sqrtBar = new Float32Array(n);
  const cum = alphasCumprodFromBetas(betas);
  for (let i = 0; i < n; i++) sqrtBar[i] = Math.sqrt(cum[i]!);
  const first = sqrtBar[0]!;
  const last = sqrtBar[n - 1]!;
  const shifted = new Float32Array(n);
  for (let i = 0; i < n; i++) shifted[i] = sqrtBar[i]! - last;
  const scale = Math.fround(first / Math.fround(first - last));
  const alphaBarNew = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const v = Math.fround(shifted[i]! * scale);
    alphaBarNew[i] = v * v;
  }
  const out = new Float32Array(n);
  out[0] = 1 - alphaBarNew[0]!;
  for (let i = 1; i < n; i++) out[i] = 1 - Math.fround(alphaBarNew[i]! / alphaBarNew[i - 1]!);
  return out;
}

/** Checks the config keys every beta-based scheduler shares (see also `checkConfigRanges`). */
export function checkBetaConfig(className: string, config: SchedulerConfig): void {
  const n = config.num_train_timesteps;
  if (!Number.isInteger(n) || (n as number) < 1 || (n as number) > MAX_TRAIN_TIMESTEPS) {
    throw new InvalidArgumentError({
      name: `${className} config num_train_timesteps`,
      value: n,
      expected: `an integer from 1 to ${MAX_TRAIN_TIMESTEPS}`,
      fix: "use the model's own value (1000 for every Stable Diffusion model)",
    });
  }
}
