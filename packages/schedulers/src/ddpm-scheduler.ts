import {
  type Generator,
  InvalidArgumentError,
  type Scheduler,
  type SchedulerStepOptions,
  type SchedulerStepOutput,
  ShapeMismatchError,
  Tensor,
} from '@latentkit/core';
import { alphaScheduleFromConfig } from './shared/alphas.js';
import { BETA_SCHEDULES } from './shared/betas.js';
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
  notInScheduleError,
  PREDICTION_TYPES,
  type PredictionType,
  predictOriginal,
  type X0Clipping,
} from './shared/prediction.js';
import { checkTimestepsFit } from './shared/schedule-fit.js';
import { SchedulerBase } from './shared/scheduler-base.js';
import { runStepKernel } from './shared/step-wasm.js';
import { discreteTimesteps, TIMESTEP_SPACINGS, type TimestepSpacing } from './shared/timestep-spacing.js';

const CLASS_NAME = 'DDPMScheduler';

/** The `variance_type` values of DDPMScheduler. */
export const DDPM_VARIANCE_TYPES = [
  'fixed_small',
  'fixed_small_log',
  'fixed_large',
  'fixed_large_log',
  'learned',
  'learned_range',
] as const;

/** One of {@link DDPM_VARIANCE_TYPES}. */
export type DDPMVarianceType = (typeof DDPM_VARIANCE_TYPES)[number];

/** DDPMScheduler's config keys and diffusers' defaults. */
export const DDPM_DEFAULTS = {
  num_train_timesteps: 1000,
  beta_start: 0.0001,
  beta_end: 0.02,
  beta_schedule: 'linear',
  trained_betas: null as readonly number[] | null,
  variance_type: 'fixed_small',
  clip_sample: true,
  prediction_type: 'epsilon',
  thresholding: false,
  dynamic_thresholding_ratio: 0.995,
  clip_sample_range: 1.0,
  sample_max_value: 1.0,
  timestep_spacing: 'leading',
  steps_offset: 0,
  rescale_betas_zero_snr: false,
};

/** The config of a {@link DDPMScheduler}: diffusers' keys with defaults filled in. */
export type DDPMSchedulerConfig = ResolvedConfig<typeof DDPM_DEFAULTS>;

/** Options of {@link DDPMScheduler.setTimesteps}. */
export interface DDPMSetTimestepsOptions {
  /** A custom descending list of integer timesteps (diffusers' `timesteps=`); replaces the spacing. */
  timesteps?: readonly number[];
}

/**
 * DDPM (Ho et al. 2020, "Denoising Diffusion Probabilistic Models"): ancestral sampling with the posterior
 * q(x_{t−1} | x_t, x₀). A port of diffusers' `DDPMScheduler`, float32 step for step.
 *
 * As in diffusers, `step` works before `setTimesteps` (over all training timesteps, t → t − 1).
 * Deviation: `fixed_large_log` uses √β_t as the standard deviation; diffusers takes the square root of
 * log β_t there, which is NaN.
 */
export class DDPMScheduler extends SchedulerBase implements Scheduler {
  /** The config: diffusers' keys (snake_case), defaults filled in, plus `_class_name`. */
  readonly config: Readonly<DDPMSchedulerConfig>;
  /** DDPM takes one model evaluation per step. */
  readonly order = 1;
  /** The initial noise has standard deviation 1. */
  readonly initNoiseSigma = 1;
  /** β_t, float32. */
  readonly betas: Float32Array;
  /** ᾱ_t, float32. */
  readonly alphasCumprod: Float32Array;
  /** The number of inference steps, once `setTimesteps(n)` ran (null before, and for custom timesteps). */
  numInferenceSteps: number | null = null;
  /** Whether the schedule is a custom `timesteps` list. */
  customTimesteps = false;
  private _timesteps: number[];
  private readonly predictionType: PredictionType;
  private readonly varianceType: DDPMVarianceType;
  private readonly spacing: TimestepSpacing;
  private readonly clipping: X0Clipping;

