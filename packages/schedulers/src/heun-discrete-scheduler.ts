import type { SchedulerStepOptions, SchedulerStepOutput, Tensor } from '@latentkit/core';
import { oneOf, type ResolvedConfig, resolveConfig, withOverrides } from './shared/config.js';
import {
  alphasCumprodForConfig,
  checkInferenceSteps,
  checkOneSigmaSchedule,
  configBool,
  initNoiseSigmaFor,
  predictX0Into,
  ScratchBuffer,
  SigmaScheduler,
  setTimestepsError,
  stepOutput,
  trainingSigmas,
} from './shared/sigma-scheduler.js';
import { convertSigmas, interpArray, logFloat32, sigmaToT } from './shared/sigmas.js';
import { sigmaTimesteps } from './shared/timestep-spacing.js';

const f = Math.fround;

/** The config keys of {@link HeunDiscreteScheduler}, with diffusers' defaults. */
export const HEUN_DISCRETE_DEFAULTS = {
  num_train_timesteps: 1000,
  beta_start: 0.00085,
  beta_end: 0.012,
  beta_schedule: 'linear',
  trained_betas: null as number[] | null,
  prediction_type: 'epsilon',
  use_karras_sigmas: false,
  use_exponential_sigmas: false,
  use_beta_sigmas: false,
  clip_sample: false,
  clip_sample_range: 1.0,
  timestep_spacing: 'linspace',
  steps_offset: 0,
};

/** The config of {@link HeunDiscreteScheduler}: diffusers' keys and `_class_name`. */
export type HeunDiscreteSchedulerConfig = ResolvedConfig<typeof HEUN_DISCRETE_DEFAULTS>;

/**
 * diffusers' `HeunDiscreteScheduler` (Karras et al. 2022, Algorithm 1, "Heun"): a second-order method
 * taking two model evaluations per step. As in diffusers the schedule lists each inner timestep twice
 * (`timesteps = [t0, t1, t1, t2, t2, …]`, sigmas likewise); the first call of a pair makes an Euler
 * prediction, the second averages the two derivatives and restarts from the stored sample.
 */
export class HeunDiscreteScheduler extends SigmaScheduler {
  /** The diffusers config, defaults filled in. */
  readonly config: Readonly<HeunDiscreteSchedulerConfig>;
  /** Two model evaluations per step. */
  readonly order = 2;
  private readonly alphasCumprod: Float32Array;
  private readonly trainSigmas: Float32Array;
  private readonly logSigmas: Float32Array;
  private readonly predictionType: 'epsilon' | 'v_prediction' | 'sample';
  private readonly sigmaSchedule: 'karras' | 'exponential' | 'beta' | null;
  // State between the two calls of a step (diffusers' prev_derivative, dt, sample).
  private prevDerivative: Float32Array | null = null;
  private dt: number | null = null;
  private firstSample: Float32Array | null = null;
  private readonly scratch = new ScratchBuffer();
  private readonly derivScratch = new ScratchBuffer();

  /** Builds the scheduler from a diffusers config (missing keys take diffusers' defaults). */
  constructor(config: Readonly<Record<string, unknown>> = {}) {
    super();
    const name = 'HeunDiscreteScheduler';
    const c = resolveConfig(name, HEUN_DISCRETE_DEFAULTS, config);
    this.predictionType = oneOf(name, 'prediction_type', c.prediction_type, [
      'epsilon',
      'v_prediction',
      'sample',
    ] as const);
    oneOf(name, 'timestep_spacing', c.timestep_spacing, ['linspace', 'leading', 'trailing'] as const);
    this.sigmaSchedule = checkOneSigmaSchedule(name, c);
    configBool(name, c, 'clip_sample');
    this.config = Object.freeze(c);
    this.alphasCumprod = alphasCumprodForConfig(name, c);
    this.trainSigmas = trainingSigmas(this.alphasCumprod);
    this.logSigmas = logFloat32(this.trainSigmas);
    // diffusers' __init__ runs set_timesteps(num_train_timesteps); we keep that schedule but still
    // require an explicit setTimesteps before stepping.
    this.build(c.num_train_timesteps);
    this.numInferenceStepsValue = null;
  }

  /** Builds the scheduler from a diffusers `scheduler_config.json` object (unknown keys are ignored). `overrides` win over `config`, as the keyword arguments of diffusers' `from_config`. */
  static fromConfig(
    config: Readonly<Record<string, unknown>>,
    overrides?: Readonly<Record<string, unknown>>,
  ): HeunDiscreteScheduler {
    return new HeunDiscreteScheduler(withOverrides('HeunDiscreteScheduler', config, overrides));
  }

  protected get className(): string {
    return 'HeunDiscreteScheduler';
  }

  /** σ_max for linspace/trailing spacing, else √(σ_max² + 1). */
  get initNoiseSigma(): number {
    return initNoiseSigmaFor(this.sigmasData, this.config.timestep_spacing);
  }

