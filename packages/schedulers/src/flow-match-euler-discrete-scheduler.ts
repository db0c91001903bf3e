import {
  InvalidArgumentError,
  type SchedulerStepOptions,
  type SchedulerStepOutput,
  Tensor,
} from '@latentkit/core';
import { oneOf, type ResolvedConfig, resolveConfig, withOverrides } from './shared/config.js';
import { drawNoise } from './shared/noise.js';
import { linspace } from './shared/numpy.js';
import {
  checkInferenceSteps,
  checkOneSigmaSchedule,
  configBool,
  configNumber,
  SigmaScheduler,
  setTimestepsError,
} from './shared/sigma-scheduler.js';
import { convertSigmas } from './shared/sigmas.js';

const f = Math.fround;

/** The config keys of {@link FlowMatchEulerDiscreteScheduler}, with diffusers' defaults. */
export const FLOW_MATCH_EULER_DISCRETE_DEFAULTS = {
  num_train_timesteps: 1000,
  shift: 1.0,
  use_dynamic_shifting: false,
  base_shift: 0.5 as number | null,
  max_shift: 1.15 as number | null,
  base_image_seq_len: 256 as number | null,
  max_image_seq_len: 4096 as number | null,
  invert_sigmas: false,
  shift_terminal: null as number | null,
  use_karras_sigmas: false,
  use_exponential_sigmas: false,
  use_beta_sigmas: false,
  time_shift_type: 'exponential',
  stochastic_sampling: false,
};

/** The config of {@link FlowMatchEulerDiscreteScheduler}: diffusers' keys and `_class_name`. */
export type FlowMatchEulerDiscreteSchedulerConfig = ResolvedConfig<typeof FLOW_MATCH_EULER_DISCRETE_DEFAULTS>;

/** Options of {@link FlowMatchEulerDiscreteScheduler.setTimesteps}. */
export interface FlowMatchSetTimestepsOptions {
  /** Custom sigmas in (0, 1], denoising order, without the final 0 (diffusers appends it). */
  sigmas?: readonly number[];
  /** Custom timesteps (same length as `sigmas` if both are given). */
  timesteps?: readonly number[];
  /** The resolution-dependent shift μ; required when `use_dynamic_shifting` is true. */
  mu?: number;
}

/**
 * diffusers' `FlowMatchEulerDiscreteScheduler` for rectified-flow models (SD3, Flux, …): the model
 * predicts a velocity and each step is `x + (σ_next − σ) · v`. Sigmas run from 1 to 0 with the static
 * `shift` (σ' = sσ / (1 + (s − 1)σ)) or a dynamic shift μ (`use_dynamic_shifting`), optional
 * `shift_terminal` stretching, Karras / exponential / beta conversion and `invert_sigmas`.
 * Timesteps are σ · num_train_timesteps. No input scaling; `addNoise` is the flow forward process
 * `σ·noise + (1 − σ)·x` (diffusers' `scale_noise`).
 */
export class FlowMatchEulerDiscreteScheduler extends SigmaScheduler {
  /** The diffusers config, defaults filled in. */
  readonly config: Readonly<FlowMatchEulerDiscreteSchedulerConfig>;
  /** One model evaluation per step. */
  readonly order = 1;
  /** Flow-matching pipelines start from unit-variance noise. */
  readonly initNoiseSigma = 1;
  private readonly sigmaSchedule: 'karras' | 'exponential' | 'beta' | null;
  private shiftValue: number;
  private readonly sigmaMin: number;
  private readonly sigmaMax: number;

