import { type SchedulerStepOutput, Tensor } from '@latentkit/core';
import type { EulerStepOptions } from './euler-discrete-scheduler.js';
import { linspaceFloat32 } from './shared/betas.js';
import { oneOf, type ResolvedConfig, resolveConfig, withOverrides } from './shared/config.js';
import { drawNoise } from './shared/noise.js';
import { linspace } from './shared/numpy.js';
import { checkInferenceSteps, configNumber, SigmaScheduler, stepOutput } from './shared/sigma-scheduler.js';

const f = Math.fround;

/** The config keys of {@link EDMEulerScheduler}, with diffusers' defaults. */
export const EDM_EULER_DEFAULTS = {
  sigma_min: 0.002,
  sigma_max: 80.0,
  sigma_data: 0.5,
  sigma_schedule: 'karras',
  num_train_timesteps: 1000,
  prediction_type: 'epsilon',
  rho: 7.0,
  final_sigmas_type: 'zero',
};

/** The config of {@link EDMEulerScheduler}: diffusers' keys and `_class_name`. */
export type EDMEulerSchedulerConfig = ResolvedConfig<typeof EDM_EULER_DEFAULTS>;

/**
 * diffusers' `EDMEulerScheduler`: the Euler sampler of Karras et al. (2022) with the EDM preconditioning
 * (c_in, c_skip, c_out, c_noise = ¼ log σ as the timestep), sigmas from the Karras (ρ) or exponential
 * schedule between `sigma_min` and `sigma_max`. Optional churn as {@link EulerStepOptions}.
 */
export class EDMEulerScheduler extends SigmaScheduler {
  /** The diffusers config, defaults filled in. */
  readonly config: Readonly<EDMEulerSchedulerConfig>;
  /** One model evaluation per step. */
  readonly order = 1;
  private readonly predictionType: 'epsilon' | 'v_prediction';

  /** Builds the scheduler from a diffusers config (missing keys take diffusers' defaults). */
  constructor(config: Readonly<Record<string, unknown>> = {}) {
    super();
    const name = 'EDMEulerScheduler';
    const c = resolveConfig(name, EDM_EULER_DEFAULTS, config);
    oneOf(name, 'sigma_schedule', c.sigma_schedule, ['karras', 'exponential'] as const);
    this.predictionType = oneOf(name, 'prediction_type', c.prediction_type, [
      'epsilon',
      'v_prediction',
    ] as const);
    oneOf(name, 'final_sigmas_type', c.final_sigmas_type, ['zero', 'sigma_min'] as const);
    for (const key of ['sigma_min', 'sigma_max', 'sigma_data', 'rho'] as const) configNumber(name, c, key);
    this.config = Object.freeze(c);
    // diffusers' __init__ schedule: ramp = arange(T + 1) / T.
    const T = c.num_train_timesteps;
    this.build(Float64Array.from({ length: T + 1 }, (_, i) => i / T));
    this.numInferenceStepsValue = null;
  }

  /** Builds the scheduler from a diffusers `scheduler_config.json` object (unknown keys are ignored). `overrides` win over `config`, as the keyword arguments of diffusers' `from_config`. */
  static fromConfig(
    config: Readonly<Record<string, unknown>>,
    overrides?: Readonly<Record<string, unknown>>,
  ): EDMEulerScheduler {
    return new EDMEulerScheduler(withOverrides('EDMEulerScheduler', config, overrides));
  }

  protected get className(): string {
    return 'EDMEulerScheduler';
  }

  /** √(σ_max² + 1), from the config (float64, as diffusers returns a Python float). */
  get initNoiseSigma(): number {
    return (this.config.sigma_max ** 2 + 1) ** 0.5;
  }

  /**
   * Sets `numInferenceSteps` sigmas. `options.sigmas` is, as in diffusers, a custom *ramp* in [0, 1]
   * that the configured schedule maps to sigmas (not sigmas themselves).
   */
  setTimesteps(numInferenceSteps: number, options: { sigmas?: readonly number[] } = {}): void {
    const ramp = options.sigmas !== undefined ? Float64Array.from(options.sigmas) : null;
    const n = ramp ? ramp.length : numInferenceSteps;
    checkInferenceSteps(this.className, n);
    this.build(ramp ?? linspace(0, 1, n));
    this.numInferenceStepsValue = n;
  }

