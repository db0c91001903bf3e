import {
  type Generator,
  InvalidArgumentError,
  type Scheduler,
  type SchedulerStepOptions,
  type SchedulerStepOutput,
  Tensor,
} from '@latentkit/core';
import { alphaScheduleFromConfig } from './shared/alphas.js';
import {
  booleanKey,
  checkStepCount,
  integerKey,
  numberKey,
  oneOf,
  type ResolvedConfig,
  resolveConfig,
  withOverrides,
} from './shared/config.js';
import { addNoiseWithAlphas, checkSameShape, drawNoise } from './shared/noise.js';
import {
  checkTrainTimestep,
  clippingFromConfig,
  notReadyError,
  PREDICTION_TYPES,
  type PredictionType,
  predictOriginal,
  type X0Clipping,
} from './shared/prediction.js';
import { checkTimestepsFit } from './shared/schedule-fit.js';
import { SchedulerBase } from './shared/scheduler-base.js';
import { runStepKernel } from './shared/step-wasm.js';
import { discreteTimesteps, TIMESTEP_SPACINGS, type TimestepSpacing } from './shared/timestep-spacing.js';

const CLASS_NAME = 'DDIMScheduler';

/** DDIMScheduler's config keys and diffusers' defaults. */
export const DDIM_DEFAULTS = {
  num_train_timesteps: 1000,
  beta_start: 0.0001,
  beta_end: 0.02,
  beta_schedule: 'linear',
  trained_betas: null as readonly number[] | null,
  clip_sample: true,
  set_alpha_to_one: true,
  steps_offset: 0,
  prediction_type: 'epsilon',
  thresholding: false,
  dynamic_thresholding_ratio: 0.995,
  clip_sample_range: 1.0,
  sample_max_value: 1.0,
  timestep_spacing: 'leading',
  rescale_betas_zero_snr: false,
};

/** The config of a {@link DDIMScheduler}: diffusers' keys with defaults filled in. */
export type DDIMSchedulerConfig = ResolvedConfig<typeof DDIM_DEFAULTS>;

/**
 * DDIM (Song et al. 2021, "Denoising Diffusion Implicit Models"): deterministic at η = 0, DDPM-like at
 * η = 1. A port of diffusers' `DDIMScheduler`, float32 step for step.
 *
 * Note, as in diffusers: the previous timestep is always `t − T // n`, whatever the spacing.
 */
export class DDIMScheduler extends SchedulerBase implements Scheduler {
  /** The config: diffusers' keys (snake_case), defaults filled in, plus `_class_name`. */
  readonly config: Readonly<DDIMSchedulerConfig>;
  /** DDIM takes one model evaluation per step. */
  readonly order = 1;
  /** The initial noise has standard deviation 1. */
  readonly initNoiseSigma = 1;
  /** β_t, float32. */
  readonly betas: Float32Array;
  /** ᾱ_t, float32. */
  readonly alphasCumprod: Float32Array;
  /** ᾱ used after the last step: 1 with `set_alpha_to_one`, else ᾱ_0. */
  readonly finalAlphaCumprod: number;
  /** The number of inference steps, once `setTimesteps` ran. */
  numInferenceSteps: number | null = null;
  private _timesteps: number[];
  private readonly predictionType: PredictionType;
  private readonly spacing: TimestepSpacing;
  private readonly clipping: X0Clipping;