  /** Builds a scheduler from a (partial) diffusers config; see {@link DDPMScheduler.fromConfig}. */
  constructor(config: Readonly<Record<string, unknown>> = {}) {
    super();
    const c = resolveConfig(CLASS_NAME, DDPM_DEFAULTS, config);
    const T = integerKey(CLASS_NAME, c, 'num_train_timesteps', 1);
    integerKey(CLASS_NAME, c, 'steps_offset');
    for (const key of [
      'beta_start',
      'beta_end',
      'dynamic_thresholding_ratio',
      'clip_sample_range',
      'sample_max_value',
    ]) {
      numberKey(CLASS_NAME, c, key, key === 'sample_max_value' || key === 'clip_sample_range');
    }
    for (const key of ['clip_sample', 'thresholding', 'rescale_betas_zero_snr'])
      booleanKey(CLASS_NAME, c, key);
    this.predictionType = oneOf(CLASS_NAME, 'prediction_type', c.prediction_type, PREDICTION_TYPES);
    this.varianceType = oneOf(CLASS_NAME, 'variance_type', c.variance_type, DDPM_VARIANCE_TYPES);
    this.spacing = oneOf(CLASS_NAME, 'timestep_spacing', c.timestep_spacing, TIMESTEP_SPACINGS);
    const schedule = alphaScheduleFromConfig(CLASS_NAME, c, [...BETA_SCHEDULES, 'sigmoid']);
    this.betas = schedule.betas;
    this.alphasCumprod = schedule.alphasCumprod;
    this.clipping = clippingFromConfig(c);
    this._timesteps = Array.from({ length: T }, (_, i) => T - 1 - i);
    this.config = Object.freeze(c);
  }

  /** Builds a DDPMScheduler from any diffusers `scheduler_config.json` object (unknown keys are ignored). `overrides` win over `config`, as the keyword arguments of diffusers' `from_config`. */
  static fromConfig(
    config: Readonly<Record<string, unknown>>,
    overrides?: Readonly<Record<string, unknown>>,
  ): DDPMScheduler {
    return new DDPMScheduler(withOverrides('DDPMScheduler', config, overrides));
  }

  /** The timesteps of the current schedule (integers, descending); all training timesteps by default. */
  get timesteps(): readonly number[] {
    return this._timesteps;
  }

  /**
   * Lays out `numInferenceSteps` integer timesteps per `timestep_spacing`, or takes a custom descending
   * list (`options.timesteps`, first below `num_train_timesteps`; pass `numInferenceSteps` as its length or
   * undefined).
   */
  setTimesteps(numInferenceSteps: number | undefined, options: DDPMSetTimestepsOptions = {}): void {
    const T = this.config.num_train_timesteps;
    const custom = options.timesteps;
    if (custom !== undefined) {
      if (
        numInferenceSteps !== undefined &&
        numInferenceSteps !== null &&
        numInferenceSteps !== custom.length
      ) {
        throw new InvalidArgumentError({
          name: `${CLASS_NAME}.setTimesteps`,
          value: numInferenceSteps,
          expected: 'only one of numInferenceSteps or options.timesteps',
        });
      }
      checkCustomTimesteps(CLASS_NAME, custom, T);
      this._timesteps = [...custom];
      this.customTimesteps = true;
      this.numInferenceSteps = null;
      return;
    }
    checkStepCount(CLASS_NAME, numInferenceSteps as number, T);
    const timestepsFor = (n: number): number[] =>
      discreteTimesteps(this.spacing, T, n, this.config.steps_offset);
    checkTimestepsFit(CLASS_NAME, numInferenceSteps as number, this.config, timestepsFor);
    this.numInferenceSteps = numInferenceSteps as number;
    this.customTimesteps = false;
    this._timesteps = timestepsFor(numInferenceSteps as number);
  }

  /** DDPM does not scale the model input. */
  scaleModelInput(sample: Tensor, _timestep?: number): Tensor {
    return sample;
  }

  /**
   * The timestep after `timestep`: the next entry of the schedule (−1 after the last) once timesteps are
   * set, else `t − 1`, as diffusers' `previous_timestep`.
   */
  previousTimestep(timestep: number): number {
    if (this.customTimesteps || this.numInferenceSteps !== null) {
      const index = this._timesteps.indexOf(timestep);
      if (index < 0) throw notInScheduleError(CLASS_NAME, timestep, this._timesteps);
      return index === this._timesteps.length - 1 ? -1 : this._timesteps[index + 1]!;
    }
    return timestep - 1;
  }

