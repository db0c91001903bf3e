import {
  NotImplementedError,
  type SchedulerStepOptions,
  type SchedulerStepOutput,
  type Tensor,
} from '@latentkit/core';
import { type ResolvedConfig, withOverrides } from './shared/config.js';
import {
  kdpm2BaseSchedule,
  kdpm2InterleavedTimesteps,
  kdpm2Setup,
  logMidpoint,
} from './shared/kdpm2-schedule.js';
import {
  checkInferenceSteps,
  initNoiseSigmaFor,
  predictX0,
  predictX0Into,
  repeatInterleaveInner,
  ScratchBuffer,
  SigmaScheduler,
  scaleBySigma,
  stepOutput,
} from './shared/sigma-scheduler.js';

const f = Math.fround;

/** The config keys of {@link KDPM2DiscreteScheduler}, with diffusers' defaults. */
export const KDPM2_DISCRETE_DEFAULTS = {
  num_train_timesteps: 1000,
  beta_start: 0.00085,
  beta_end: 0.012,
  beta_schedule: 'linear',
  trained_betas: null as number[] | null,
  use_karras_sigmas: false,
  use_exponential_sigmas: false,
  use_beta_sigmas: false,
  prediction_type: 'epsilon',
  timestep_spacing: 'linspace',
  steps_offset: 0,
};

/** The config of {@link KDPM2DiscreteScheduler}: diffusers' keys and `_class_name`. */
export type KDPM2DiscreteSchedulerConfig = ResolvedConfig<typeof KDPM2_DISCRETE_DEFAULTS>;

export { kdpm2BaseSchedule, logMidpoint } from './shared/kdpm2-schedule.js';

/**
 * diffusers' `KDPM2DiscreteScheduler` ("DPM2"): DPM-Solver-2 in k-diffusion form (Karras et al. 2022).
 * Each step takes two model evaluations: an Euler half-step to the log-midpoint σ_mid, then a full step
 * with the midpoint's derivative. Timesteps interleave `[t0, t_mid1, t1, t_mid2, t2, …]`.
 */
export class KDPM2DiscreteScheduler extends SigmaScheduler {
  /** The diffusers config, defaults filled in. */
  readonly config: Readonly<KDPM2DiscreteSchedulerConfig>;
  /** Two model evaluations per step. */
  readonly order = 2;
  private readonly trainSigmas: Float32Array;
  private readonly logSigmas: Float32Array;
  private readonly predictionType: 'epsilon' | 'v_prediction' | 'sample';
  private readonly sigmaSchedule: 'karras' | 'exponential' | 'beta' | null;
  private sigmasInterpol: Float32Array = new Float32Array(0);
  private firstSample: Float32Array | null = null;
  private readonly scratch = new ScratchBuffer();

  /** Builds the scheduler from a diffusers config (missing keys take diffusers' defaults). */
  constructor(config: Readonly<Record<string, unknown>> = {}) {
    super();
    const setup = kdpm2Setup('KDPM2DiscreteScheduler', KDPM2_DISCRETE_DEFAULTS, config);
    this.config = setup.config;
    this.predictionType = setup.predictionType;
    this.sigmaSchedule = setup.sigmaSchedule;
    this.trainSigmas = setup.trainSigmas;
    this.logSigmas = setup.logSigmas;
    this.build(this.config.num_train_timesteps);
    this.numInferenceStepsValue = null;
  }

  /** Builds the scheduler from a diffusers `scheduler_config.json` object (unknown keys are ignored). `overrides` win over `config`, as the keyword arguments of diffusers' `from_config`. */
  static fromConfig(
    config: Readonly<Record<string, unknown>>,
    overrides?: Readonly<Record<string, unknown>>,
  ): KDPM2DiscreteScheduler {
    return new KDPM2DiscreteScheduler(withOverrides('KDPM2DiscreteScheduler', config, overrides));
  }

  protected get className(): string {
    return 'KDPM2DiscreteScheduler';
  }

