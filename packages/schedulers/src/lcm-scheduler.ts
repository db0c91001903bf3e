import {
  type Generator,
  type Scheduler,
  type SchedulerStepOptions,
  type SchedulerStepOutput,
  Tensor,
} from '@latentkit/core';
import { type ResolvedConfig, resolveConfig, withOverrides } from './shared/config.js';
import { consistencySchedule, consistencySetup } from './shared/consistency-timesteps.js';
import { addNoiseWithAlphas, checkSameShape, drawNoise } from './shared/noise.js';
import {
  checkTrainTimestep,
  clippingFromConfig,
  notInScheduleError,
  notReadyError,
  type PredictionType,
  predictOriginal,
  type X0Clipping,
} from './shared/prediction.js';
import { SchedulerBase } from './shared/scheduler-base.js';
import { indexForTimestep } from './shared/sigmas.js';
import { runStepKernel } from './shared/step-wasm.js';

const CLASS_NAME = 'LCMScheduler';

/** LCMScheduler's config keys and diffusers' defaults. */
export const LCM_DEFAULTS = {
  num_train_timesteps: 1000,
  beta_start: 0.00085,
  beta_end: 0.012,
  beta_schedule: 'scaled_linear',
  trained_betas: null as readonly number[] | null,
  original_inference_steps: 50,
  clip_sample: false,
  clip_sample_range: 1.0,
  set_alpha_to_one: true,
  steps_offset: 0,
  prediction_type: 'epsilon',
  thresholding: false,
  dynamic_thresholding_ratio: 0.995,
  sample_max_value: 1.0,
  timestep_spacing: 'leading',
  timestep_scaling: 10.0,
  rescale_betas_zero_snr: false,
};

/** The config of an {@link LCMScheduler}: diffusers' keys with defaults filled in. */
export type LCMSchedulerConfig = ResolvedConfig<typeof LCM_DEFAULTS>;

/** Options of {@link LCMScheduler.setTimesteps}. */
export interface LCMSetTimestepsOptions {
  /** A custom descending list of integer timesteps (diffusers' `timesteps=`). */
  timesteps?: readonly number[];
  /** Overrides the config's `original_inference_steps` (the distillation schedule's length). */
  originalInferenceSteps?: number;
  /** img2img strength in (0, 1]: only the first `strength` of the distillation schedule is used. */
  strength?: number;
}

/**
 * LCM (Luo et al. 2023, "Latent Consistency Models"): multistep consistency sampling for LCM-distilled
 * UNets and LCM-LoRA, typically 2–8 steps with guidance ≤ 2. A port of diffusers' `LCMScheduler`, float32
 * step for step; between steps it re-noises the denoised estimate with noise from `options.generator`.
 */
export class LCMScheduler extends SchedulerBase implements Scheduler {
  /** The config: diffusers' keys (snake_case), defaults filled in, plus `_class_name`. */
  readonly config: Readonly<LCMSchedulerConfig>;
  /** LCM takes one model evaluation per step. */
  readonly order = 1;
  /** The initial noise has standard deviation 1. */
  readonly initNoiseSigma = 1;
  /** β_t, float32. */
  readonly betas: Float32Array;
  /** ᾱ_t, float32. */
  readonly alphasCumprod: Float32Array;
  /** ᾱ for a previous timestep below 0: 1 with `set_alpha_to_one`, else ᾱ_0. */
  readonly finalAlphaCumprod: number;
  /** The number of inference steps, once `setTimesteps` ran. */
  numInferenceSteps: number | null = null;
  /** Whether the schedule is a custom `timesteps` list. */
  customTimesteps = false;
  private _timesteps: number[] = [];
  private stepIndex: number | null = null;
  private beginIndex: number | null = null;
  private readonly predictionType: PredictionType;
  private readonly clipping: X0Clipping;

  /** Builds a scheduler from a (partial) diffusers config; see {@link LCMScheduler.fromConfig}. */
  constructor(config: Readonly<Record<string, unknown>> = {}) {
    super();
    const c = resolveConfig(CLASS_NAME, LCM_DEFAULTS, config);
    const setup = consistencySetup(CLASS_NAME, c);
    const T = setup.trainSteps;
    this.predictionType = setup.predictionType;
    this.betas = setup.betas;
    this.alphasCumprod = setup.alphasCumprod;
    this.finalAlphaCumprod = setup.finalAlphaCumprod;
    this.clipping = clippingFromConfig(c);
    this._timesteps = Array.from({ length: T }, (_, i) => T - 1 - i);
    this.config = Object.freeze(c);
  }

  /** Builds an LCMScheduler from any diffusers `scheduler_config.json` object (unknown keys are ignored). `overrides` win over `config`, as the keyword arguments of diffusers' `from_config`. */
  static fromConfig(
    config: Readonly<Record<string, unknown>>,
    overrides?: Readonly<Record<string, unknown>>,
  ): LCMScheduler {
    return new LCMScheduler(withOverrides('LCMScheduler', config, overrides));
  }

