import {
  InvalidArgumentError,
  type SchedulerStepOptions,
  type SchedulerStepOutput,
  type Tensor,
} from '@latentkit/core';
import { oneOf, type ResolvedConfig, resolveConfig, withOverrides } from './shared/config.js';
import { checkTimestepsFit } from './shared/schedule-fit.js';
import {
  alphasCumprodForConfig,
  checkInferenceSteps,
  checkOneSigmaSchedule,
  initNoiseSigmaFor,
  predictX0,
  predictX0Into,
  ScratchBuffer,
  SigmaScheduler,
  stepOutput,
  trainingSigmas,
} from './shared/sigma-scheduler.js';
import { convertSigmas, interpArray, logFloat32, sigmaToT } from './shared/sigmas.js';
import { runStepKernel } from './shared/step-wasm.js';
import { sigmaTimesteps } from './shared/timestep-spacing.js';

const f = Math.fround;

/** The config keys of {@link LMSDiscreteScheduler}, with diffusers' defaults. */
export const LMS_DISCRETE_DEFAULTS = {
  num_train_timesteps: 1000,
  beta_start: 0.0001,
  beta_end: 0.02,
  beta_schedule: 'linear',
  trained_betas: null as number[] | null,
  use_karras_sigmas: false,
  use_exponential_sigmas: false,
  use_beta_sigmas: false,
  prediction_type: 'epsilon',
  timestep_spacing: 'linspace',
  steps_offset: 0,
};

/** The config of {@link LMSDiscreteScheduler}: diffusers' keys and `_class_name`. */
export type LMSDiscreteSchedulerConfig = ResolvedConfig<typeof LMS_DISCRETE_DEFAULTS>;

/** Options of {@link LMSDiscreteScheduler.step}. */
export interface LMSStepOptions extends SchedulerStepOptions {
  /** The order of the linear multistep method (diffusers' `order` argument of `step`). Default 4. */
  order?: number;
}

// 3-point Gauss–Legendre rule on [−1, 1]: exact for polynomials of degree ≤ 5; the Lagrange basis
// polynomials of an order-≤4 method have degree ≤ 3.
const GL_NODES = [-Math.sqrt(3 / 5), 0, Math.sqrt(3 / 5)];
const GL_WEIGHTS = [5 / 9, 8 / 9, 5 / 9];

/**
 * The linear multistep coefficient ∫_{σ_t}^{σ_{t+1}} ℓ_j(τ) dτ, where ℓ_j is the Lagrange basis polynomial
 * through the nodes σ_t, σ_{t−1}, …, σ_{t−order+1} that is 1 at σ_{t−j}. diffusers integrates the same
 * polynomial with `scipy.integrate.quad`; the integral is exact here (Gauss–Legendre of sufficient order).
 */
export function lmsCoefficient(sigmas: ArrayLike<number>, order: number, t: number, current: number): number {
  const a = sigmas[t]!;
  const b = sigmas[t + 1]!;
  const half = (b - a) / 2;
  const mid = (a + b) / 2;
  let sum = 0;
  for (let q = 0; q < GL_NODES.length; q++) {
    const tau = mid + half * GL_NODES[q]!;
    let prod = 1;
    for (let k = 0; k < order; k++) {
      if (k === current) continue;
      prod *= (tau - sigmas[t - k]!) / (sigmas[t - current]! - sigmas[t - k]!);
    }
    sum += GL_WEIGHTS[q]! * prod;
  }
  return sum * half;
}

/**
 * diffusers' `LMSDiscreteScheduler` ("LMS"): the linear multistep method of k-diffusion on the σ ODE,
 * using up to `order` (default 4) past derivatives with coefficients from integrating the Lagrange
 * basis polynomials between consecutive sigmas.
 */
export class LMSDiscreteScheduler extends SigmaScheduler {
  /** The diffusers config, defaults filled in. */
  readonly config: Readonly<LMSDiscreteSchedulerConfig>;
  /** One model evaluation per step. */
  readonly order = 1;
  private readonly trainSigmas: Float32Array;
  private readonly logSigmas: Float32Array;
  private readonly predictionType: 'epsilon' | 'v_prediction' | 'sample';
  private readonly sigmaSchedule: 'karras' | 'exponential' | 'beta' | null;
  /** Past derivatives, oldest first (at most `order`). */
  private derivatives: Float32Array[] = [];
  private readonly scratch = new ScratchBuffer();

