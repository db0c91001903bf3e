import {
  InvalidArgumentError,
  type Scheduler,
  type SchedulerStepOptions,
  type SchedulerStepOutput,
  ShapeMismatchError,
  Tensor,
} from '@latentkit/core';
import { alphasCumprodFromBetas, betasFromConfig, checkBetaConfig, rescaleZeroTerminalSnr } from './betas.js';
import type { SchedulerConfig } from './config.js';
import { betaScheduleKey, memoArrays } from './schedule-memo.js';
import { SchedulerBase } from './scheduler-base.js';
import { indexForTimestep, sigmasFromAlphasCumprod } from './sigmas.js';

/**
 * What the sigma-based schedulers (Euler, Heun, LMS, KDPM2, EDM, flow matching) share, as diffusers'
 * copies of it behave: the step-index counter (`_step_index`, `_begin_index`, `_init_step_index` with the
 * "second occurrence" rule), `add_noise`, input checks and the noise source. Each subclass owns its
 * schedule (`sigmas`, `timesteps`) and its `step`.
 */
export abstract class SigmaScheduler extends SchedulerBase implements Scheduler {
  /** The diffusers config, snake_case, defaults filled in, with `_class_name`. */
  abstract override readonly config: Readonly<Record<string, unknown>>;
  /** Model evaluations per solver step. */
  abstract readonly order: number;
  /** The standard deviation of the initial noise. */
  abstract readonly initNoiseSigma: number;
  /** One step back in time. */
  abstract step(
    modelOutput: Tensor,
    timestep: number,
    sample: Tensor,
    options?: SchedulerStepOptions,
  ): SchedulerStepOutput;
  /** Prepares the schedule for `numInferenceSteps` steps. */
  abstract setTimesteps(numInferenceSteps: number): void;

  /**
   * Scales the denoiser input for the current timestep: by default the k-diffusion scaling
   * `sample / √(σ² + 1)` (float32, as torch) that diffusers' Euler, Euler a, Heun and LMS share;
   * EDM, flow matching and KDPM2 override it.
   */
  scaleModelInput(sample: Tensor, timestep: number): Tensor {
    this.requireSchedule('scaleModelInput');
    return scaleBySigma(sample, this.sigmasData[this.initStepIndex(timestep)]!);
  }

  /** The sigma of each schedule entry, float32 as diffusers holds them (one more than `timesteps` or so). */
  protected sigmasData: Float32Array = new Float32Array(0);
  /** The timesteps of the schedule (float32 values, or float64 where diffusers keeps a float64 tensor). */
  protected timestepValues: readonly number[] = Object.freeze([]);
  /** `None` in diffusers until `set_timesteps` runs; step() refuses to run before. */
  protected numInferenceStepsValue: number | null = null;
  /** diffusers' `_step_index`. */
  protected stepIndexValue: number | null = null;
  /** diffusers' `_begin_index`. */
  protected beginIndexValue: number | null = null;

  /** The class name used in error messages. */
  protected abstract get className(): string;

  /** The timesteps of the current schedule, as diffusers holds them. */
  get timesteps(): readonly number[] {
    return this.timestepValues;
  }

  /** The sigmas of the current schedule (a copy), float32 values. */
  get sigmas(): readonly number[] {
    return Array.from(this.sigmasData);
  }

  /** The number of inference steps of the current schedule, or null before `setTimesteps`. */
  get numInferenceSteps(): number | null {
    return this.numInferenceStepsValue;
  }

  /** diffusers' `step_index`: the index of the next step, or null before the first step. */
  get stepIndex(): number | null {
    return this.stepIndexValue;
  }

  /** diffusers' `begin_index`: set by {@link setBeginIndex} for img2img, else null. */
  get beginIndex(): number | null {
    return this.beginIndexValue;
  }

  /** Starts the schedule at index `beginIndex` (img2img): diffusers' `set_begin_index`. */
  setBeginIndex(beginIndex = 0): void {
    if (!Number.isInteger(beginIndex) || beginIndex < 0) {
      throw new InvalidArgumentError({
        name: `${this.className}.setBeginIndex beginIndex`,
        value: beginIndex,
        expected: 'a non-negative integer index into scheduler.timesteps',
      });
    }
    this.beginIndexValue = beginIndex;
  }

  /** Ends `setTimesteps`: records the step count and clears the step and begin indices, as diffusers does. */
  protected startSchedule(numInferenceSteps: number): void {
    this.numInferenceStepsValue = numInferenceSteps;
    this.stepIndexValue = null;
    this.beginIndexValue = null;
  }

  /** Throws unless `setTimesteps` has run. */
  protected requireSchedule(method: string): void {
    if (this.numInferenceStepsValue === null) {
      throw new InvalidArgumentError({
        name: `${this.className}.${method}`,
        expected: 'a schedule: call setTimesteps(numInferenceSteps) first',
        fix: `call scheduler.setTimesteps(n) before scheduler.${method}(...)`,
      });
    }
  }