  /** Builds the scheduler from a diffusers config (missing keys take diffusers' defaults). */
  constructor(config: Readonly<Record<string, unknown>> = {}) {
    super();
    const name = 'FlowMatchEulerDiscreteScheduler';
    const c = resolveConfig(name, FLOW_MATCH_EULER_DISCRETE_DEFAULTS, config);
    this.sigmaSchedule = checkOneSigmaSchedule(name, c);
    oneOf(name, 'time_shift_type', c.time_shift_type, ['exponential', 'linear'] as const);
    for (const key of ['use_dynamic_shifting', 'invert_sigmas', 'stochastic_sampling'])
      configBool(name, c, key);
    for (const key of ['shift', 'shift_terminal', 'base_shift', 'max_shift']) configNumber(name, c, key);
    if (!Number.isInteger(c.num_train_timesteps) || c.num_train_timesteps < 1) {
      throw new InvalidArgumentError({
        name: `${name} config num_train_timesteps`,
        value: c.num_train_timesteps,
        expected: 'a positive integer',
      });
    }
    this.config = Object.freeze(c);
    this.shiftValue = c.shift;
    // diffusers' __init__: timesteps T…1 (float32), σ = t / T, statically shifted unless dynamic.
    const T = c.num_train_timesteps;
    const lin = linspace(1, T, T);
    const sigmas = new Float32Array(T);
    const s = f(c.shift);
    const sm1 = f(c.shift - 1);
    for (let i = 0; i < T; i++) {
      let sigma = f(f(lin[T - 1 - i]!) / T);
      if (!c.use_dynamic_shifting) sigma = f(f(s * sigma) / f(1 + f(sm1 * sigma)));
      sigmas[i] = sigma;
    }
    this.sigmasData = sigmas;
    this.timestepValues = Object.freeze(Array.from(sigmas, (v) => f(v * T)));
    this.sigmaMin = sigmas[T - 1]!;
    this.sigmaMax = sigmas[0]!;
  }

  /** Builds the scheduler from a diffusers `scheduler_config.json` object (unknown keys are ignored). `overrides` win over `config`, as the keyword arguments of diffusers' `from_config`. */
  static fromConfig(
    config: Readonly<Record<string, unknown>>,
    overrides?: Readonly<Record<string, unknown>>,
  ): FlowMatchEulerDiscreteScheduler {
    return new FlowMatchEulerDiscreteScheduler(
      withOverrides('FlowMatchEulerDiscreteScheduler', config, overrides),
    );
  }

  protected get className(): string {
    return 'FlowMatchEulerDiscreteScheduler';
  }

  /** The static shift in use (diffusers' `shift` property; see {@link setShift}). */
  get shift(): number {
    return this.shiftValue;
  }

  /** Changes the static shift for the next `setTimesteps` (diffusers' `set_shift`). */
  setShift(shift: number): void {
    this.shiftValue = shift;
  }

  /**
   * Sets the schedule: `numInferenceSteps` sigmas from σ_max to σ_min (then shifted), or custom
   * `sigmas` / `timesteps`; `mu` for dynamic shifting. Pass `numInferenceSteps` 0 to take the count
   * from the custom lists.
   */
  setTimesteps(numInferenceSteps: number, options: FlowMatchSetTimestepsOptions = {}): void {
    const name = this.className;
    const c = this.config;
    const { sigmas: customS, timesteps: customT, mu } = options;
    if (c.use_dynamic_shifting && mu === undefined) {
      throw setTimestepsError(name, 'options.mu', 'a value for mu when use_dynamic_shifting is true');
    }
    if (customS !== undefined && customT !== undefined && customS.length !== customT.length) {
      throw setTimestepsError(name, 'options', 'sigmas and timesteps of the same length');
    }
    let n = numInferenceSteps;
    const customLength = customS?.length ?? customT?.length;
    if (customLength !== undefined) {
      if (n && n !== customLength) {
        throw setTimestepsError(
          name,
          'numInferenceSteps',
          `the length of the custom list (${customLength}) or 0`,
        );
      }
      n = customLength;
    }
    checkInferenceSteps(name, n);
    const T = c.num_train_timesteps;

    // 1. Default sigmas (float64), or the custom ones (float32: numpy then computes the shifts in float32).
    let r: (v: number) => number = (v) => v;
    let sigmas: Float64Array;
    const timesteps32 = customT !== undefined ? Float32Array.from(customT) : null;
    if (customS === undefined) {
      const ts = timesteps32 ?? linspace(this.sigmaMax * T, this.sigmaMin * T, n);
      sigmas = Float64Array.from(ts, (t) => (timesteps32 ? f(t / T) : t / T));
      if (timesteps32) r = f;
    } else {
      sigmas = Float64Array.from(customS, (v) => f(v));
      r = f;
    }
    // 2. Shift.
    if (c.use_dynamic_shifting) {
      const m = mu!;
      const e = c.time_shift_type === 'exponential' ? Math.exp(m) : m;
      sigmas = sigmas.map((t) => r(e / r(e + r(r(1 / t) - 1))));
    } else {
      const s = this.shiftValue;
      sigmas = sigmas.map((t) => r(r(s * t) / r(1 + r((s - 1) * t))));
    }
    // 3. Stretch so that the last sigma is shift_terminal.
    if (c.shift_terminal) {
      const scale = r(r(1 - sigmas[sigmas.length - 1]!) / r(1 - c.shift_terminal));
      sigmas = sigmas.map((t) => r(1 - r(r(1 - t) / scale)));
    }
    // 4. Optional conversion.
    if (this.sigmaSchedule !== null) {
      const lo = sigmas[sigmas.length - 1]!;
      const hi = sigmas[0]!;
      sigmas = convertSigmas(this.sigmaSchedule, lo, hi, n);
    }
    // 5–6. float32 sigmas, timesteps σ·T (unless given), final 0 (or 1 with invert_sigmas).
    let s32 = Float32Array.from(sigmas);
    let timesteps: Float32Array = timesteps32 ?? s32.map((v) => v * T);
    if (c.invert_sigmas) {
      s32 = s32.map((v) => 1 - v);
      timesteps = s32.map((v) => v * T);
    }
    const out = new Float32Array(s32.length + 1);
    out.set(s32);
    out[s32.length] = c.invert_sigmas ? 1 : 0;
    this.sigmasData = out;
    this.timestepValues = Object.freeze(Array.from(timesteps));
    this.startSchedule(n);
  }