  /** Builds a scheduler from a (partial) diffusers config; see {@link DDIMScheduler.fromConfig}. */
  constructor(config: Readonly<Record<string, unknown>> = {}) {
    super();
    const c = resolveConfig(CLASS_NAME, DDIM_DEFAULTS, config);
    const T = integerKey(CLASS_NAME, c, 'num_train_timesteps', 1);
    integerKey(CLASS_NAME, c, 'steps_offset');
    numberKey(CLASS_NAME, c, 'beta_start');
    numberKey(CLASS_NAME, c, 'beta_end');
    for (const key of ['clip_sample', 'set_alpha_to_one', 'thresholding', 'rescale_betas_zero_snr']) {
      booleanKey(CLASS_NAME, c, key);
    }
    for (const key of ['dynamic_thresholding_ratio', 'clip_sample_range', 'sample_max_value']) {
      numberKey(CLASS_NAME, c, key, key === 'sample_max_value' || key === 'clip_sample_range');
    }
    this.predictionType = oneOf(CLASS_NAME, 'prediction_type', c.prediction_type, PREDICTION_TYPES);
    this.spacing = oneOf(CLASS_NAME, 'timestep_spacing', c.timestep_spacing, TIMESTEP_SPACINGS);
    const schedule = alphaScheduleFromConfig(CLASS_NAME, c);
    this.betas = schedule.betas;
    this.alphasCumprod = schedule.alphasCumprod;
    this.finalAlphaCumprod = c.set_alpha_to_one ? 1 : this.alphasCumprod[0]!;
    this.clipping = clippingFromConfig(c);
    this._timesteps = Array.from({ length: T }, (_, i) => T - 1 - i);
    this.config = Object.freeze(c);
  }

  /** Builds a DDIMScheduler from any diffusers `scheduler_config.json` object (unknown keys are ignored). `overrides` win over `config`, as the keyword arguments of diffusers' `from_config`. */
  static fromConfig(
    config: Readonly<Record<string, unknown>>,
    overrides?: Readonly<Record<string, unknown>>,
  ): DDIMScheduler {
    return new DDIMScheduler(withOverrides('DDIMScheduler', config, overrides));
  }

  /** The timesteps of the current schedule (integers, descending). */
  get timesteps(): readonly number[] {
    return this._timesteps;
  }

  /** Lays out `numInferenceSteps` integer timesteps per `timestep_spacing` and `steps_offset`. */
  setTimesteps(numInferenceSteps: number): void {
    const T = this.config.num_train_timesteps;
    checkStepCount(CLASS_NAME, numInferenceSteps, T);
    const timestepsFor = (n: number): number[] =>
      discreteTimesteps(this.spacing, T, n, this.config.steps_offset);
    checkTimestepsFit(CLASS_NAME, numInferenceSteps, this.config, timestepsFor);
    this.numInferenceSteps = numInferenceSteps;
    this._timesteps = timestepsFor(numInferenceSteps);
  }

  /** DDIM does not scale the model input. */
  scaleModelInput(sample: Tensor, _timestep?: number): Tensor {
    return sample;
  }

  /** DDIM's σ_t²/η² between `timestep` and `prevTimestep`: (1−ᾱ_prev)/(1−ᾱ_t)·(1 − ᾱ_t/ᾱ_prev), float32. */
  getVariance(timestep: number, prevTimestep: number): number {
    const fr = Math.fround;
    const ap = this.alphasCumprod[timestep]!;
    const app = prevTimestep >= 0 ? this.alphasCumprod[prevTimestep]! : this.finalAlphaCumprod;
    return fr(fr(fr(1 - app) / fr(1 - ap)) * fr(1 - fr(ap / app)));
  }