  /** True when the next `step` call is the first (Euler) half of a Heun step. */
  get stateInFirstOrder(): boolean {
    return this.dt === null;
  }

  /** Sets the schedule: `numInferenceSteps` spaced by `timestep_spacing`, or custom `timesteps`. */
  setTimesteps(numInferenceSteps: number, options: { timesteps?: readonly number[] } = {}): void {
    if (options.timesteps !== undefined && this.sigmaSchedule !== null) {
      throw setTimestepsError(
        this.className,
        'options.timesteps',
        `no custom timesteps with use_${this.sigmaSchedule}_sigmas`,
      );
    }
    this.build(options.timesteps?.length ?? numInferenceSteps, options.timesteps);
  }

  private build(numInferenceSteps: number, custom?: readonly number[]): void {
    const n = numInferenceSteps;
    checkInferenceSteps(this.className, n);
    const c = this.config;
    let timesteps: ArrayLike<number> =
      custom !== undefined
        ? Float32Array.from(custom)
        : sigmaTimesteps(c.timestep_spacing as 'linspace', c.num_train_timesteps, n, c.steps_offset);
    let s: ArrayLike<number> = interpArray(timesteps, this.trainSigmas);
    if (this.sigmaSchedule !== null) {
      const lo = s[s.length - 1]!;
      const hi = s[0]!;
      s = convertSigmas(this.sigmaSchedule, lo, hi, n);
      timesteps = Array.from(s, (v) => sigmaToT(v, this.logSigmas));
    }
    // sigmas: [σ0, σ1, σ1, …, σ_{n−1}, σ_{n−1}, 0]; timesteps: [t0, t1, t1, …, t_{n−1}, t_{n−1}].
    const sigmas = new Float32Array(2 * n);
    sigmas[0] = s[0]!;
    for (let i = 1; i < n; i++) {
      sigmas[2 * i - 1] = s[i]!;
      sigmas[2 * i] = s[i]!;
    }
    sigmas[2 * n - 1] = 0;
    const ts: number[] = [f(timesteps[0]!)];
    for (let i = 1; i < n; i++) ts.push(f(timesteps[i]!), f(timesteps[i]!));
    this.sigmasData = sigmas;
    this.timestepValues = Object.freeze(ts);
    this.prevDerivative = null;
    this.dt = null;
    this.firstSample = null;
    this.startSchedule(n);
  }

  /**
   * One half of a Heun step. First call: x0 at σ, derivative d1, Euler prediction at σ_next (stored:
   * d1, dt, x). Second call: x0 at σ_next, d2, then `x + (d1 + d2)/2 · dt` from the stored x.
   */
  step(
    modelOutput: Tensor,
    timestep: number,
    sample: Tensor,
    _options: SchedulerStepOptions = {},
  ): SchedulerStepOutput {
    this.requireSchedule('step');
    this.checkSameShape(sample, modelOutput, 'sample', 'modelOutput');
    const index = this.initStepIndex(timestep);
    this.checkInRange(index, this.sigmasData.length - 2);
    const first = this.stateInFirstOrder;
    const sigma = first ? this.sigmasData[index]! : this.sigmasData[index - 1]!;
    const sigmaNext = first ? this.sigmasData[index + 1]! : this.sigmasData[index]!;
    const sigmaInput = first ? sigma : sigmaNext;
    const x = sample.data;
    const m = modelOutput.data;
    const n = x.length;
    // x0 per prediction type (float32 per op), optionally clipped, into a reused buffer.
    const type = this.predictionType;
    const clip = this.config.clip_sample;
    const r = f(this.config.clip_sample_range);
    const computeX0 = (out: Float32Array): Float32Array => {
      predictX0Into(type, x, m, sigmaInput, out);
      if (clip) for (let i = 0; i < n; i++) out[i] = Math.min(r, Math.max(-r, out[i]!));
      return out;
    };
    const x0s = computeX0(this.scratch.get(n));
    const prev = new Float32Array(n);
    if (first) {
      const dt = f(sigmaNext - sigma);
      // Only needed until the second call, so one buffer serves every step.
      const deriv = this.derivScratch.get(n);
      for (let i = 0; i < n; i++) {
        const d = f(f(x[i]! - x0s[i]!) / sigma);
        deriv[i] = d;
        prev[i] = x[i]! + f(d * dt);
      }
      this.prevDerivative = deriv;
      this.dt = dt;
      this.firstSample = x;
    } else {
      const d1 = this.prevDerivative!;
      const dt = this.dt!;
      const x0 = this.firstSample!;
      for (let i = 0; i < n; i++) {
        const d2 = f(f(x[i]! - x0s[i]!) / sigmaNext);
        const d = f(f(d1[i]! + d2) / 2);
        prev[i] = x0[i]! + f(d * dt);
      }
      this.prevDerivative = null;
      this.dt = null;
      this.firstSample = null;
    }
    this.stepIndexValue = index + 1;
    return stepOutput(prev, sample.shape, () => computeX0(new Float32Array(n)));
  }
}