  /** Identity: flow-matching models take the sample unscaled (diffusers has no `scale_model_input` here). */
  override scaleModelInput(sample: Tensor, timestep: number): Tensor {
    this.requireSchedule('scaleModelInput');
    this.initStepIndex(timestep);
    return sample;
  }

  /**
   * One Euler step on the flow: `prev = x + (σ_next − σ) · v`. With `stochastic_sampling`, instead
   * `x0 = x − σ·v` and `prev = (1 − σ_next)·x0 + σ_next·noise` (noise from `options.generator`).
   */
  step(
    modelOutput: Tensor,
    timestep: number,
    sample: Tensor,
    options: SchedulerStepOptions = {},
  ): SchedulerStepOutput {
    this.requireSchedule('step');
    this.checkSameShape(sample, modelOutput, 'sample', 'modelOutput');
    const index = this.initStepIndex(timestep);
    this.checkInRange(index, this.sigmasData.length - 2);
    const sigma = this.sigmasData[index]!;
    const sigmaNext = this.sigmasData[index + 1]!;
    const x = sample.data;
    const m = modelOutput.data;
    const n = x.length;
    const prev = new Float32Array(n);
    if (this.config.stochastic_sampling) {
      const noise = drawNoise(sample.shape, options.generator);
      const keep = f(1 - sigmaNext);
      for (let i = 0; i < n; i++) {
        const x0 = f(x[i]! - f(sigma * m[i]!));
        prev[i] = f(keep * x0) + f(sigmaNext * noise[i]!);
      }
    } else {
      const dt = f(sigmaNext - sigma);
      for (let i = 0; i < n; i++) prev[i] = x[i]! + f(dt * m[i]!);
    }
    this.stepIndexValue = index + 1;
    return { prevSample: new Tensor(prev, sample.shape) };
  }

  /**
   * The flow-matching forward process (diffusers' `scale_noise`): `σ·noise + (1 − σ)·original`, σ chosen
   * by the same index rules as `addNoise` elsewhere.
   */
  override addNoise(original: Tensor, noise: Tensor, timestep: number): Tensor {
    this.requireSchedule('addNoise');
    this.checkSameShape(original, noise, 'original', 'noise');
    const sigma = this.sigmasData[this.addNoiseIndex(timestep)]!;
    const keep = f(1 - sigma);
    const o = original.data;
    const e = noise.data;
    const out = new Float32Array(o.length);
    for (let i = 0; i < out.length; i++) out[i] = f(sigma * e[i]!) + f(keep * o[i]!);
    return new Tensor(out, original.shape);
  }
}