  /**
   * The variance of step `t` for `variance_type` (for the types that do not depend on the model's
   * predicted variance), float32: fixed_small = (1−ᾱ_prev)/(1−ᾱ_t)·β_t clamped at 1e-20,
   * fixed_small_log = its square root (exp(½·log)), fixed_large = β_t, fixed_large_log = log β_t.
   */
  getVariance(t: number): number {
    const { variance, currentBeta } = this.varianceParts(t);
    const fr = Math.fround;
    switch (this.varianceType) {
      case 'fixed_small_log':
        return fr(Math.exp(fr(0.5 * fr(Math.log(variance)))));
      case 'fixed_large':
        return currentBeta;
      case 'fixed_large_log':
        return fr(Math.log(currentBeta));
      default:
        return variance;
    }
  }

  private varianceParts(t: number): { variance: number; currentBeta: number } {
    const fr = Math.fround;
    const prev = this.previousTimestep(t);
    const ap = this.alphasCumprod[t]!;
    const app = prev >= 0 ? this.alphasCumprod[prev]! : 1;
    const currentBeta = fr(1 - fr(ap / app));
    const variance = Math.max(fr(fr(fr(1 - app) / fr(1 - ap)) * currentBeta), fr(1e-20));
    return { variance, currentBeta };
  }

  /**
   * One DDPM step (formulas 6–7 of the paper): the posterior mean, plus noise from `options.generator`
   * (drawn with the sample's shape) for t > 0. For `learned` / `learned_range`, the model output carries the
   * predicted variance in its second half of channels ([B, 2C, …]), as diffusers splits it.
   */
  step(
    modelOutput: Tensor,
    timestep: number,
    sample: Tensor,
    options: SchedulerStepOptions = {},
  ): SchedulerStepOutput {
    const T = this.config.num_train_timesteps;
    checkTrainTimestep(CLASS_NAME, 'step', timestep, T);
    const learned = this.varianceType === 'learned' || this.varianceType === 'learned_range';
    let model = modelOutput.data;
    let predictedVariance: Float32Array | null = null;
    if (learned) {
      [model, predictedVariance] = splitChannels(modelOutput, sample);
    } else {
      checkSameShape(CLASS_NAME, 'step sample', modelOutput, sample);
    }
    const fr = Math.fround;
    const t = timestep;
    const prev = this.previousTimestep(t);
    const ap = this.alphasCumprod[t]!;
    const app = prev >= 0 ? this.alphasCumprod[prev]! : 1;
    const bp = fr(1 - ap);
    const bpp = fr(1 - app);
    const currentAlpha = fr(ap / app);
    const currentBeta = fr(1 - currentAlpha);

    const n = sample.size;
    const x0 = new Float32Array(n);
    predictOriginal(
      this.predictionType,
      fr(Math.sqrt(ap)),
      fr(Math.sqrt(bp)),
      model,
      sample.data,
      x0,
      null,
      sample.shape[0] ?? 1,
      this.clipping,
    );
    const x0Coeff = fr(fr(fr(Math.sqrt(app)) * currentBeta) / bp);
    const sampleCoeff = fr(fr(fr(Math.sqrt(currentAlpha)) * bpp) / bp);
    const x = sample.data;
    const out = new Float32Array(n);
    if (!runStepKernel('lin2', [x0, x], [out], [x0Coeff, sampleCoeff])) {
      for (let i = 0; i < n; i++) out[i] = fr(x0Coeff * x0[i]!) + fr(sampleCoeff * x[i]!);
    }

    if (t > 0) {
      const noise = drawNoise(sample.shape, options.generator as Generator | undefined);
      const { variance } = this.varianceParts(t);
      if (this.varianceType === 'learned' || this.varianceType === 'learned_range') {
        const pv = predictedVariance!;
        const minLog = fr(Math.log(variance));
        const maxLog = fr(Math.log(currentBeta));
        for (let i = 0; i < n; i++) {
          let std: number;
          if (this.varianceType === 'learned') {
            std = fr(Math.sqrt(pv[i]!));
          } else {
            const frac = fr(fr(pv[i]! + 1) / 2);
            const v = fr(fr(frac * maxLog) + fr(fr(1 - frac) * minLog));
            std = fr(Math.exp(fr(0.5 * v)));
          }
          out[i] = out[i]! + fr(std * noise[i]!);
        }
      } else {
        let std: number;
        if (this.varianceType === 'fixed_small') std = fr(Math.sqrt(variance));
        else if (this.varianceType === 'fixed_small_log') std = this.getVariance(t);
        else if (this.varianceType === 'fixed_large') std = fr(Math.sqrt(currentBeta));
        else std = fr(Math.exp(fr(0.5 * fr(Math.log(currentBeta))))); // fixed_large_log (see class note)
        if (!runStepKernel('axpy', [out, noise], [out], [std])) {
          for (let i = 0; i < n; i++) out[i] = out[i]! + fr(std * noise[i]!);
        }
      }
    }
    return { prevSample: new Tensor(out, sample.shape), predOriginalSample: new Tensor(x0, sample.shape) };
  }