  private build(ramp: Float64Array): void {
    const c = this.config;
    const sigmas = new Float32Array(ramp.length + 1);
    if (c.sigma_schedule === 'karras') {
      // float64 torch ops, then cast to float32.
      const minInvRho = c.sigma_min ** (1 / c.rho);
      const maxInvRho = c.sigma_max ** (1 / c.rho);
      for (let i = 0; i < ramp.length; i++)
        sigmas[i] = (maxInvRho + ramp[i]! * (minInvRho - maxInvRho)) ** c.rho;
    } else {
      // torch.linspace(log σmin, log σmax, len) in float32 (torch's default dtype), exp, flipped.
      const logs = linspaceFloat32(Math.log(c.sigma_min), Math.log(c.sigma_max), ramp.length);
      for (let i = 0; i < ramp.length; i++) sigmas[i] = Math.exp(logs[ramp.length - 1 - i]!);
    }
    sigmas[ramp.length] = c.final_sigmas_type === 'sigma_min' ? sigmas[ramp.length - 1]! : 0;
    this.sigmasData = sigmas;
    // precondition_noise: c_noise = 0.25 · log σ (float32).
    this.timestepValues = Object.freeze(
      Array.from(sigmas.subarray(0, ramp.length), (s) => f(0.25 * f(Math.log(s)))),
    );
    this.stepIndexValue = null;
    this.beginIndexValue = null;
  }

  /** EDM's c_in: multiplies the sample by 1/√(σ² + σ_data²) (float32). */
  override scaleModelInput(sample: Tensor, timestep: number): Tensor {
    this.requireSchedule('scaleModelInput');
    const sigma = this.sigmasData[this.initStepIndex(timestep)]!;
    const sd = this.config.sigma_data;
    const cIn = f(1 / f(Math.sqrt(f(f(sigma * sigma) + f(sd * sd)))));
    const s = sample.data;
    const out = new Float32Array(s.length);
    for (let i = 0; i < out.length; i++) out[i] = s[i]! * cIn;
    return new Tensor(out, sample.shape);
  }

  /**
   * One EDM Euler step: denoised = c_skip·x + c_out·F(x), derivative (x − denoised)/σ̂,
   * `prev = x + d · (σ_next − σ̂)`; with `sChurn > 0` churn noise from `options.generator` first.
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
    const gamma =
      sTmin <= sigma && sigma <= sTmax ? Math.min(sChurn / (this.sigmasData.length - 1), 2 ** 0.5 - 1) : 0;
    const sigmaHat = f(sigma * f(gamma + 1));
    const n = sample.data.length;
    let x = sample.data;
    if (gamma > 0) {
      const noise = drawNoise(modelOutput.shape, options.generator);
      const scale = f(Math.sqrt(f(f(sigmaHat * sigmaHat) - f(sigma * sigma))));
      const sn = f(options.sNoise ?? 1);
      const churned = new Float32Array(n);
      for (let i = 0; i < n; i++) churned[i] = x[i]! + f(f(noise[i]! * sn) * scale);
      x = churned;
    }
    // precondition_outputs at σ̂ (float32 per op).
    const sd = this.config.sigma_data;
    const sd2 = f(sd * sd);
    const denom = f(f(sigmaHat * sigmaHat) + sd2);
    const cSkip = f(sd2 / denom);
    const cOutAbs = f(f(sigmaHat * f(sd)) / f(Math.sqrt(denom)));
    const cOut = this.predictionType === 'epsilon' ? cOutAbs : -cOutAbs;
    const m = modelOutput.data;
    const dt = f(this.sigmasData[index + 1]! - sigmaHat);
    const prev = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      const xi = x[i]!;
      const p = f(f(cSkip * xi) + f(cOut * m[i]!));
      prev[i] = xi + f(f(f(xi - p) / sigmaHat) * dt);
    }
    this.stepIndexValue = index + 1;
    const xs = x;
    return stepOutput(prev, sample.shape, () =>
      Float32Array.from({ length: n }, (_, i) => f(f(cSkip * xs[i]!) + f(cOut * m[i]!))),
    );
  }
}
