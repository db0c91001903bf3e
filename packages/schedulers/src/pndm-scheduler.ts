import {
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
import { addNoiseWithAlphas, checkSameShape } from './shared/noise.js';
import { arange, linspace, roundHalfEven } from './shared/numpy.js';
import { checkTrainTimestep, notReadyError } from './shared/prediction.js';
import { checkTimestepsFit } from './shared/schedule-fit.js';
import { SchedulerBase } from './shared/scheduler-base.js';
import { runStepKernel } from './shared/step-wasm.js';
import { TIMESTEP_SPACINGS, type TimestepSpacing } from './shared/timestep-spacing.js';

const CLASS_NAME = 'PNDMScheduler';

/** PNDMScheduler's config keys and diffusers' defaults. */
export const PNDM_DEFAULTS = {
  num_train_timesteps: 1000,
  beta_start: 0.0001,
  beta_end: 0.02,
  beta_schedule: 'linear',
  trained_betas: null as readonly number[] | null,
  skip_prk_steps: false,
  set_alpha_to_one: false,
  prediction_type: 'epsilon',
  timestep_spacing: 'leading',
  steps_offset: 0,
};

/** The config of a {@link PNDMScheduler}: diffusers' keys with defaults filled in. */
export type PNDMSchedulerConfig = ResolvedConfig<typeof PNDM_DEFAULTS>;

/** PNDM's linear multistep order. */
const PNDM_ORDER = 4;

/**
 * PNDM (Liu et al. 2022, "Pseudo Numerical Methods for Diffusion Models on Manifolds"): Runge–Kutta
 * warm-up steps (PRK), then linear multistep steps (PLMS). With `skip_prk_steps` (as Stable Diffusion's
 * configs set it) it is pure PLMS — A1111's "PLMS". A port of diffusers' `PNDMScheduler`, float32 step for step.
 *
 * The scheduler is stateful: call `step` once per entry of `timesteps`, in order (it dispatches to
 * {@link PNDMScheduler.stepPrk} for the `prkTimesteps`, then {@link PNDMScheduler.stepPlms}).
 * Only `epsilon` and `v_prediction` are supported, as in diffusers.
 */
export class PNDMScheduler extends SchedulerBase implements Scheduler {
  /** The config: diffusers' keys (snake_case), defaults filled in, plus `_class_name`. */
  readonly config: Readonly<PNDMSchedulerConfig>;
  /** diffusers reports order 1 (each entry of `timesteps` is one model evaluation). */
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
  /** The Runge–Kutta warm-up timesteps (empty with `skip_prk_steps`). */
  prkTimesteps: number[] = [];
  /** The linear multistep timesteps. */
  plmsTimesteps: number[] = [];
  /** How many steps ran since `setTimesteps`. */
  counter = 0;
  private _timesteps: number[] = [];
  private ets: Float32Array[] = [];
  private curModelOutput: Float32Array | null = null;
  private curSample: Float32Array | null = null;
  private readonly predictionType: 'epsilon' | 'v_prediction';
  private readonly spacing: TimestepSpacing;

  /** Builds a scheduler from a (partial) diffusers config; see {@link PNDMScheduler.fromConfig}. */
  constructor(config: Readonly<Record<string, unknown>> = {}) {
    super();
    const c = resolveConfig(CLASS_NAME, PNDM_DEFAULTS, config);
    integerKey(CLASS_NAME, c, 'num_train_timesteps', 1);
    integerKey(CLASS_NAME, c, 'steps_offset');
    numberKey(CLASS_NAME, c, 'beta_start');
    numberKey(CLASS_NAME, c, 'beta_end');
    booleanKey(CLASS_NAME, c, 'skip_prk_steps');
    booleanKey(CLASS_NAME, c, 'set_alpha_to_one');
    this.predictionType = oneOf(CLASS_NAME, 'prediction_type', c.prediction_type, [
      'epsilon',
      'v_prediction',
    ] as const);
    this.spacing = oneOf(CLASS_NAME, 'timestep_spacing', c.timestep_spacing, TIMESTEP_SPACINGS);
    const schedule = alphaScheduleFromConfig(CLASS_NAME, c);
    this.betas = schedule.betas;
    this.alphasCumprod = schedule.alphasCumprod;
    this.finalAlphaCumprod = c.set_alpha_to_one ? 1 : this.alphasCumprod[0]!;
    this.config = Object.freeze(c);
  }

  /** Builds a PNDMScheduler from any diffusers `scheduler_config.json` object (unknown keys are ignored). `overrides` win over `config`, as the keyword arguments of diffusers' `from_config`. */
  static fromConfig(
    config: Readonly<Record<string, unknown>>,
    overrides?: Readonly<Record<string, unknown>>,
  ): PNDMScheduler {
    return new PNDMScheduler(withOverrides('PNDMScheduler', config, overrides));
  }

  /** The timesteps of the current schedule: `prkTimesteps` then `plmsTimesteps` (empty before `setTimesteps`). */
  get timesteps(): readonly number[] {
    return this._timesteps;
  }

  /**
   * Lays out the schedule for `numInferenceSteps` steps, as diffusers: the base timesteps per
   * `timestep_spacing`; PRK takes the last four of them with half-steps (needs ≥ 4 steps), PLMS the rest.
   * Resets the multistep state.
   */
  setTimesteps(numInferenceSteps: number): void {
    const T = this.config.num_train_timesteps;
    const n = numInferenceSteps;
    checkStepCount(CLASS_NAME, n, T);
    const skipPrk = this.config.skip_prk_steps;
    if (!skipPrk && n < PNDM_ORDER) {
      throw new InvalidArgumentError({
        name: `${CLASS_NAME}.setTimesteps numInferenceSteps`,
        value: n,
        expected: `\`num_inference_steps\` must be >= ${PNDM_ORDER} when skip_prk_steps is false`,
        fix: 'use at least 4 steps, or set skip_prk_steps: true',
      });
    }
    // ᾱ is read at the base timesteps only (the Runge–Kutta half steps are model inputs).
    checkTimestepsFit(CLASS_NAME, n, this.config, (k) => this.baseTimesteps(k));
    this.numInferenceSteps = n;
    const base = this.baseTimesteps(n);
    if (skipPrk) {
      // PLMS only: [..., t_{n−2}, t_{n−2}, t_{n−1}] reversed (the second-order start repeats a timestep).
      this.prkTimesteps = [];
      this.plmsTimesteps = [...base.slice(0, -1), ...base.slice(-2, -1), ...base.slice(-1)].reverse();
    } else {
      const half = Math.floor(Math.floor(T / n) / 2);
      const last = base.slice(-PNDM_ORDER);
      const withHalves = last.flatMap((t) => [t, t + half]).slice(0, -1);
      this.prkTimesteps = withHalves
        .flatMap((t) => [t, t])
        .slice(1, -1)
        .reverse();
      this.plmsTimesteps = base.slice(0, -3).reverse();
    }
    this._timesteps = [...this.prkTimesteps, ...this.plmsTimesteps];
    this.ets = [];
    this.counter = 0;
    this.curModelOutput = null;
    this.curSample = null;
  }

  /** The base timesteps of `n` steps, ascending, per `timestep_spacing` and `steps_offset`. */
  private baseTimesteps(n: number): number[] {
    const T = this.config.num_train_timesteps;
    if (this.spacing === 'linspace') return Array.from(linspace(0, T - 1, n), roundHalfEven);
    if (this.spacing === 'leading') {
      const ratio = Math.floor(T / n);
      return Array.from({ length: n }, (_, i) => i * ratio + this.config.steps_offset);
    }
    return Array.from(arange(T, 0, -T / n).subarray(0, n), (t) => roundHalfEven(t) - 1).reverse();
  }

  /** PNDM does not scale the model input. */
  scaleModelInput(sample: Tensor, _timestep?: number): Tensor {
    return sample;
  }

  /** One step: Runge–Kutta while in the PRK warm-up, linear multistep after it (as diffusers' `step`). */
  step(
    modelOutput: Tensor,
    timestep: number,
    sample: Tensor,
    _options?: SchedulerStepOptions,
  ): SchedulerStepOutput {
    if (this.counter < this.prkTimesteps.length && !this.config.skip_prk_steps) {
      return this.stepPrk(modelOutput, timestep, sample);
    }
    return this.stepPlms(modelOutput, timestep, sample);
  }

  /** A fourth-order Runge–Kutta sub-step (diffusers' `step_prk`); four calls make one step. */
  stepPrk(modelOutput: Tensor, timestep: number, sample: Tensor): SchedulerStepOutput {
    const n = this.checkStep(modelOutput, timestep, sample);
    const fr = Math.fround;
    const T = this.config.num_train_timesteps;
    const diffToPrev = this.counter % 2 ? 0 : Math.floor(Math.floor(T / n) / 2);
    const prevTimestep = timestep - diffToPrev;
    const t = this.prkTimesteps[Math.floor(this.counter / 4) * 4]!;
    const m = modelOutput.data;
    const size = m.length;
    let model = m;
    const sixth = fr(1 / 6);
    const third = fr(1 / 3);
    const phase = this.counter % 4;
    if (phase === 0) {
      const acc = new Float32Array(size);
      for (let i = 0; i < size; i++) acc[i] = fr(sixth * m[i]!);
      this.curModelOutput = acc;
      this.ets.push(m);
      this.curSample = sample.data;
    } else if (phase === 1 || phase === 2) {
      const acc = this.curModelOutput ?? new Float32Array(size);
      for (let i = 0; i < size; i++) acc[i] = acc[i]! + fr(third * m[i]!);
      this.curModelOutput = acc;
    } else {
      const acc = this.curModelOutput ?? new Float32Array(size);
      model = new Float32Array(size);
      for (let i = 0; i < size; i++) model[i] = acc[i]! + fr(sixth * m[i]!);
      this.curModelOutput = null;
    }
    const cur = this.curSample ?? sample.data;
    const prev = this.prevSample(cur, t, prevTimestep, model);
    this.counter++;
    return { prevSample: new Tensor(prev, sample.shape) };
  }

  /** A linear multistep step (diffusers' `step_plms`), of order up to 4 from the stored model outputs. */
  stepPlms(modelOutput: Tensor, timestep: number, sample: Tensor): SchedulerStepOutput {
    const n = this.checkStep(modelOutput, timestep, sample);
    if (!this.config.skip_prk_steps && this.ets.length < 3) {
      throw new InvalidArgumentError({
        name: `${CLASS_NAME}.stepPlms`,
        value: `${this.ets.length} stored model outputs`,
        expected: "at least 3: PLMS can only run after the scheduler has run in 'prk' mode for 12 iterations",
        fix: 'call step() for every entry of scheduler.timesteps, in order, or set skip_prk_steps: true',
      });
    }
    const fr = Math.fround;
    const T = this.config.num_train_timesteps;
    let t = timestep;
    let prevTimestep = t - Math.floor(T / n);
    const m = modelOutput.data;
    if (this.counter !== 1) {
      this.ets = this.ets.slice(-3);
      this.ets.push(m);
    } else {
      prevTimestep = t;
      t = t + Math.floor(T / n);
    }
    let x = sample.data;
    let model: Float32Array;
    const e = this.ets;
    const size = m.length;
    if (e.length === 1 && this.counter === 0) {
      model = m;
      this.curSample = x;
    } else if (e.length === 1 && this.counter === 1) {
      const e1 = e[0]!;
      model = new Float32Array(size);
      for (let i = 0; i < size; i++) model[i] = fr(m[i]! + e1[i]!) / 2;
      x = this.curSample ?? x;
      this.curSample = null;
    } else if (e.length === 2) {
      const [e2, e1] = [e[0]!, e[1]!];
      model = new Float32Array(size);
      for (let i = 0; i < size; i++) model[i] = fr(fr(3 * e1[i]!) - e2[i]!) / 2;
    } else if (e.length === 3) {
      const [e3, e2, e1] = [e[0]!, e[1]!, e[2]!];
      model = new Float32Array(size);
      for (let i = 0; i < size; i++) {
        model[i] = fr(fr(fr(23 * e1[i]!) - fr(16 * e2[i]!)) + fr(5 * e3[i]!)) / 12;
      }
    } else {
      const [e4, e3, e2, e1] = [e[e.length - 4]!, e[e.length - 3]!, e[e.length - 2]!, e[e.length - 1]!];
      // The common case (every step after the warm-up): combine and update in one fused pass.
      const c = fr(1 / 24);
      const k = this.prevCoefficients(t, prevTimestep);
      if (k.sa === null) {
        const out = new Float32Array(size);
        if (!runStepKernel('pndm4', [e1, e2, e3, e4, x], [out], [c, k.sampleCoeff, k.diff, k.denom])) {
          for (let i = 0; i < size; i++) {
            const s = fr(fr(fr(fr(55 * e1[i]!) - fr(59 * e2[i]!)) + fr(37 * e3[i]!)) - fr(9 * e4[i]!));
            const eps = fr(c * s);
            out[i] = fr(k.sampleCoeff * x[i]!) - fr(fr(k.diff * eps) / k.denom);
          }
        }
        this.counter++;
        return { prevSample: new Tensor(out, sample.shape) };
      }
      model = new Float32Array(size);
      for (let i = 0; i < size; i++) {
        const s = fr(fr(fr(fr(55 * e1[i]!) - fr(59 * e2[i]!)) + fr(37 * e3[i]!)) - fr(9 * e4[i]!));
        model[i] = c * s;
      }
    }
    const prev = this.prevSample(x, t, prevTimestep, model);
    this.counter++;
    return { prevSample: new Tensor(prev, sample.shape) };
  }

  /** Noises `original` to `timestep`: √ᾱ_t·x₀ + √(1−ᾱ_t)·ε. */
  addNoise(original: Tensor, noise: Tensor, timestep: number): Tensor {
    return addNoiseWithAlphas(CLASS_NAME, this.alphasCumprod, original, noise, timestep);
  }

  private checkStep(modelOutput: Tensor, timestep: number, sample: Tensor): number {
    if (this.numInferenceSteps === null) throw notReadyError(CLASS_NAME);
    checkTrainTimestep(CLASS_NAME, 'step', timestep, this.config.num_train_timesteps);
    checkSameShape(CLASS_NAME, 'step sample', modelOutput, sample);
    return this.numInferenceSteps;
  }

  /** The scalar coefficients of formula (9) between two timesteps, float32 as diffusers computes them. */
  private prevCoefficients(
    timestep: number,
    prevTimestep: number,
  ): { sampleCoeff: number; denom: number; diff: number; sa: number | null; sb: number } {
    const fr = Math.fround;
    if (timestep < 0 || timestep >= this.alphasCumprod.length) {
      checkTrainTimestep(CLASS_NAME, 'step', timestep, this.config.num_train_timesteps);
    }
    const ap = this.alphasCumprod[timestep]!;
    const app = prevTimestep >= 0 ? this.alphasCumprod[prevTimestep]! : this.finalAlphaCumprod;
    const bp = fr(1 - ap);
    const bpp = fr(1 - app);
    return {
      sampleCoeff: fr(Math.sqrt(fr(app / ap))),
      denom: fr(fr(ap * fr(Math.sqrt(bpp))) + fr(Math.sqrt(fr(fr(ap * bp) * app)))),
      diff: fr(app - ap),
      // v_prediction first converts the model output to ε with √ᾱ and √(1−ᾱ).
      sa: this.predictionType === 'v_prediction' ? fr(Math.sqrt(ap)) : null,
      sb: fr(Math.sqrt(bp)),
    };
  }

  /** Formula (9) of the PNDM paper: x_{t−δ} from x_t and ε, in float32 as diffusers' `_get_prev_sample`. */
  private prevSample(
    sample: Float32Array,
    timestep: number,
    prevTimestep: number,
    model: Float32Array,
  ): Float32Array {
    const fr = Math.fround;
    const k = this.prevCoefficients(timestep, prevTimestep);
    const size = sample.length;
    const out = new Float32Array(size);
    if (k.sa === null) {
      for (let i = 0; i < size; i++)
        out[i] = fr(k.sampleCoeff * sample[i]!) - fr(fr(k.diff * model[i]!) / k.denom);
    } else {
      const sa = k.sa;
      const sb = k.sb;
      for (let i = 0; i < size; i++) {
        const eps = fr(fr(sa * model[i]!) + fr(sb * sample[i]!));
        out[i] = fr(k.sampleCoeff * sample[i]!) - fr(fr(k.diff * eps) / k.denom);
      }
    }
    return out;
  }

  /** PNDM's multistep state is tied to the schedule; img2img loops that start part-way just call `step` from there. */
  setBeginIndex(_index: number): void {}
}