  /** The timesteps of the current schedule (integers, descending). */
  get timesteps(): readonly number[] {
    return this._timesteps;
  }

  /**
   * Picks `numInferenceSteps` timesteps evenly from the distillation schedule (e.g. 4 steps →
   * 999, 759, 499, 259), or takes a custom descending list; `options.strength` < 1 restricts the schedule
   * for img2img as diffusers does.
   */
  setTimesteps(numInferenceSteps: number | undefined, options: LCMSetTimestepsOptions = {}): void {
    const schedule = consistencySchedule(CLASS_NAME, this.config, numInferenceSteps, options);
    this._timesteps = schedule.timesteps;
    this.numInferenceSteps = schedule.numInferenceSteps;
    this.customTimesteps = schedule.customTimesteps;
    this.stepIndex = null;
    this.beginIndex = null;
  }

  /** LCM does not scale the model input. */
  scaleModelInput(sample: Tensor, _timestep?: number): Tensor {
    return sample;
  }

  /** The consistency-model boundary scalings c_skip, c_out at `timestep` (σ_data = 0.5), float32. */
  boundaryScalings(timestep: number): { cSkip: number; cOut: number } {
    const fr = Math.fround;
    const scaled = fr(timestep * fr(this.config.timestep_scaling));
    const denom = fr(fr(scaled * scaled) + 0.25);
    return { cSkip: fr(0.25 / denom), cOut: fr(scaled / fr(Math.sqrt(denom))) };
  }

  /**
   * One LCM step: x₀ from the model output, the boundary-condition mix `denoised = c_out·x₀ + c_skip·x`,
   * then (except at the last step) re-noising to the next timestep with noise drawn from
   * `options.generator` (shape of the model output).
   */
  step(
    modelOutput: Tensor,
    timestep: number,
    sample: Tensor,
    options: SchedulerStepOptions = {},
  ): SchedulerStepOutput {
    if (this.numInferenceSteps === null) throw notReadyError(CLASS_NAME);
    checkTrainTimestep(CLASS_NAME, 'step', timestep, this.config.num_train_timesteps);
    checkSameShape(CLASS_NAME, 'step sample', modelOutput, sample);
    if (this.stepIndex === null) this.stepIndex = this.beginIndex ?? this.indexForTimestep(timestep);
    const fr = Math.fround;
    const index = this.stepIndex;
    const prevTimestep = index + 1 < this._timesteps.length ? this._timesteps[index + 1]! : timestep;
    const ap = this.alphasCumprod[timestep]!;
    const app = prevTimestep >= 0 ? this.alphasCumprod[prevTimestep]! : this.finalAlphaCumprod;
    const bp = fr(1 - ap);
    const bpp = fr(1 - app);
    const { cSkip, cOut } = this.boundaryScalings(timestep);

    const n = sample.size;
    const x0 = new Float32Array(n);
    predictOriginal(
      this.predictionType,
      fr(Math.sqrt(ap)),
      fr(Math.sqrt(bp)),
      modelOutput.data,
      sample.data,
      x0,
      null,
      sample.shape[0] ?? 1,
      this.clipping,
    );
    const x = sample.data;
    const denoised = new Float32Array(n);
    if (!runStepKernel('lin2', [x0, x], [denoised], [cOut, cSkip])) {
      for (let i = 0; i < n; i++) denoised[i] = fr(cOut * x0[i]!) + fr(cSkip * x[i]!);
    }
    let prev = denoised;
    if (index !== this.numInferenceSteps - 1) {
      const noise = drawNoise(modelOutput.shape, options.generator as Generator | undefined);
      const a = fr(Math.sqrt(app));
      const b = fr(Math.sqrt(bpp));
      prev = new Float32Array(n);
      if (!runStepKernel('lin2', [denoised, noise], [prev], [a, b])) {
        for (let i = 0; i < n; i++) prev[i] = fr(a * denoised[i]!) + fr(b * noise[i]!);
      }
    }
    this.stepIndex = index + 1;
    return {
      prevSample: new Tensor(prev, sample.shape),
      predOriginalSample: new Tensor(denoised, sample.shape),
    };
  }

  /** Noises `original` to `timestep`: √ᾱ_t·x₀ + √(1−ᾱ_t)·ε. */
  addNoise(original: Tensor, noise: Tensor, timestep: number): Tensor {
    return addNoiseWithAlphas(CLASS_NAME, this.alphasCumprod, original, noise, timestep);
  }

  /** Starts the schedule at entry `index` (img2img), as diffusers' `set_begin_index`. */
  setBeginIndex(index: number): void {
    this.beginIndex = index;
  }

  private indexForTimestep(timestep: number): number {
    // diffusers takes the second match when a timestep repeats, so img2img never skips a step.
    const index = indexForTimestep(this._timesteps, timestep);
    if (index < 0) throw notInScheduleError(CLASS_NAME, timestep, this._timesteps);
    return index;
  }
}
