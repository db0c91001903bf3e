import {
  type Generator,
  InvalidArgumentError,
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
  notInScheduleError,
  notReadyError,
  type PredictionType,
  predictOriginal,
} from './shared/prediction.js';
import { SchedulerBase } from './shared/scheduler-base.js';
import { indexForTimestep } from './shared/sigmas.js';
import { runStepKernel } from './shared/step-wasm.js';

const CLASS_NAME = 'TCDScheduler';

/** TCDScheduler's config keys and diffusers' defaults. */
export const TCD_DEFAULTS = {
  num_train_timesteps: 1000,
  beta_start: 0.00085,
  beta_end: 0.012,
  beta_schedule: 'scaled_linear',
  trained_betas: null as readonly number[] | null,
  original_inference_steps: 50 as number | null,
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

/** The config of a {@link TCDScheduler}: diffusers' keys with defaults filled in. */
export type TCDSchedulerConfig = ResolvedConfig<typeof TCD_DEFAULTS>;

/** Options of {@link TCDScheduler.setTimesteps}. */
export interface TCDSetTimestepsOptions {
  /** A custom descending list of integer timesteps (diffusers' `timesteps=`). */
  timesteps?: readonly number[];
  /** Overrides the config's `original_inference_steps` (the distillation schedule's length). */
  originalInferenceSteps?: number;
  /** img2img strength in (0, 1]: only the first `strength` of the distillation schedule is used. */
  strength?: number;
}

/** diffusers' default γ (its `eta` argument of `step`). */
const DEFAULT_GAMMA = 0.3;

/**
 * TCD (Zheng et al. 2024, "Trajectory Consistency Distillation"): strategic stochastic sampling for
 * TCD-distilled UNets/LoRAs. `options.eta` is the paper's γ (default 0.3, as diffusers): 0 is deterministic,
 * larger values re-noise more between steps (noise from `options.generator`). A port of diffusers'
 * `TCDScheduler`, float32 step for step. Like diffusers' TCD, x₀ is not clipped or thresholded.
 */
export class TCDScheduler extends SchedulerBase implements Scheduler {
  /** The config: diffusers' keys (snake_case), defaults filled in, plus `_class_name`. */
  readonly config: Readonly<TCDSchedulerConfig>;
  /** TCD takes one model evaluation per step. */
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

  /** Builds a scheduler from a (partial) diffusers config; see {@link TCDScheduler.fromConfig}. */
  constructor(config: Readonly<Record<string, unknown>> = {}) {
    super();
    const c = resolveConfig(CLASS_NAME, TCD_DEFAULTS, config);
    // An explicit null original_inference_steps means "every training timestep" in diffusers' TCD.
    if (config.original_inference_steps === null) c.original_inference_steps = null;
    const setup = consistencySetup(CLASS_NAME, c);
    const T = setup.trainSteps;
    this.predictionType = setup.predictionType;
    this.betas = setup.betas;
    this.alphasCumprod = setup.alphasCumprod;
    this.finalAlphaCumprod = setup.finalAlphaCumprod;
    this._timesteps = Array.from({ length: T }, (_, i) => T - 1 - i);
    this.config = Object.freeze(c);
  }

  /** Builds a TCDScheduler from any diffusers `scheduler_config.json` object (unknown keys are ignored). `overrides` win over `config`, as the keyword arguments of diffusers' `from_config`. */
  static fromConfig(
    config: Readonly<Record<string, unknown>>,
    overrides?: Readonly<Record<string, unknown>>,
  ): TCDScheduler {
    return new TCDScheduler(withOverrides('TCDScheduler', config, overrides));
  }

  /** The timesteps of the current schedule (integers, descending). */
  get timesteps(): readonly number[] {
    return this._timesteps;
  }

  /** Picks timesteps from the distillation schedule (as LCM), or takes a custom descending list. */
  setTimesteps(numInferenceSteps: number | undefined, options: TCDSetTimestepsOptions = {}): void {
    const schedule = consistencySchedule(CLASS_NAME, this.config, numInferenceSteps, options);
    this._timesteps = schedule.timesteps;
    this.numInferenceSteps = schedule.numInferenceSteps;
    this.customTimesteps = schedule.customTimesteps;
    this.stepIndex = null;
    this.beginIndex = null;
  }

  /** TCD does not scale the model input. */
  scaleModelInput(sample: Tensor, _timestep?: number): Tensor {
    return sample;
  }

  /** The next entry of the schedule after `timestep` (−1 after the last), as diffusers' `previous_timestep`. */
  previousTimestep(timestep: number): number {
    const index = this._timesteps.indexOf(timestep);
    if (index < 0) throw notInScheduleError(CLASS_NAME, timestep, this._timesteps);
    return index === this._timesteps.length - 1 ? -1 : this._timesteps[index + 1]!;
  }

  /**
   * One TCD step: x₀ and ε from the model output, the sample at s = ⌊(1−γ)·t_prev⌋, then (γ > 0, not the
   * last step) a forward jump to t_prev with noise drawn from `options.generator`.
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
    const gamma = options.eta ?? DEFAULT_GAMMA;
    if (typeof gamma !== 'number' || !(gamma >= 0 && gamma <= 1)) {
      throw new InvalidArgumentError({
        name: `${CLASS_NAME}.step eta (γ)`,
        value: gamma,
        expected: 'a number in [0, 1]',
      });
    }
    if (this.stepIndex === null) this.stepIndex = this.beginIndex ?? this.indexForTimestep(timestep);
    const fr = Math.fround;
    const index = this.stepIndex;
    const prevTimestep = index + 1 < this._timesteps.length ? this._timesteps[index + 1]! : 0;
    const s = Math.floor(fr(fr(1 - gamma) * prevTimestep));
    const ap = this.alphasCumprod[timestep]!;
    const bp = fr(1 - ap);
    const app = prevTimestep >= 0 ? this.alphasCumprod[prevTimestep]! : this.finalAlphaCumprod;
    const as = this.alphasCumprod[s]!;
    const bs = fr(1 - as);

    const n = sample.size;
    const x0 = new Float32Array(n);
    const eps = this.predictionType === 'epsilon' ? modelOutput.data : new Float32Array(n);
    predictOriginal(
      this.predictionType,
      fr(Math.sqrt(ap)),
      fr(Math.sqrt(bp)),
      modelOutput.data,
      sample.data,
      x0,
      this.predictionType === 'epsilon' ? null : eps,
      sample.shape[0] ?? 1,
      {},
    );
    const sas = fr(Math.sqrt(as));
    const sbs = fr(Math.sqrt(bs));
    const noised = new Float32Array(n);
    if (!runStepKernel('lin2', [x0, eps], [noised], [sas, sbs])) {
      for (let i = 0; i < n; i++) noised[i] = fr(sas * x0[i]!) + fr(sbs * eps[i]!);
    }
    let prev = noised;
    if (gamma > 0 && index !== this.numInferenceSteps - 1) {
      const noise = drawNoise(modelOutput.shape, options.generator as Generator | undefined);
      const ratio = fr(app / as);
      const a = fr(Math.sqrt(ratio));
      const b = fr(Math.sqrt(fr(1 - ratio)));
      prev = new Float32Array(n);
      if (!runStepKernel('lin2', [noised, noise], [prev], [a, b])) {
        for (let i = 0; i < n; i++) prev[i] = fr(a * noised[i]!) + fr(b * noise[i]!);
      }
    }
    this.stepIndex = index + 1;
    return {
      prevSample: new Tensor(prev, sample.shape),
      predOriginalSample: new Tensor(noised, sample.shape),
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