  /** Builds the scheduler from a diffusers config (missing keys take diffusers' defaults). */
  constructor(config: Readonly<Record<string, unknown>> = {}) {
    super();
    const name = 'LMSDiscreteScheduler';
    const c = resolveConfig(name, LMS_DISCRETE_DEFAULTS, config);
    this.predictionType = oneOf(name, 'prediction_type', c.prediction_type, [
      'epsilon',
      'v_prediction',
      'sample',
    ] as const);
    oneOf(name, 'timestep_spacing', c.timestep_spacing, ['linspace', 'leading', 'trailing'] as const);
    this.sigmaSchedule = checkOneSigmaSchedule(name, c);
    this.config = Object.freeze(c);
    this.trainSigmas = trainingSigmas(alphasCumprodForConfig(name, c));
    this.logSigmas = logFloat32(this.trainSigmas);
    this.build(c.num_train_timesteps);
    this.numInferenceStepsValue = null;
  }

  /** Builds the scheduler from a diffusers `scheduler_config.json` object (unknown keys are ignored). `overrides` win over `config`, as the keyword arguments of diffusers' `from_config`. */
  static fromConfig(
    config: Readonly<Record<string, unknown>>,
    overrides?: Readonly<Record<string, unknown>>,
  ): LMSDiscreteScheduler {
    return new LMSDiscreteScheduler(withOverrides('LMSDiscreteScheduler', config, overrides));
  }

  protected get className(): string {
    return 'LMSDiscreteScheduler';
  }

  /** σ_max for linspace/trailing spacing, else √(σ_max² + 1). */
  get initNoiseSigma(): number {
    return initNoiseSigmaFor(this.sigmasData, this.config.timestep_spacing);
  }

  /** Sets `numInferenceSteps` timesteps spaced by `timestep_spacing` (and clears the derivative history). */
  setTimesteps(numInferenceSteps: number): void {
    checkInferenceSteps(this.className, numInferenceSteps);
    const c = this.config;
    // LMS's Lagrange coefficients divide by σ differences: the σ of these timesteps must not repeat, as
    // they do once a timestep is past the last training one (σ is clamped there).
    if (this.sigmaSchedule === null) {
      checkTimestepsFit(this.className, numInferenceSteps, c, (k) =>
        sigmaTimesteps(c.timestep_spacing as 'linspace', c.num_train_timesteps, k, c.steps_offset),
      );
    }
    this.build(numInferenceSteps);
  }

  private build(n: number): void {
    checkInferenceSteps(this.className, n);
    const c = this.config;
    let timesteps: ArrayLike<number> = sigmaTimesteps(
      c.timestep_spacing as 'linspace',
      c.num_train_timesteps,
      n,
      c.steps_offset,
    );
    let s: ArrayLike<number> = interpArray(timesteps, this.trainSigmas);
    if (this.sigmaSchedule !== null) {
      const lo = s[s.length - 1]!;
      const hi = s[0]!;
      s = convertSigmas(this.sigmaSchedule, lo, hi, n);
      timesteps = Array.from(s, (v) => sigmaToT(v, this.logSigmas));
    }
    const sigmas = new Float32Array(s.length + 1);
    sigmas.set(s);
    this.sigmasData = sigmas;
    this.timestepValues = Object.freeze(Array.from(timesteps, (t) => f(t)));
    this.derivatives = [];
    this.startSchedule(n);
  }

