import type { SchedulerStepOptions, SchedulerStepOutput, Tensor } from '@latentkit/core';
import { linspaceFloat32 } from './shared/betas.js';
import { oneOf, type ResolvedConfig, resolveConfig, withOverrides } from './shared/config.js';
import { drawNoise } from './shared/noise.js';
import {
  alphasCumprodForConfig,
  type CustomScheduleOptions,
  checkInferenceSteps,
  checkOneSigmaSchedule,
  configBool,
  configNumber,
  initNoiseSigmaFor,
  predictX0,
  SigmaScheduler,
  setTimestepsError,
  stepOutput,
  trainingSigmas,
} from './shared/sigma-scheduler.js';
import { convertSigmas, interpArray, logFloat32, sigmaToT } from './shared/sigmas.js';
import { sigmaTimesteps } from './shared/timestep-spacing.js';

const f = Math.fround;

/** The config keys of {@link EulerDiscreteScheduler}, with diffusers' defaults. */
export const EULER_DISCRETE_DEFAULTS = {
  num_train_timesteps: 1000,
  beta_start: 0.0001,
  beta_end: 0.02,
  beta_schedule: 'linear',
  trained_betas: null as number[] | null,
  prediction_type: 'epsilon',
  interpolation_type: 'linear',
  use_karras_sigmas: false,
  use_exponential_sigmas: false,
  use_beta_sigmas: false,
  sigma_min: null as number | null,
  sigma_max: null as number | null,
  timestep_spacing: 'linspace',
  timestep_type: 'discrete',
  steps_offset: 0,
  rescale_betas_zero_snr: false,
  final_sigmas_type: 'zero',
};

/** The config of {@link EulerDiscreteScheduler}: diffusers' keys (snake_case) and `_class_name`. */
export type EulerDiscreteSchedulerConfig = ResolvedConfig<typeof EULER_DISCRETE_DEFAULTS>;

/** Options of {@link EulerDiscreteScheduler.step}: diffusers' churn parameters (Karras et al. Algorithm 2). */
export interface EulerStepOptions extends SchedulerStepOptions {
  /** Stochasticity: γ = min(s_churn / (len(sigmas) − 1), √2 − 1) where s_tmin ≤ σ ≤ s_tmax. Default 0. */
  sChurn?: number;
  /** Lowest σ that gets churn. Default 0. */
  sTmin?: number;
  /** Highest σ that gets churn. Default +∞. */
  sTmax?: number;
  /** Scale of the churn noise. Default 1. */
  sNoise?: number;
}

const PREDICTION_TYPES = ['epsilon', 'v_prediction', 'sample', 'original_sample'] as const;
const SPACINGS = ['linspace', 'leading', 'trailing'] as const;

/**
 * diffusers' `EulerDiscreteScheduler`: Euler's method on the probability-flow ODE in σ (Karras et al.
 * 2022, Algorithm 2, with optional churn), the "Euler" sampler of A1111. Supports linear / log-linear
 * sigma interpolation, Karras / exponential / beta sigmas, `timestep_type` continuous (0.25·log σ
 * timesteps for v-prediction EDM models), `final_sigmas_type`, zero-terminal-SNR rescaling and custom
 * timesteps or sigmas.
 */
export class EulerDiscreteScheduler extends SigmaScheduler {
  /** The diffusers config, defaults filled in. */
  readonly config: Readonly<EulerDiscreteSchedulerConfig>;
  /** One model evaluation per step. */
  readonly order = 1;
  private readonly alphasCumprod: Float32Array;
  private readonly trainSigmas: Float32Array;
  private readonly logSigmas: Float32Array;
  private readonly predictionType: (typeof PREDICTION_TYPES)[number];
  private readonly sigmaSchedule: 'karras' | 'exponential' | 'beta' | null;

