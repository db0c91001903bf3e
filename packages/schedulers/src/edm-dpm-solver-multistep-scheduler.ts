import {
  InvalidArgumentError,
  NotImplementedError,
  type SchedulerStepOptions,
  type SchedulerStepOutput,
  Tensor,
} from '@latentkit/core';
import { linspaceFloat32 } from './shared/betas.js';
import { oneOf, resolveConfig, withOverrides } from './shared/config.js';
import {
  checkNoiseShapes,
  checkStepShapes,
  configBool,
  configInt,
  configNumber,
  initialStepIndex,
} from './shared/dpm-common.js';
import { DPMFamilyScheduler } from './shared/dpm-family-scheduler.js';
import { scaledDifference, secondOrderMultistep, weightedSum } from './shared/dpm-kernels.js';
import { drawNoise } from './shared/noise.js';
import { thresholdSampleInPlace } from './shared/thresholding.js';

const fround = Math.fround;
const CLASS = 'EDMDPMSolverMultistepScheduler';

/** The diffusers config of {@link EDMDPMSolverMultistepScheduler} (snake_case, as in `scheduler_config.json`). */
export interface EDMDPMSolverMultistepConfig {
  [key: string]: unknown;
  _class_name: string;
  sigma_min: number;
  sigma_max: number;
  sigma_data: number;
  sigma_schedule: string;
  num_train_timesteps: number;
  prediction_type: string;
  rho: number;
  solver_order: number;
  thresholding: boolean;
  dynamic_thresholding_ratio: number;
  sample_max_value: number;
  algorithm_type: string;
  solver_type: string;
  lower_order_final: boolean;
  euler_at_final: boolean;
  final_sigmas_type: string;
}

const DEFAULTS = {
  sigma_min: 0.002,
  sigma_max: 80.0,
  sigma_data: 0.5,
  sigma_schedule: 'karras',
  num_train_timesteps: 1000,
  prediction_type: 'epsilon',
  rho: 7.0,
  solver_order: 2,
  thresholding: false,
  dynamic_thresholding_ratio: 0.995,
  sample_max_value: 1.0,
  algorithm_type: 'dpmsolver++',
  solver_type: 'midpoint',
  lower_order_final: true,
  euler_at_final: false,
  final_sigmas_type: 'zero',
};

/**
 * DPM-Solver++ in the EDM formulation (Karras et al. 2022): σ-parameterised (α_t = 1), Karras or
 * exponential sigmas between `sigma_min` and `sigma_max`, EDM input/output preconditioning, and
 * timesteps `c_noise = ¼·log σ` (float values). A port of diffusers' `EDMDPMSolverMultistepScheduler`.
 */
export class EDMDPMSolverMultistepScheduler extends DPMFamilyScheduler {
  /** The diffusers config, defaults filled in. */
  readonly config: Readonly<EDMDPMSolverMultistepConfig>;
  /** Model evaluations per step: 1. */
  readonly order = 1;
  /** √(σ_max² + 1), as diffusers. */
  readonly initNoiseSigma: number;

  private readonly dpp: boolean;

  constructor(config: Readonly<Record<string, unknown>> = {}) {
    super(CLASS);
    const c = resolveConfig(CLASS, DEFAULTS, config) as EDMDPMSolverMultistepConfig;
    for (const key of ['sigma_min', 'sigma_max', 'sigma_data', 'rho']) {
      const v = configNumber(CLASS, key, c[key]);
      if (!(v > 0) || !Number.isFinite(v)) {
        throw new InvalidArgumentError({
          name: `${CLASS} config ${key}`,
          value: c[key],
          expected: 'a positive number',
        });
      }
      c[key] = v;
    }
    if (c.sigma_min >= c.sigma_max) {
      throw new InvalidArgumentError({
        name: `${CLASS} config sigma_min`,
        value: c.sigma_min,
        expected: `less than sigma_max (${c.sigma_max})`,
      });
    }
    c.num_train_timesteps = configInt(CLASS, 'num_train_timesteps', c.num_train_timesteps, 1);
    c.solver_order = configInt(CLASS, 'solver_order', c.solver_order, 1, 3);
    for (const key of ['thresholding', 'lower_order_final', 'euler_at_final'])
      c[key] = configBool(CLASS, key, c[key]);
    if (c.algorithm_type === 'deis') c.algorithm_type = 'dpmsolver++';
    if (c.solver_type === 'logrho' || c.solver_type === 'bh1' || c.solver_type === 'bh2')
      c.solver_type = 'midpoint';
    oneOf(CLASS, 'algorithm_type', c.algorithm_type, ['dpmsolver++', 'sde-dpmsolver++'] as const);
    oneOf(CLASS, 'solver_type', c.solver_type, ['midpoint', 'heun'] as const);
    oneOf(CLASS, 'prediction_type', c.prediction_type, ['epsilon', 'v_prediction'] as const);
    oneOf(CLASS, 'sigma_schedule', c.sigma_schedule, ['karras', 'exponential'] as const);
    oneOf(CLASS, 'final_sigmas_type', c.final_sigmas_type, ['zero', 'sigma_min'] as const);
    if (c.algorithm_type === 'sde-dpmsolver++' && c.solver_order === 3) {
      throw new NotImplementedError(
        `${CLASS}: solver_order 3 is not implemented for algorithm_type "sde-dpmsolver++" (nor in diffusers); use solver_order 1 or 2.`,
      );
    }
    this.config = Object.freeze(c);
    this.dpp = c.algorithm_type === 'dpmsolver++';
    this.initNoiseSigma = (c.sigma_max ** 2 + 1) ** 0.5;
    const sigmas = this.computeSigmas(c.num_train_timesteps);
    this._timesteps = Array.from(sigmas, (s) => preconditionNoise(s));
    this._sigmas = new Float32Array(sigmas.length + 1);
    this._sigmas.set(sigmas);
    this.modelOutputs = new Array(c.solver_order).fill(null);
  }