  /** diffusers' `index_for_timestep`, throwing a typed error when the timestep is not in the schedule. */
  protected indexForTimestep(timestep: number): number {
    const index = indexForTimestep(this.timestepValues, timestep);
    if (index < 0) {
      throw new InvalidArgumentError({
        name: `${this.className} timestep`,
        value: timestep,
        expected: 'one of scheduler.timesteps',
        fix: 'pass the values of scheduler.timesteps (after setTimesteps) as the timestep',
      });
    }
    return index;
  }

  /** diffusers' `_init_step_index`: the begin index if set, else the timestep's position. */
  protected initStepIndex(timestep: number): number {
    if (this.stepIndexValue === null) {
      this.stepIndexValue = this.beginIndexValue ?? this.indexForTimestep(timestep);
    }
    return this.stepIndexValue;
  }

  /** Throws when stepping past the end of the schedule (`last` is the largest index a step may read). */
  protected checkInRange(index: number, last: number): void {
    if (index > last) {
      throw new InvalidArgumentError({
        name: `${this.className}.step`,
        value: index,
        expected: `a step index of at most ${last}: the schedule of ${this.numInferenceStepsValue} steps is finished`,
        fix: 'call setTimesteps again before another denoising loop',
      });
    }
  }

  /** Checks that two tensors have the same shape. */
  protected checkSameShape(a: Tensor, b: Tensor, nameA: string, nameB: string): void {
    const same = a.shape.length === b.shape.length && a.shape.every((d, i) => d === b.shape[i]);
    if (!same) {
      throw new ShapeMismatchError({
        name: `${this.className} ${nameB}`,
        value: b.shape,
        expected: `the shape of ${nameA}, [${a.shape.join(', ')}]`,
      });
    }
  }

  /**
   * The schedule index `add_noise` uses: the timestep's index (no begin index), the current step index
   * (inpainting, after the first step), or the begin index (img2img, before the first step).
   */
  protected addNoiseIndex(timestep: number): number {
    if (this.beginIndexValue === null) return this.indexForTimestep(timestep);
    return this.stepIndexValue ?? this.beginIndexValue;
  }

  /**
   * diffusers' `add_noise` for sigma schedulers: `original + noise · σ`, with σ at the timestep's
   * index (no begin index), the current step index (inpainting, after the first step), or the begin
   * index (img2img, before the first step). float32 per op, as torch.
   */
  addNoise(original: Tensor, noise: Tensor, timestep: number): Tensor {
    this.requireSchedule('addNoise');
    this.checkSameShape(original, noise, 'original', 'noise');
    const sigma = this.sigmasData[this.addNoiseIndex(timestep)]!;
    const o = original.data;
    const n = noise.data;
    const out = new Float32Array(o.length);
    for (let i = 0; i < out.length; i++) out[i] = o[i]! + Math.fround(n[i]! * sigma);
    return new Tensor(out, original.shape);
  }
}

/**
 * The ᾱ of a beta-based config (`trained_betas` or `beta_schedule`), optionally rescaled to zero terminal
 * SNR with the last ᾱ set to 2^-24 as diffusers' Euler schedulers do.
 */
export function alphasCumprodForConfig(
  className: string,
  config: SchedulerConfig,
  rescaleZeroSnr = false,
): Float32Array {
  checkBetaConfig(className, config);
  return memoArrays(betaScheduleKey('cumprod', className, config, rescaleZeroSnr), () => {
    let betas = betasFromConfig(className, config);
    if (rescaleZeroSnr) betas = rescaleZeroTerminalSnr(betas);
    const cumprod = alphasCumprodFromBetas(betas);
    if (rescaleZeroSnr) cumprod[cumprod.length - 1] = 2 ** -24;
    return [cumprod];
  })[0]!;
}

/** The training sigmas (float32, training order) of an ᾱ schedule: see {@link sigmasFromAlphasCumprod}. */
export const trainingSigmas = sigmasFromAlphasCumprod;

/** `max(sigmas)` for linspace/trailing spacing, else `sqrt(max² + 1)`, in float32 as torch computes it. */
export function initNoiseSigmaFor(sigmas: Float32Array, spacing: unknown): number {
  let max = Number.NEGATIVE_INFINITY;
  for (const s of sigmas) if (s > max) max = s;
  if (spacing === 'linspace' || spacing === 'trailing') return max;
  return Math.fround(Math.sqrt(Math.fround(Math.fround(max * max) + 1)));
}

/** Reads a boolean config key, rejecting non-booleans with a typed error (null/undefined → false). */
export function configBool(className: string, config: SchedulerConfig, key: string): boolean {
  const v = config[key];
  if (v === null || v === undefined) return false;
  if (typeof v !== 'boolean') {
    throw new InvalidArgumentError({
      name: `${className} config ${key}`,
      value: v,
      expected: 'true or false',
    });
  }
  return v;
}

/** Reads a finite number config key, or null when null/undefined; other values throw a typed error. */
export function configNumber(className: string, config: SchedulerConfig, key: string): number | null {
  const v = config[key];
  if (v === null || v === undefined) return null;
  if (typeof v !== 'number' || Number.isNaN(v)) {
    throw new InvalidArgumentError({ name: `${className} config ${key}`, value: v, expected: 'a number' });
  }
  return v;
}