  /** Builds the scheduler from a diffusers config (missing keys take diffusers' defaults). */
  constructor(config: Readonly<Record<string, unknown>> = {}) {
    super();
    const name = 'EulerDiscreteScheduler';
    const c = resolveConfig(name, EULER_DISCRETE_DEFAULTS, config);
    this.predictionType = oneOf(name, 'prediction_type', c.prediction_type, PREDICTION_TYPES);
    oneOf(name, 'interpolation_type', c.interpolation_type, ['linear', 'log_linear'] as const);
    oneOf(name, 'timestep_spacing', c.timestep_spacing, SPACINGS);
    oneOf(name, 'timestep_type', c.timestep_type, ['discrete', 'continuous'] as const);
    oneOf(name, 'final_sigmas_type', c.final_sigmas_type, ['zero', 'sigma_min'] as const);
    this.sigmaSchedule = checkOneSigmaSchedule(name, c);
    configNumber(name, c, 'sigma_min');
    configNumber(name, c, 'sigma_max');
    this.config = Object.freeze(c);
    this.alphasCumprod = alphasCumprodForConfig(name, c, configBool(name, c, 'rescale_betas_zero_snr'));
    this.trainSigmas = trainingSigmas(this.alphasCumprod);
    this.logSigmas = logFloat32(this.trainSigmas);
    // diffusers' __init__ state: the full training schedule, reversed, with a final 0.
    const n = this.trainSigmas.length;
    const sigmas = new Float32Array(n + 1);
    for (let i = 0; i < n; i++) sigmas[i] = this.trainSigmas[n - 1 - i]!;
    this.sigmasData = sigmas;
    this.timestepValues = Object.freeze(
      this.continuousTimesteps()
        ? this.logTimesteps(sigmas, n)
        : Array.from({ length: n }, (_, i) => n - 1 - i),
    );
  }

  /** Builds the scheduler from a diffusers `scheduler_config.json` object (unknown keys are ignored). `overrides` win over `config`, as the keyword arguments of diffusers' `from_config`. */
  static fromConfig(
    config: Readonly<Record<string, unknown>>,
    overrides?: Readonly<Record<string, unknown>>,
  ): EulerDiscreteScheduler {
    return new EulerDiscreteScheduler(withOverrides('EulerDiscreteScheduler', config, overrides));
  }

  protected get className(): string {
    return 'EulerDiscreteScheduler';
  }

  /** σ_max for linspace/trailing spacing, else √(σ_max² + 1). */
  get initNoiseSigma(): number {
    return initNoiseSigmaFor(this.sigmasData, this.config.timestep_spacing);
  }

  private continuousTimesteps(): boolean {
    return this.config.timestep_type === 'continuous' && this.predictionType === 'v_prediction';
  }

  /** `0.25 · log σ` in float32 for the first `count` sigmas (continuous timesteps). */
  private logTimesteps(sigmas: Float32Array, count: number): number[] {
    return Array.from({ length: count }, (_, i) => f(0.25 * f(Math.log(sigmas[i]!))));
  }

  /**
   * Sets the schedule: `numInferenceSteps` spaced by `timestep_spacing`, or custom `timesteps` /
   * `sigmas` (then pass `numInferenceSteps` as their count, or 0).
   */
  setTimesteps(numInferenceSteps: number, options: CustomScheduleOptions = {}): void {
    const name = this.className;
    const c = this.config;
    const { timesteps: customT, sigmas: customS } = options;
    if (customT !== undefined && customS !== undefined) {
      throw setTimestepsError(name, 'options', 'only one of timesteps or sigmas');
    }
    if (customT !== undefined && this.sigmaSchedule !== null) {
      throw setTimestepsError(
        name,
        'options.timesteps',
        `no custom timesteps with use_${this.sigmaSchedule}_sigmas`,
      );
    }
    if (customT !== undefined && this.continuousTimesteps()) {
      throw setTimestepsError(
        name,
        'options.timesteps',
        "no custom timesteps with timestep_type 'continuous' and prediction_type 'v_prediction'",
      );
    }
    const n =
      customT !== undefined ? customT.length : customS !== undefined ? customS.length - 1 : numInferenceSteps;
    checkInferenceSteps(name, n);

    let sigmas: Float32Array;
    let timesteps: ArrayLike<number>;
    if (customS !== undefined) {
      sigmas = Float32Array.from(customS);
      timesteps = Array.from(sigmas.subarray(0, sigmas.length - 1), (s) =>
        sigmaToT(s, this.logSigmas, { float32: true }),
      );
    } else {
      timesteps =
        customT !== undefined
          ? Float32Array.from(customT)
          : sigmaTimesteps(c.timestep_spacing as 'linspace', c.num_train_timesteps, n, c.steps_offset);
      let s: ArrayLike<number>;
      if (c.interpolation_type === 'linear') {
        s = interpArray(timesteps, this.trainSigmas);
      } else {
        const ts = this.trainSigmas;
        const logs = linspaceFloat32(f(Math.log(ts[ts.length - 1]!)), f(Math.log(ts[0]!)), n + 1);
        s = logs.map((v) => Math.exp(v));
      }
      if (this.sigmaSchedule !== null) {
        const sigmaMin = c.sigma_min ?? s[s.length - 1]!;
        const sigmaMax = c.sigma_max ?? s[0]!;
        const converted = convertSigmas(this.sigmaSchedule, sigmaMin, sigmaMax, n);
        timesteps = Array.from(converted, (v) => sigmaToT(v, this.logSigmas));
        s = converted;
      }
      const a0 = this.alphasCumprod[0]!;
      const last = c.final_sigmas_type === 'sigma_min' ? Math.sqrt(f(f(1 - a0) / a0)) : 0;
      sigmas = new Float32Array(s.length + 1);
      sigmas.set(s);
      sigmas[s.length] = last;
    }
    this.sigmasData = sigmas;
    this.timestepValues = Object.freeze(
      this.continuousTimesteps()
        ? this.logTimesteps(sigmas, sigmas.length - 1)
        : Array.from(timesteps, (t) => f(t)),
    );
    this.startSchedule(n);
  }