  /**
   * One DDIM step (formula 12 of the paper) from the model output at `timestep`. `options.eta` (default 0)
   * adds noise of standard deviation η·σ_t, drawn from `options.generator` with the model output's shape.
   */
  step(
    modelOutput: Tensor,
    timestep: number,
    sample: Tensor,
    options: SchedulerStepOptions = {},
  ): SchedulerStepOutput {
    if (this.numInferenceSteps === null) throw notReadyError(CLASS_NAME);
    const T = this.config.num_train_timesteps;
    checkTrainTimestep(CLASS_NAME, 'step', timestep, T);
    checkSameShape(CLASS_NAME, 'step sample', modelOutput, sample);
    const eta = options.eta ?? 0;
    if (typeof eta !== 'number' || !(eta >= 0)) {
      throw new InvalidArgumentError({
        name: `${CLASS_NAME}.step eta`,
        value: eta,
        expected: 'a number ≥ 0',
      });
    }
    const fr = Math.fround;
    const prevTimestep = timestep - Math.floor(T / this.numInferenceSteps);
    const ap = this.alphasCumprod[timestep]!;
    const app = prevTimestep >= 0 ? this.alphasCumprod[prevTimestep]! : this.finalAlphaCumprod;
    const sa = fr(Math.sqrt(ap));
    const sb = fr(Math.sqrt(fr(1 - ap)));
    const std = fr(fr(eta) * fr(Math.sqrt(this.getVariance(timestep, prevTimestep))));
    const dirCoeff = fr(Math.sqrt(fr(fr(1 - app) - fr(std * std))));
    const prevCoeff = fr(Math.sqrt(app));

    const n = sample.size;
    const x0 = new Float32Array(n);
    const prev = new Float32Array(n);
    const m = modelOutput.data;
    const xs = sample.data;
    if (this.clipping.threshold) {
      // Thresholding needs all of x₀ (a per-item quantile) before the update: two passes.
      const eps = this.predictionType === 'epsilon' ? m : new Float32Array(n);
      const epsOut = this.predictionType === 'epsilon' ? null : eps;
      predictOriginal(this.predictionType, sa, sb, m, xs, x0, epsOut, sample.shape[0] ?? 1, this.clipping);
      for (let i = 0; i < n; i++) prev[i] = fr(prevCoeff * x0[i]!) + fr(dirCoeff * eps[i]!);
    } else {
      // One fused pass: x₀ and ε from the model output, the clip, the update; each op rounded as torch.
      const r =
        this.clipping.clipRange === undefined ? Number.POSITIVE_INFINITY : fr(this.clipping.clipRange);
      const type = this.predictionType;
      if (type === 'epsilon') {
        // The common case, without the per-element branch on the prediction type.
        for (let i = 0; i < n; i++) {
          const o = m[i]!;
          let p = fr(fr(xs[i]! - fr(sb * o)) / sa);
          if (p < -r) p = -r;
          else if (p > r) p = r;
          x0[i] = p;
          prev[i] = fr(prevCoeff * p) + fr(dirCoeff * o);
        }
        return this.finish(prev, x0, sample, modelOutput, eta, std, options);
      }
      for (let i = 0; i < n; i++) {
        const x = xs[i]!;
        const o = m[i]!;
        let p: number;
        let e: number;
        if (type === 'v_prediction') {
          p = fr(fr(sa * x) - fr(sb * o));
          e = fr(fr(sa * o) + fr(sb * x));
        } else {
          p = o;
          e = fr(fr(x - fr(sa * o)) / sb);
        }
        if (p < -r) p = -r;
        else if (p > r) p = r;
        x0[i] = p;
        prev[i] = fr(prevCoeff * p) + fr(dirCoeff * e);
      }
    }
    return this.finish(prev, x0, sample, modelOutput, eta, std, options);
  }

  /** Adds η·σ_t·z (z drawn with the model output's shape) when η > 0, and wraps the outputs. */
  private finish(
    prev: Float32Array,
    x0: Float32Array,
    sample: Tensor,
    modelOutput: Tensor,
    eta: number,
    std: number,
    options: SchedulerStepOptions,
  ): SchedulerStepOutput {
    if (eta > 0) {
      const fr = Math.fround;
      const noise = drawNoise(modelOutput.shape, options.generator as Generator | undefined);
      if (!runStepKernel('axpy', [prev, noise], [prev], [std])) {
        for (let i = 0; i < prev.length; i++) prev[i] = prev[i]! + fr(std * noise[i]!);
      }
    }
    return { prevSample: new Tensor(prev, sample.shape), predOriginalSample: new Tensor(x0, sample.shape) };
  }

  /** Noises `original` to `timestep`: √ᾱ_t·x₀ + √(1−ᾱ_t)·ε. */
  addNoise(original: Tensor, noise: Tensor, timestep: number): Tensor {
    return addNoiseWithAlphas(CLASS_NAME, this.alphasCumprod, original, noise, timestep);
  }

  /** DDIM steps are stateless; accepted for img2img loops that start part-way, and ignored. */
  setBeginIndex(_index: number): void {}
}
