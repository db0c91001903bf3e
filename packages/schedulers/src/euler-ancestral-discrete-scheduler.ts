import {
  NotImplementedError,
  type SchedulerStepOptions,
  type SchedulerStepOutput,
  type Tensor,
} from '@latentkit/core';
import { oneOf, type ResolvedConfig, resolveConfig, withOverrides } from './shared/config.js';
import { drawNoise } from './shared/noise.js';
import {
  alphasCumprodForConfig,
  checkInferenceSteps,
  configBool,
  initNoiseSigmaFor,
  predictX0,
  SigmaScheduler,
  stepOutput,
  trainingSigmas,
} from './shared/sigma-scheduler.js';
import { interpArray } from './shared/sigmas.js';
import { runStepKernel } from './shared/step-wasm.js';
import { sigmaTimesteps } from './shared/timestep-spacing.js';

const f = Math.fround;

/** The config keys of {@link EulerAncestralDiscreteScheduler}, with diffusers' defaults. */
export const EULER_ANCESTRAL_DISCRETE_DEFAULTS = {
  num_train_timesteps: 1000,
  beta_start: 0.0001,
  beta_end: 0.02,
  beta_schedule: 'linear',
  trained_betas: null as number[] | null,
  prediction_type: 'epsilon',
  timestep_spacing: 'linspace',
  steps_offset: 0,
  rescale_betas_zero_snr: false,
};

/** The config of {@link EulerAncestralDiscreteScheduler}: diffusers' keys and `_class_name`. */
export type EulerAncestralDiscreteSchedulerConfig = ResolvedConfig<typeof EULER_ANCESTRAL_DISCRETE_DEFAULTS>;

/**
 * diffusers' `EulerAncestralDiscreteScheduler` ("Euler a"): an Euler step down to σ_down, then fresh
 * noise of scale σ_up from the step's `generator` (one `randn` of the sample's shape per step), with
 * σ_up² + σ_down² = σ_next².
 */
export class EulerAncestralDiscreteScheduler extends SigmaScheduler {
  /** The diffusers config, defaults filled in. */
  readonly config: Readonly<EulerAncestralDiscreteSchedulerConfig>;
  /** One model evaluation per step. */
  readonly order = 1;
  private readonly trainSigmas: Float32Array;
  private readonly predictionType: 'epsilon' | 'v_prediction' | 'sample';

  /** Builds the scheduler from a diffusers config (missing keys take diffusers' defaults). */
  constructor(config: Readonly<Record<string, unknown>> = {}) {
    super();
    const name = 'EulerAncestralDiscreteScheduler';
    const c = resolveConfig(name, EULER_ANCESTRAL_DISCRETE_DEFAULTS, config);
    this.predictionType = oneOf(name, 'prediction_type', c.prediction_type, [
      'epsilon',
      'v_prediction',
      'sample',
    ] as const);
    oneOf(name, 'timestep_spacing', c.timestep_spacing, ['linspace', 'leading', 'trailing'] as const);
    this.config = Object.freeze(c);
    const cumprod = alphasCumprodForConfig(name, c, configBool(name, c, 'rescale_betas_zero_snr'));
    this.trainSigmas = trainingSigmas(cumprod);
    const n = this.trainSigmas.length;
    const sigmas = new Float32Array(n + 1);
    for (let i = 0; i < n; i++) sigmas[i] = this.trainSigmas[n - 1 - i]!;
    this.sigmasData = sigmas;
    this.timestepValues = Object.freeze(Array.from({ length: n }, (_, i) => n - 1 - i));
  }

  /** Builds the scheduler from a diffusers `scheduler_config.json` object (unknown keys are ignored). `overrides` win over `config`, as the keyword arguments of diffusers' `from_config`. */
  static fromConfig(
    config: Readonly<Record<string, unknown>>,
    overrides?: Readonly<Record<string, unknown>>,
  ): EulerAncestralDiscreteScheduler {
    return new EulerAncestralDiscreteScheduler(
      withOverrides('EulerAncestralDiscreteScheduler', config, overrides),
    );
  }