  /**
   * One Euler step from σ_i to σ_{i+1}: x0 from the model output per `prediction_type`, derivative
   * (x − x0)/σ̂, `prev = x + d · (σ_{i+1} − σ̂)`. With `sChurn > 0` noise from `options.generator` first
   * raises σ to σ̂ = σ(1 + γ).
   */
  step(
    modelOutput: Tensor,
    timestep: number,
    sample: Tensor,
    options: EulerStepOptions = {},
  ): SchedulerStepOutput {
    this.requireSchedule('step');
    this.checkSameShape(sample, modelOutput, 'sample', 'modelOutput');
    const index = this.initStepIndex(timestep);
    this.checkInRange(index, this.sigmasData.length - 2);
    const sigma = this.sigmasData[index]!;
    const sChurn = options.sChurn ?? 0;
    const sTmin = options.sTmin ?? 0;
    const sTmax = options.sTmax ?? Number.POSITIVE_INFINITY;
    const sNoise = options.sNoise ?? 1;
    const gamma =
      sTmin <= sigma && sigma <= sTmax ? Math.min(sChurn / (this.sigmasData.length - 1), 2 ** 0.5 - 1) : 0;
    const sigmaHat = f(sigma * f(gamma + 1));
    const n = sample.data.length;
    let x = sample.data;
    if (gamma > 0) {
      const noise = drawNoise(modelOutput.shape, options.generator);
      const scale = f(Math.sqrt(f(f(sigmaHat * sigmaHat) - f(sigma * sigma))));
      const sn = f(sNoise);
      const churned = new Float32Array(n);
      for (let i = 0; i < n; i++) churned[i] = x[i]! + f(f(noise[i]! * sn) * scale);
      x = churned;
    }
    const m = modelOutput.data;
    const dt = f(this.sigmasData[index + 1]! - sigmaHat);
    const prev = new Float32Array(n);
    if (this.predictionType === 'epsilon') {
      for (let i = 0; i < n; i++) {
        const xi = x[i]!;
        const p = f(xi - f(sigmaHat * m[i]!));
        prev[i] = xi + f(f(f(xi - p) / sigmaHat) * dt);
      }
    } else if (this.predictionType === 'v_prediction') {
      const s2p1 = f(f(sigma * sigma) + 1);
      const cOut = f(-sigma / f(Math.sqrt(s2p1)));
      for (let i = 0; i < n; i++) {
        const xi = x[i]!;
        const p = f(f(m[i]! * cOut) + f(xi / s2p1));
        prev[i] = xi + f(f(f(xi - p) / sigmaHat) * dt);
      }
    } else {
      for (let i = 0; i < n; i++) {
        const xi = x[i]!;
        prev[i] = xi + f(f(f(xi - m[i]!) / sigmaHat) * dt);
      }
    }
    this.stepIndexValue = index + 1;
    const type = this.predictionType;
    const xs = x;
    return stepOutput(prev, sample.shape, () =>
      predictX0(type, xs, m, type === 'epsilon' ? sigmaHat : sigma),
    );
  }
}