  /** Builds the scheduler from a diffusers `scheduler_config.json` object (unknown keys are ignored). `overrides` win over `config`, as the keyword arguments of diffusers' `from_config`. */
  static fromConfig(
    config: Readonly<Record<string, unknown>>,
    overrides?: Readonly<Record<string, unknown>>,
  ): EDMDPMSolverMultistepScheduler {
    return new EDMDPMSolverMultistepScheduler(
      withOverrides('EDMDPMSolverMultistepScheduler', config, overrides),
    );
  }

  /** Karras (or exponential) sigmas over a float32 `torch.linspace(0, 1, n)` ramp, in float32 torch ops. */
  private computeSigmas(n: number): Float32Array {
    const c = this.config;
    if (c.sigma_schedule === 'exponential') {
      const logs = linspaceFloat32(Math.log(c.sigma_min), Math.log(c.sigma_max), n);
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[n - 1 - i] = Math.exp(logs[i]!);
      return out;
    }
    const ramp = linspaceFloat32(0, 1, n);
    const minInvRho = c.sigma_min ** (1 / c.rho);
    const maxInvRho = fround(c.sigma_max ** (1 / c.rho));
    const span = fround(minInvRho - c.sigma_max ** (1 / c.rho));
    const rho = fround(c.rho);
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = fround(maxInvRho + fround(ramp[i]! * span)) ** rho;
    return out;
  }

  /** Prepares `numInferenceSteps` steps of the Karras (or exponential) schedule. */
  setTimesteps(numInferenceSteps: number): void {
    if (!Number.isInteger(numInferenceSteps) || numInferenceSteps < 1) {
      throw new InvalidArgumentError({
        name: `${CLASS}.setTimesteps numInferenceSteps`,
        value: numInferenceSteps,
        expected: 'a positive integer',
      });
    }
    const sigmas = this.computeSigmas(numInferenceSteps);
    const timesteps = Array.from(sigmas, (s) => preconditionNoise(s));
    const out = new Float32Array(numInferenceSteps + 1);
    out.set(sigmas);
    out[numInferenceSteps] =
      this.config.final_sigmas_type === 'sigma_min' ? fround(this.config.sigma_min) : 0;
    this.resetSchedule(timesteps, out, numInferenceSteps, this.config.solver_order);
  }

  /** EDM input preconditioning: `sample · c_in` with c_in = 1/√(σ² + σ_data²) at the current step. */
  override scaleModelInput(sample: Tensor, timestep: number): Tensor {
    if (this.stepIndex === null)
      this.stepIndex = initialStepIndex(CLASS, this._timesteps, timestep, this.beginIndex);
    const sigma = this._sigmas[this.stepIndex]!;
    const sd2 = fround(this.config.sigma_data ** 2);
    const cIn = fround(1 / fround(Math.sqrt(fround(fround(sigma * sigma) + sd2))));
    return new Tensor(
      sample.data.map((x) => x * cIn),
      sample.shape,
    );
  }

  /** EDM output preconditioning: the denoised x₀ = c_skip·x + c_out·F(x), thresholded if configured. */
  private convertModelOutput(modelOutput: Tensor, sample: Tensor, index: number): Float32Array {
    const c = this.config;
    checkStepShapes(CLASS, modelOutput, sample);
    const sigma = this._sigmas[index]!;
    const sd = c.sigma_data;
    const denom = fround(fround(sigma * sigma) + fround(sd ** 2));
    const cSkip = fround(fround(sd ** 2) / denom);
    const sign = c.prediction_type === 'epsilon' ? 1 : -1;
    const cOut = fround(fround(sign * sigma * fround(sd)) / fround(Math.sqrt(denom)));
    const out = new Float32Array(sample.data.length);
    weightedSum(out, [cSkip, cOut], [sample.data, modelOutput.data]);
    if (c.thresholding)
      thresholdSampleInPlace(out, sample.shape[0]!, c.dynamic_thresholding_ratio, c.sample_max_value);
    return out;
  }