  /** σ_max for linspace/trailing spacing, else √(σ_max² + 1). */
  get initNoiseSigma(): number {
    return initNoiseSigmaFor(this.sigmasData, this.config.timestep_spacing);
  }

  /** True when the next `step` call is the first half of a DPM2 step. */
  get stateInFirstOrder(): boolean {
    return this.firstSample === null;
  }

  /** Sets `numInferenceSteps` steps (2·n − 1 model evaluations). */
  setTimesteps(numInferenceSteps: number): void {
    this.build(numInferenceSteps);
  }

  private build(n: number): void {
    checkInferenceSteps(this.className, n);
    const base = kdpm2BaseSchedule(this.config, this.sigmaSchedule, this.trainSigmas, this.logSigmas, n);
    const s = base.sigmas; // n + 1 values, last 0
    const len = s.length;
    // sigmas_interpol[i] = log-midpoint of σ_i and σ_{i−1} (roll(1)); index 0 is NaN in diffusers and unused.
    const interpol = new Float32Array(len);
    for (let i = 0; i < len; i++) interpol[i] = logMidpoint(s[i]!, s[(i - 1 + len) % len]!);
    this.sigmasData = repeatInterleaveInner(s);
    this.sigmasInterpol = repeatInterleaveInner(interpol);
    // Step i's midpoint is interpol[i], so the midpoint list starts at index 1.
    this.timestepValues = kdpm2InterleavedTimesteps(base, interpol.subarray(1), this.logSigmas, n);
    this.firstSample = null;
    this.startSchedule(n);
  }

  /** Divides the sample by √(σ² + 1), σ being the step's sigma or, on the second call, its midpoint. */
  override scaleModelInput(sample: Tensor, timestep: number): Tensor {
    this.requireSchedule('scaleModelInput');
    const index = this.initStepIndex(timestep);
    const sigma = this.stateInFirstOrder ? this.sigmasData[index]! : this.sigmasInterpol[index]!;
    return scaleBySigma(sample, sigma);
  }

  /**
   * One half of a DPM2 step. First call: Euler from σ to σ_mid (sample stored). Second call: the
   * derivative at σ_mid applied from the stored sample over σ_next − σ.
   */
  step(
    modelOutput: Tensor,
    timestep: number,
    sample: Tensor,
    _options: SchedulerStepOptions = {},
  ): SchedulerStepOutput {
    this.requireSchedule('step');
    this.checkSameShape(sample, modelOutput, 'sample', 'modelOutput');
    if (this.predictionType === 'sample') {
      throw new NotImplementedError(
        'KDPM2DiscreteScheduler: prediction_type "sample" (diffusers does not implement it either).',
      );
    }
    const index = this.initStepIndex(timestep);
    this.checkInRange(index, this.sigmasData.length - 2);
    const first = this.stateInFirstOrder;
    const sigma = first ? this.sigmasData[index]! : this.sigmasData[index - 1]!;
    const sigmaInterpol = first ? this.sigmasInterpol[index + 1]! : this.sigmasInterpol[index]!;
    const sigmaNext = first ? this.sigmasData[index + 1]! : this.sigmasData[index]!;
    const sigmaInput = first ? sigma : sigmaInterpol;
    const x = sample.data;
    const m = modelOutput.data;
    const n = x.length;
    const type = this.predictionType;
    const x0s = predictX0Into(type, x, m, sigmaInput, this.scratch.get(n));
    const prev = new Float32Array(n);
    if (first) {
      const dt = f(sigmaInterpol - sigma);
      for (let i = 0; i < n; i++) prev[i] = x[i]! + f(f(f(x[i]! - x0s[i]!) / sigma) * dt);
      this.firstSample = x;
    } else {
      const dt = f(sigmaNext - sigma);
      const x0 = this.firstSample!;
      for (let i = 0; i < n; i++) prev[i] = x0[i]! + f(f(f(x[i]! - x0s[i]!) / sigmaInterpol) * dt);
      this.firstSample = null;
    }
    this.stepIndexValue = index + 1;
    return stepOutput(prev, sample.shape, () => predictX0(type, x, m, sigmaInput));
  }
}