  /**
   * One LMS step: x0 per `prediction_type`, derivative (x − x0)/σ appended to the history, then
   * `prev = x + Σ_j c_j · d_{newest − j}` with c_j the integrated Lagrange basis polynomials.
   */
  step(
    modelOutput: Tensor,
    timestep: number,
    sample: Tensor,
    options: LMSStepOptions = {},
  ): SchedulerStepOutput {
    this.requireSchedule('step');
    this.checkSameShape(sample, modelOutput, 'sample', 'modelOutput');
    const maxOrder = options.order ?? 4;
    if (!Number.isInteger(maxOrder) || maxOrder < 1) {
      throw new InvalidArgumentError({
        name: 'LMSDiscreteScheduler.step options.order',
        value: maxOrder,
        expected: 'a positive integer (diffusers uses 4)',
      });
    }
    const index = this.initStepIndex(timestep);
    this.checkInRange(index, this.sigmasData.length - 2);
    const sigma = this.sigmasData[index]!;
    const x = sample.data;
    const m = modelOutput.data;
    const n = x.length;
    const type = this.predictionType;
    // The fast path below computes x₀ itself when the kernel runs (ε prediction, up to four terms).
    const kernelTerms = type === 'epsilon' && maxOrder <= 4;
    const x0sFast = kernelTerms ? null : predictX0Into(type, x, m, sigma, this.scratch.get(n));
    // The history holds this step's derivative too, so the coefficients are known before the loop.
    const history = this.derivatives;
    // diffusers appends then drops the oldest beyond `order`; recycle the dropped buffer.
    const recycled = history.length >= maxOrder ? history.shift() : undefined;
    const deriv = recycled !== undefined && recycled.length === n ? recycled : new Float32Array(n);
    history.push(deriv);
    while (history.length > maxOrder) history.shift();
    const order = Math.min(index + 1, maxOrder);
    // Coefficient j pairs with the j-th newest derivative; the sum starts from the newest, as Python's
    // sum(). Like diffusers' zip(), a history shorter than `order` (a schedule entered part-way) uses
    // only as many terms as there are derivatives, with the order-`order` coefficients.
    const terms = Math.min(order, history.length);
    const prev = new Float32Array(n);
    const h = history.length;
    if (terms <= 4) {
      // Fast path: one fused loop, up to four terms in registers.
      const c = [0, 1, 2, 3].map((j) =>
        j < terms ? f(lmsCoefficient(this.sigmasData, order, index, j)) : 0,
      );
      const c0 = c[0]!;
      const c1 = c[1]!;
      const c2 = c[2]!;
      const c3 = c[3]!;
      const d1 = terms > 1 ? history[h - 2]! : deriv;
      const d2 = terms > 2 ? history[h - 3]! : deriv;
      const d3 = terms > 3 ? history[h - 4]! : deriv;
      const ran =
        kernelTerms &&
        runStepKernel(
          `lms${terms as 1 | 2 | 3 | 4}`,
          [x, m, d1, d2, d3].slice(0, 1 + terms),
          [deriv, prev],
          [sigma, c0, c1, c2, c3].slice(0, 1 + terms),
        );
      if (!ran) {
        const x0s = x0sFast ?? predictX0Into(type, x, m, sigma, this.scratch.get(n));
        for (let i = 0; i < n; i++) {
          const xi = x[i]!;
          const d = f(f(xi - x0s[i]!) / sigma);
          deriv[i] = d;
          let acc = f(c0 * d);
          if (terms > 1) acc = f(acc + f(c1 * d1[i]!));
          if (terms > 2) acc = f(acc + f(c2 * d2[i]!));
          if (terms > 3) acc = f(acc + f(c3 * d3[i]!));
          prev[i] = xi + acc;
        }
      }
    } else {
      // Orders above 4 (diffusers allows any `order`): the general sum.
      const x0s = x0sFast!; // maxOrder > 4 here, so it was computed
      for (let i = 0; i < n; i++) deriv[i] = f(x[i]! - x0s[i]!) / sigma;
      const c = Array.from({ length: terms }, (_, j) => f(lmsCoefficient(this.sigmasData, order, index, j)));
      for (let i = 0; i < n; i++) {
        let acc = f(c[0]! * deriv[i]!);
        for (let j = 1; j < terms; j++) acc = f(acc + f(c[j]! * history[h - 1 - j]![i]!));
        prev[i] = x[i]! + acc;
      }
    }
    this.stepIndexValue = index + 1;
    return stepOutput(prev, sample.shape, () => predictX0(type, x, m, sigma));
  }
}