  protected get className(): string {
    return 'EulerAncestralDiscreteScheduler';
  }

  /** σ_max for linspace/trailing spacing, else √(σ_max² + 1). */
  get initNoiseSigma(): number {
    return initNoiseSigmaFor(this.sigmasData, this.config.timestep_spacing);
  }

  /** Sets `numInferenceSteps` timesteps spaced by `timestep_spacing`, sigmas interpolated linearly. */
  setTimesteps(numInferenceSteps: number): void {
    checkInferenceSteps(this.className, numInferenceSteps);
    const c = this.config;
    const timesteps = sigmaTimesteps(
      c.timestep_spacing as 'linspace',
      c.num_train_timesteps,
      numInferenceSteps,
      c.steps_offset,
    );
    const s = interpArray(timesteps, this.trainSigmas);
    const sigmas = new Float32Array(s.length + 1);
    sigmas.set(s);
    this.sigmasData = sigmas;
    this.timestepValues = Object.freeze(Array.from(timesteps));
    this.startSchedule(numInferenceSteps);
  }

  /**
   * One ancestral step: x0 per `prediction_type`, Euler to σ_down, then `+ noise · σ_up` with noise
   * drawn from `options.generator`.
   */
  step(
    modelOutput: Tensor,
    timestep: number,
    sample: Tensor,
    options: SchedulerStepOptions = {},
  ): SchedulerStepOutput {
    this.requireSchedule('step');
    this.checkSameShape(sample, modelOutput, 'sample', 'modelOutput');
    if (this.predictionType === 'sample') {
      throw new NotImplementedError(
        'EulerAncestralDiscreteScheduler: prediction_type "sample" (diffusers does not implement it either).',
      );
    }
    const index = this.initStepIndex(timestep);
    this.checkInRange(index, this.sigmasData.length - 2);
    const sigma = this.sigmasData[index]!;
    const sigmaTo = this.sigmasData[index + 1]!;
    const from2 = f(sigma * sigma);
    const to2 = f(sigmaTo * sigmaTo);
    const sigmaUp = f(Math.sqrt(f(f(to2 * f(from2 - to2)) / from2)));
    const sigmaDown = f(Math.sqrt(f(to2 - f(sigmaUp * sigmaUp))));
    const dt = f(sigmaDown - sigma);
    const x = sample.data;
    const m = modelOutput.data;
    const n = x.length;
    const prev = new Float32Array(n);
    if (this.predictionType === 'epsilon') {
      if (!runStepKernel('eulerx0', [x, m], [prev], [sigma, sigma, dt])) {
        for (let i = 0; i < n; i++) {
          const xi = x[i]!;
          const p = f(xi - f(sigma * m[i]!));
          prev[i] = xi + f(f(f(xi - p) / sigma) * dt);
        }
      }
    } else {
      const s2p1 = f(from2 + 1);
      const cOut = f(-sigma / f(Math.sqrt(s2p1)));
      for (let i = 0; i < n; i++) {
        const xi = x[i]!;
        const p = f(f(m[i]! * cOut) + f(xi / s2p1));
        prev[i] = xi + f(f(f(xi - p) / sigma) * dt);
      }
    }
    // diffusers draws the noise after the Euler part, whatever σ_up is (also 0 at the last step).
    const noise = drawNoise(modelOutput.shape, options.generator);
    if (!runStepKernel('axpy', [prev, noise], [prev], [sigmaUp])) {
      for (let i = 0; i < n; i++) prev[i] = prev[i]! + f(noise[i]! * sigmaUp);
    }
    this.stepIndexValue = index + 1;
    const type = this.predictionType;
    return stepOutput(prev, sample.shape, () => predictX0(type, x, m, sigma));
  }
}