  /** Noises `original` to `timestep`: √ᾱ_t·x₀ + √(1−ᾱ_t)·ε. */
  addNoise(original: Tensor, noise: Tensor, timestep: number): Tensor {
    return addNoiseWithAlphas(CLASS_NAME, this.alphasCumprod, original, noise, timestep);
  }

  /** DDPM steps are stateless; accepted for img2img loops that start part-way, and ignored. */
  setBeginIndex(_index: number): void {}
}

/** Checks a custom timestep list as diffusers does: integers, strictly descending, the first below T. */
export function checkCustomTimesteps(
  className: string,
  timesteps: readonly number[],
  trainSteps: number,
): void {
  if (
    !Array.isArray(timesteps) ||
    timesteps.length === 0 ||
    !timesteps.every((t) => Number.isInteger(t) && t >= 0)
  ) {
    throw new InvalidArgumentError({
      name: `${className}.setTimesteps options.timesteps`,
      value: timesteps,
      expected: 'a non-empty list of non-negative integer timesteps',
    });
  }
  for (let i = 1; i < timesteps.length; i++) {
    if (timesteps[i]! >= timesteps[i - 1]!) {
      throw new InvalidArgumentError({
        name: `${className}.setTimesteps options.timesteps`,
        value: timesteps,
        expected: 'timesteps in descending order',
      });
    }
  }
  if (timesteps[0]! >= trainSteps) {
    throw new InvalidArgumentError({
      name: `${className}.setTimesteps options.timesteps[0]`,
      value: timesteps[0],
      expected: `a timestep below num_train_timesteps (${trainSteps})`,
    });
  }
}

/** torch.split(model_output, C, dim=1) of a [B, 2C, …] output into the model part and the predicted variance. */
function splitChannels(modelOutput: Tensor, sample: Tensor): [Float32Array, Float32Array] {
  const [b, c2, ...rest] = modelOutput.shape;
  const c = sample.shape[1];
  const ok =
    c !== undefined &&
    b === sample.shape[0] &&
    c2 === 2 * c &&
    rest.length === sample.shape.length - 2 &&
    rest.every((d, i) => d === sample.shape[i + 2]);
  if (!ok) {
    throw new ShapeMismatchError({
      name: `${CLASS_NAME} step modelOutput`,
      value: modelOutput.shape,
      expected: `[${sample.shape[0]}, ${2 * (c ?? 0)}, ${sample.shape.slice(2).join(', ')}]: the noise and the predicted variance (variance_type learned/learned_range)`,
    });
  }
  const inner = sample.size / (b ?? 1);
  const model = new Float32Array(sample.size);
  const variance = new Float32Array(sample.size);
  for (let i = 0; i < (b ?? 1); i++) {
    model.set(modelOutput.data.subarray(2 * i * inner, (2 * i + 1) * inner), i * inner);
    variance.set(modelOutput.data.subarray((2 * i + 1) * inner, (2 * i + 2) * inner), i * inner);
  }
  return [model, variance];
}