/** Throws unless at most one of use_karras_sigmas / use_exponential_sigmas / use_beta_sigmas is set. */
export function checkOneSigmaSchedule(
  className: string,
  config: SchedulerConfig,
): 'karras' | 'exponential' | 'beta' | null {
  const karras = configBool(className, config, 'use_karras_sigmas');
  const exponential = configBool(className, config, 'use_exponential_sigmas');
  const beta = configBool(className, config, 'use_beta_sigmas');
  if (Number(karras) + Number(exponential) + Number(beta) > 1) {
    throw new InvalidArgumentError({
      name: `${className} config use_karras_sigmas / use_exponential_sigmas / use_beta_sigmas`,
      value: [karras, exponential, beta],
      expected: 'at most one of them true',
    });
  }
  return karras ? 'karras' : exponential ? 'exponential' : beta ? 'beta' : null;
}

/** Checks `numInferenceSteps` (a positive integer). */
export function checkInferenceSteps(className: string, n: number): void {
  if (!Number.isInteger(n) || n < 1) {
    throw new InvalidArgumentError({
      name: `${className}.setTimesteps numInferenceSteps`,
      value: n,
      expected: 'a positive integer',
    });
  }
}

/** A typed error for a bad `setTimesteps` argument or option combination. */
export function setTimestepsError(className: string, name: string, expected: string): InvalidArgumentError {
  return new InvalidArgumentError({ name: `${className}.setTimesteps ${name}`, expected });
}

/** Options of `setTimesteps` where diffusers accepts custom schedules. */
export interface CustomScheduleOptions {
  /** Custom timesteps (denoising order); the step count is then their count. */
  timesteps?: readonly number[];
  /** Custom sigmas (denoising order); see each scheduler for whether the final sigma is included. */
  sigmas?: readonly number[];
}

/**
 * A step result whose `predOriginalSample` is computed only when read (most loops never read it), so
 * a step allocates and writes one tensor, not two.
 */
export function stepOutput(
  prev: Float32Array,
  shape: readonly number[],
  computePred: () => Float32Array,
): SchedulerStepOutput {
  let pred: Tensor | undefined;
  return {
    prevSample: new Tensor(prev, shape),
    get predOriginalSample(): Tensor {
      pred ??= new Tensor(computePred(), shape);
      return pred;
    },
  };
}

/**
 * x0 from a model output for the k-diffusion schedulers, float32 per op as diffusers computes it:
 * epsilon `x − σ·ε`; v_prediction `v·(−σ/√(σ²+1)) + x/(σ²+1)`; sample: the output itself.
 */
export function predictX0(
  predictionType: string,
  x: Float32Array,
  m: Float32Array,
  sigma: number,
): Float32Array {
  return predictX0Into(predictionType, x, m, sigma, new Float32Array(x.length));
}

/** {@link predictX0} into a caller's buffer (one tight loop per prediction type); returns `out`. */
export function predictX0Into(
  predictionType: string,
  x: Float32Array,
  m: Float32Array,
  sigma: number,
  out: Float32Array,
): Float32Array {
  const f = Math.fround;
  const n = x.length;
  if (predictionType === 'epsilon') {
    for (let i = 0; i < n; i++) out[i] = x[i]! - f(sigma * m[i]!);
  } else if (predictionType === 'v_prediction') {
    const s2p1 = f(f(sigma * sigma) + 1);
    const cOut = f(-sigma / f(Math.sqrt(s2p1)));
    for (let i = 0; i < n; i++) out[i] = f(m[i]! * cOut) + f(x[i]! / s2p1);
  } else {
    out.set(m);
  }
  return out;
}

/** A reusable float32 buffer of length `n` (grown on demand) for per-step intermediates. */
export class ScratchBuffer {
  private buffer = new Float32Array(0);

  /** The buffer, at least `n` long (a view of exactly `n`). */
  get(n: number): Float32Array {
    if (this.buffer.length < n) this.buffer = new Float32Array(n);
    return this.buffer.length === n ? this.buffer : this.buffer.subarray(0, n);
  }
}

/** The k-diffusion input scaling `sample / √(σ² + 1)`, float32 per op as torch computes it. */
export function scaleBySigma(sample: Tensor, sigma: number): Tensor {
  const f = Math.fround;
  const denom = f(Math.sqrt(f(f(sigma * sigma) + 1)));
  const s = sample.data;
  const out = new Float32Array(s.length);
  for (let i = 0; i < out.length; i++) out[i] = s[i]! / denom;
  return new Tensor(out, sample.shape);
}

/** `cat([x[:1], x[1:].repeat_interleave(2), x[-1:]])`: the interleaved schedule of the KDPM2 schedulers. */
export function repeatInterleaveInner(x: Float32Array): Float32Array {
  const out = new Float32Array(2 * x.length);
  out[0] = x[0]!;
  for (let i = 1; i < x.length; i++) {
    out[2 * i - 1] = x[i]!;
    out[2 * i] = x[i]!;
  }
  out[out.length - 1] = x[x.length - 1]!;
  return out;
}