  /** One solver step; `sde-dpmsolver++` draws one `randn` of the sample's shape from `options.generator`. */
  step(
    modelOutput: Tensor,
    timestep: number,
    sample: Tensor,
    options: SchedulerStepOptions = {},
  ): SchedulerStepOutput {
    const c = this.config;
    const i = this.currentStepIndex(timestep);
    const n = this._timesteps.length;
    const lowerOrderFinal =
      i === n - 1 && (c.euler_at_final || (c.lower_order_final && n < 15) || c.final_sigmas_type === 'zero');
    const lowerOrderSecond = i === n - 2 && c.lower_order_final && n < 15;
    const m = this.convertModelOutput(modelOutput, sample, i);
    const k = c.solver_order;
    this.pushModelOutput(m, k);
    const noise = this.dpp ? undefined : drawNoise(sample.shape, options.generator);
    const s = sample.data;
    // σ-parameterisation: α = 1, λ = −log σ.
    const sigmaT = this._sigmas[i + 1]!;
    const sigmaS0 = this._sigmas[i]!;
    const lam = (sg: number) => fround(0 - fround(Math.log(sg)));
    const h = fround(lam(sigmaT) - lam(sigmaS0));
    const em = fround(fround(Math.exp(-h)) - 1);
    const e2 = fround(Math.exp(fround(-2 * h)));
    const out = new Float32Array(s.length);
    let prev: Float32Array = out;
    if (k === 1 || this.lowerOrderNums < 1 || lowerOrderFinal) {
      if (this.dpp) weightedSum(out, [fround(sigmaT / sigmaS0), -em], [s, m]);
      else {
        const cS = fround(fround(sigmaT / sigmaS0) * fround(Math.exp(-h)));
        weightedSum(
          out,
          [cS, fround(1 - e2), fround(sigmaT * fround(Math.sqrt(fround(1 - e2))))],
          [s, m, noise!],
        );
      }
    } else if (k === 2 || this.lowerOrderNums < 2 || lowerOrderSecond) {
      const h0 = fround(lam(sigmaS0) - lam(this._sigmas[i - 1]!));
      const invR0 = fround(1 / fround(h0 / h));
      const midpoint = c.solver_type === 'midpoint';
      const m1 = this.modelOutputs[k - 2]!;
      if (this.dpp) {
        const c1 = midpoint ? -fround(0.5 * em) : fround(fround(em / h) + 1);
        prev = secondOrderMultistep(s, m, m1, fround(sigmaT / sigmaS0), -em, invR0, c1);
      } else {
        const a = fround(1 - e2);
        const c1 = midpoint ? fround(0.5 * a) : fround(fround(a / fround(-2 * h)) + 1);
        const cS = fround(fround(sigmaT / sigmaS0) * fround(Math.exp(-h)));
        const cN = fround(sigmaT * fround(Math.sqrt(a)));
        prev = secondOrderMultistep(s, m, m1, cS, a, invR0, c1, noise, cN);
      }
    } else {
      // Third order: dpmsolver++ only (the SDE variant is rejected at construction, as diffusers lacks it).
      const m1 = this.modelOutputs[1]!;
      const m2 = this.modelOutputs[0]!;
      const l0 = lam(sigmaS0);
      const l1 = lam(this._sigmas[i - 1]!);
      const l2 = lam(this._sigmas[i - 2]!);
      const r0 = fround(fround(l0 - l1) / h);
      const r1 = fround(fround(l1 - l2) / h);
      const d10 = scaledDifference(fround(1 / r0), m, m1);
      const d11 = scaledDifference(fround(1 / r1), m1, m2);
      const k1 = fround(r0 / fround(r0 + r1));
      const k2 = fround(1 / fround(r0 + r1));
      const d1 = new Float32Array(s.length);
      const d2 = new Float32Array(s.length);
      for (let j = 0; j < s.length; j++) {
        const diff = fround(d10[j]! - d11[j]!);
        d1[j] = d10[j]! + fround(k1 * diff);
        d2[j] = k2 * diff;
      }
      const hh = fround(h * h);
      const c1 = fround(fround(em / h) + 1);
      const c2 = -fround(fround(fround(em + h) / hh) - 0.5);
      weightedSum(out, [fround(sigmaT / sigmaS0), -em, c1, c2], [s, m, d1, d2]);
    }
    if (this.lowerOrderNums < k) this.lowerOrderNums++;
    this.stepIndex = i + 1;
    return { prevSample: new Tensor(prev, sample.shape) };
  }

  /** Noises `original` to the level of `timestep`: x + σ·ε (the begin index when set). */
  override addNoise(original: Tensor, noise: Tensor, timestep: number): Tensor {
    checkNoiseShapes(CLASS, original, noise);
    const sigma = this._sigmas[this.addNoiseIndex(timestep)]!;
    const x = original.data;
    const e = noise.data;
    const out = new Float32Array(x.length);
    for (let j = 0; j < out.length; j++) out[j] = x[j]! + fround(e[j]! * sigma);
    return new Tensor(out, original.shape);
  }
}

/** EDM's noise conditioning c_noise = ¼·log σ, in float32. */
function preconditionNoise(sigma: number): number {
  return fround(0.25 * fround(Math.log(sigma)));
}
