import {
  InvalidArgumentError,
  NotImplementedError,
  type SchedulerStepOptions,
  type SchedulerStepOutput,
  Tensor,
} from '@latentkit/core';
import { checkStepCount, oneOf, resolveConfig, withOverrides } from './shared/config.js';
import {
  alphaSigma,
  checkOneSigmaSchedule,
  checkStepShapes,
  configBool,
  configInt,
  convertVpModelOutput,
  lambdaOf,
  rejectUnsupported,
  solveFloat32,
  timestepsForSigmas,
  VP_SOLVER_DEFAULTS,
  type VpSchedule,
  type VpSolverConfig,
  vpSchedule,
  vpThreshold,
} from './shared/dpm-common.js';
import { DPMFamilyScheduler } from './shared/dpm-family-scheduler.js';
import { checkTimestepsFit } from './shared/schedule-fit.js';
import { convertSigmas, interpArray } from './shared/sigmas.js';
import { runStepKernel } from './shared/step-wasm.js';
import { dpmSolverTimesteps } from './shared/timestep-spacing.js';

const fround = Math.fround;
const CLASS = 'UniPCMultistepScheduler';

/** The diffusers config of {@link UniPCMultistepScheduler} (snake_case, as in `scheduler_config.json`). */
export interface UniPCMultistepConfig extends VpSolverConfig {
  predict_x0: boolean;
  disable_corrector: number[];
  solver_p: null;
  timestep_spacing: string;
  steps_offset: number;
  final_sigmas_type: string;
  rescale_betas_zero_snr: boolean;
  use_dynamic_shifting: boolean;
  time_shift_type: string;
}

const DEFAULTS = {
  ...VP_SOLVER_DEFAULTS,
  predict_x0: true,
  solver_type: 'bh2',
  lower_order_final: true,
  disable_corrector: [] as number[],
  solver_p: null,
  use_karras_sigmas: false,
  use_exponential_sigmas: false,
  use_beta_sigmas: false,
  use_flow_sigmas: false,
  flow_shift: 1.0,
  timestep_spacing: 'linspace',
  steps_offset: 0,
  final_sigmas_type: 'zero',
  rescale_betas_zero_snr: false,
  use_dynamic_shifting: false,
  time_shift_type: 'exponential',
};

/**
 * UniPC (Zhao et al. 2023): a unified predictor–corrector multistep solver. Each step first corrects
 * the previous prediction with the new model output (UniC), then predicts the next sample (UniP);
 * `solver_type` picks B(h) = h ("bh1") or eʰ − 1 ("bh2"). A port of diffusers'
 * `UniPCMultistepScheduler` that reproduces its float32 numbers, including the small linear solves.
 */
export class UniPCMultistepScheduler extends DPMFamilyScheduler {
  /** The diffusers config, defaults filled in (`midpoint` / `heun` / `logrho` read as `bh2`, as in diffusers). */
  readonly config: Readonly<UniPCMultistepConfig>;
  /** Model evaluations per step: 1. */
  readonly order = 1;
  /** The initial noise is standard normal. */
  readonly initNoiseSigma = 1;

  private readonly schedule: VpSchedule;
  private lastSample: Float32Array | null = null;
  private thisOrder = 1;

  constructor(config: Readonly<Record<string, unknown>> = {}) {
    super(CLASS);
    const c = resolveConfig(CLASS, DEFAULTS, config) as UniPCMultistepConfig;
    c.num_train_timesteps = configInt(CLASS, 'num_train_timesteps', c.num_train_timesteps, 1);
    c.solver_order = configInt(CLASS, 'solver_order', c.solver_order, 1);
    c.steps_offset = configInt(CLASS, 'steps_offset', c.steps_offset, 0);
    for (const key of [
      'thresholding',
      'predict_x0',
      'lower_order_final',
      'use_karras_sigmas',
      'use_exponential_sigmas',
      'use_beta_sigmas',
      'rescale_betas_zero_snr',
    ]) {
      c[key] = configBool(CLASS, key, c[key]);
    }
    if (['midpoint', 'heun', 'logrho'].includes(c.solver_type)) c.solver_type = 'bh2';
    oneOf(CLASS, 'solver_type', c.solver_type, ['bh1', 'bh2'] as const);
    oneOf(CLASS, 'prediction_type', c.prediction_type, ['epsilon', 'sample', 'v_prediction'] as const);
    oneOf(CLASS, 'final_sigmas_type', c.final_sigmas_type, ['zero', 'sigma_min'] as const);
    oneOf(CLASS, 'timestep_spacing', c.timestep_spacing, ['linspace', 'leading', 'trailing'] as const);
    if (!Array.isArray(c.disable_corrector) || c.disable_corrector.some((v) => !Number.isInteger(v))) {
      throw new InvalidArgumentError({
        name: `${CLASS} config disable_corrector`,
        value: c.disable_corrector,
        expected: 'an array of step indices (integers)',
      });
    }
    if (c.solver_p !== null) {
      throw new NotImplementedError(
        `${CLASS}: config solver_p (an external predictor scheduler) is not supported; leave it null.`,
      );
    }
    rejectUnsupported(CLASS, c, ['use_flow_sigmas', 'use_dynamic_shifting']);
    checkOneSigmaSchedule(CLASS, c, ['use_beta_sigmas', 'use_exponential_sigmas', 'use_karras_sigmas']);
    this.schedule = vpSchedule(CLASS, c);
    this.config = Object.freeze({
      ...c,
      disable_corrector: Object.freeze([...c.disable_corrector]) as number[],
    });
    const n = c.num_train_timesteps;
    this._timesteps = Array.from({ length: n }, (_, i) => n - 1 - i);
    this._sigmas = this.schedule.sigmas.slice();
    this.modelOutputs = new Array(c.solver_order).fill(null);
  }

  /** Builds the scheduler from a diffusers `scheduler_config.json` object (unknown keys are ignored). `overrides` win over `config`, as the keyword arguments of diffusers' `from_config`. */
  static fromConfig(
    config: Readonly<Record<string, unknown>>,
    overrides?: Readonly<Record<string, unknown>>,
  ): UniPCMultistepScheduler {
    return new UniPCMultistepScheduler(withOverrides('UniPCMultistepScheduler', config, overrides));
  }

  /** Prepares `numInferenceSteps` steps spaced by `timestep_spacing` (or the Karras / exponential / beta schedule). */
  setTimesteps(numInferenceSteps: number): void {
    const c = this.config;
    const numTrain = c.num_train_timesteps;
    checkStepCount(CLASS, numInferenceSteps, numTrain);
    const n = numInferenceSteps;
    let timesteps = dpmSolverTimesteps(CLASS, c.timestep_spacing, n, numTrain, numTrain, c.steps_offset);
    // Without a sigma schedule the σ come from these timesteps: they must fit (see checkTimestepsFit).
    if (!c.use_karras_sigmas && !c.use_exponential_sigmas && !c.use_beta_sigmas) {
      checkTimestepsFit(CLASS, n, c, (k) =>
        dpmSolverTimesteps(CLASS, c.timestep_spacing, k, numTrain, numTrain, c.steps_offset),
      );
    }
    const train = this.schedule.sigmas;
    const logSigmas = this.schedule.logSigmas;
    const out = new Float32Array(n + 1);
    const kind = c.use_karras_sigmas
      ? 'karras'
      : c.use_exponential_sigmas
        ? 'exponential'
        : c.use_beta_sigmas
          ? 'beta'
          : null;
    if (kind !== null) {
      const sigmas = convertSigmas(kind, train[0]!, train[numTrain - 1]!, n);
      timesteps = timestepsForSigmas(sigmas, logSigmas, kind === 'karras');
      out.set(sigmas, 0);
      out[n] = c.final_sigmas_type === 'sigma_min' ? sigmas[n - 1]! : 0;
    } else {
      out.set(interpArray(timesteps, train), 0);
      out[n] = c.final_sigmas_type === 'sigma_min' ? train[0]! : 0;
    }
    this.resetSchedule(timesteps, out, n, c.solver_order);
    this.lastSample = null;
  }

  /** x₀ (`predict_x0`, thresholded if configured) or ε from the model output at the current sigma. */
  private convertModelOutput(modelOutput: Tensor, sample: Tensor, index: number): Float32Array {
    const c = this.config;
    checkStepShapes(CLASS, modelOutput, sample);
    // diffusers' UniPC thresholds only the x₀ prediction.
    const threshold = c.predict_x0 ? vpThreshold(c, sample) : null;
    const sigma = this._sigmas[index]!;
    return convertVpModelOutput(
      c.prediction_type,
      c.predict_x0,
      sample.data,
      modelOutput.data,
      sigma,
      threshold,
    );
  }

  /**
   * The B(h)-scaled coefficient vector of UniPC for `order`: rks (ratios of λ steps, then 1), the
   * matrix R of their powers and b, in float32 as diffusers builds them; plus h·φ₁(h) and B(h).
   */
  private unipcSystem(
    h: number,
    rks: number[],
    order: number,
  ): { R: number[][]; b: number[]; hPhi1: number; bh: number } {
    const hh = this.config.predict_x0 ? -h : h;
    const hPhi1 = fround(Math.expm1(hh));
    let hPhiK = fround(fround(hPhi1 / hh) - 1);
    let factorial = 1;
    const bh = this.config.solver_type === 'bh1' ? hh : fround(Math.expm1(hh));
    const R: number[][] = [];
    const b: number[] = [];
    for (let i = 1; i <= order; i++) {
      R.push(rks.map((r) => fround(r ** (i - 1))));
      b.push(fround(fround(hPhiK * factorial) / bh));
      factorial *= i + 1;
      hPhiK = fround(fround(hPhiK / hh) - fround(1 / factorial));
    }
    return { R, b, hPhi1, bh };
  }

  /** The λ-step ratios r_k = (λ_{s_k} − λ_{s0}) / h of the history (then 1), with the model outputs m_k they belong to. */
  private history(order: number, baseIndex: number, lambdaS0: number, h: number) {
    const rks: number[] = [];
    const ms: Float32Array[] = [];
    const k = this.config.solver_order;
    for (let i = 1; i < order; i++) {
      const [a, s] = alphaSigma(this._sigmas[baseIndex - i]!);
      rks.push(fround(fround(lambdaOf(a, s) - lambdaS0) / h));
      ms.push(this.modelOutputs[k - 1 - i]!);
    }
    rks.push(1);
    return { rks, ms };
  }

  /** UniP: the predictor from the current sample to the next sigma. */
  private predictor(x: Float32Array, order: number, i: number): Float32Array {
    const k = this.config.solver_order;
    const m0 = this.modelOutputs[k - 1]!;
    const [alphaT, sigmaT] = alphaSigma(this._sigmas[i + 1]!);
    const [alphaS0, sigmaS0] = alphaSigma(this._sigmas[i]!);
    const lambdaS0 = lambdaOf(alphaS0, sigmaS0);
    const h = fround(lambdaOf(alphaT, sigmaT) - lambdaS0);
    const { rks, ms } = this.history(order, i, lambdaS0, h);
    const { R, b, hPhi1, bh } = this.unipcSystem(h, rks, order);
    let rhos: number[] = [];
    if (ms.length > 0) {
      rhos =
        order === 2
          ? [0.5]
          : solveFloat32(
              R.slice(0, -1).map((row) => row.slice(0, -1)),
              b.slice(0, -1),
            );
    }
    return this.combine(x, m0, ms, rks, rhos, null, 0, alphaT, sigmaT, alphaS0, sigmaS0, hPhi1, bh);
  }

  /** UniC: corrects the sample predicted by the last step with the model output at it. */
  private corrector(modelT: Float32Array, lastSample: Float32Array, order: number, i: number): Float32Array {
    const k = this.config.solver_order;
    const m0 = this.modelOutputs[k - 1]!;
    const [alphaT, sigmaT] = alphaSigma(this._sigmas[i]!);
    const [alphaS0, sigmaS0] = alphaSigma(this._sigmas[i - 1]!);
    const lambdaS0 = lambdaOf(alphaS0, sigmaS0);
    const h = fround(lambdaOf(alphaT, sigmaT) - lambdaS0);
    const { rks, ms } = this.history(order, i - 1, lambdaS0, h);
    const { R, b, hPhi1, bh } = this.unipcSystem(h, rks, order);
    const rhos = order === 1 ? [0.5] : solveFloat32(R, b);
    return this.combine(
      lastSample,
      m0,
      ms,
      rks,
      rhos.slice(0, -1),
      modelT,
      rhos[rhos.length - 1]!,
      alphaT,
      sigmaT,
      alphaS0,
      sigmaS0,
      hPhi1,
      bh,
    );
  }

  /**
   * `x_t = x_t_ − scale·B(h)·(Σ ρ_k·D1_k [+ ρ_t·(model_t − m0)])` with
   * `x_t_ = (σ_t/σ_s0)·x − α_t·hφ₁·m0` (predict_x0) or `(α_t/α_s0)·x − σ_t·hφ₁·m0`, in float32 op by op.
   */
  private combine(
    x: Float32Array,
    m0: Float32Array,
    ms: Float32Array[],
    rks: number[],
    rhos: number[],
    modelT: Float32Array | null,
    rhoT: number,
    alphaT: number,
    sigmaT: number,
    alphaS0: number,
    sigmaS0: number,
    hPhi1: number,
    bh: number,
  ): Float32Array {
    const x0 = this.config.predict_x0;
    const cX = x0 ? fround(sigmaT / sigmaS0) : fround(alphaT / alphaS0);
    const scale = x0 ? alphaT : sigmaT;
    const cM = -fround(scale * hPhi1);
    const cRes = -fround(scale * bh);
    const out = new Float32Array(x.length);
    const n = out.length;
    const k = ms.length;
    // res = einsum('k,bk…->b…', ρ, D1s) with D1_k = (m_k − m0)/r_k, plus ρ_t·(model_t − m0) for UniC.
    if (k === 0 && modelT === null) {
      if (runStepKernel('unipc0', [x, m0], [out], [cX, cM])) return out;
      for (let j = 0; j < n; j++) out[j] = fround(cX * x[j]!) + fround(cM * m0[j]!);
    } else if (k === 0) {
      if (runStepKernel('unipc0t', [x, m0, modelT!], [out], [cX, cM, cRes, rhoT])) return out;
      const mt = modelT!;
      for (let j = 0; j < n; j++) {
        const a = m0[j]!;
        const base = fround(fround(cX * x[j]!) + fround(cM * a));
        out[j] = base + fround(cRes * fround(rhoT * fround(mt[j]! - a)));
      }
    } else if (k === 1) {
      const m1 = ms[0]!;
      const r1 = rks[0]!;
      const rho1 = fround(rhos[0]!);
      if (modelT === null) {
        if (runStepKernel('unipc1', [x, m0, m1], [out], [cX, cM, cRes, rho1, r1])) return out;
        for (let j = 0; j < n; j++) {
          const a = m0[j]!;
          const base = fround(fround(cX * x[j]!) + fround(cM * a));
          const res = fround(rho1 * fround(fround(m1[j]! - a) / r1));
          out[j] = base + fround(cRes * res);
        }
      } else {
        const mt = modelT;
        if (runStepKernel('unipc1t', [x, m0, m1, mt], [out], [cX, cM, cRes, rho1, r1, rhoT])) return out;
        for (let j = 0; j < n; j++) {
          const a = m0[j]!;
          const base = fround(fround(cX * x[j]!) + fround(cM * a));
          const res = fround(
            fround(rho1 * fround(fround(m1[j]! - a) / r1)) + fround(rhoT * fround(mt[j]! - a)),
          );
          out[j] = base + fround(cRes * res);
        }
      }
    } else {
      const rho = rhos.map(fround);
      for (let j = 0; j < n; j++) {
        const a = m0[j]!;
        const base = fround(fround(cX * x[j]!) + fround(cM * a));
        let res = fround(rho[0]! * fround(fround(ms[0]![j]! - a) / rks[0]!));
        for (let q = 1; q < k; q++)
          res = fround(res + fround(rho[q]! * fround(fround(ms[q]![j]! - a) / rks[q]!)));
        if (modelT !== null) res = fround(res + fround(rhoT * fround(modelT[j]! - a)));
        out[j] = base + fround(cRes * res);
      }
    }
    return out;
  }

  /** One UniPC step: correct the last prediction (UniC), then predict the next sample (UniP). */
  step(
    modelOutput: Tensor,
    timestep: number,
    sample: Tensor,
    _options: SchedulerStepOptions = {},
  ): SchedulerStepOutput {
    const c = this.config;
    const i = this.currentStepIndex(timestep);
    const n = this._timesteps.length;
    const useCorrector = i > 0 && !c.disable_corrector.includes(i - 1) && this.lastSample !== null;
    const converted = this.convertModelOutput(modelOutput, sample, i);
    let x = sample.data;
    if (useCorrector) x = this.corrector(converted, this.lastSample!, this.thisOrder, i);
    const k = c.solver_order;
    this.pushModelOutput(converted, k);
    // A deliberate difference from diffusers: a step that lands on σ = 0 (λ = ∞) is first order even
    // without lower_order_final; diffusers' higher-order update divides by that infinite step there and
    // returns Infinity/NaN latents (e.g. UniPC built from DPMSolverSinglestep's default config).
    const landsOnZero = this._sigmas[i + 1] === 0;
    const order = c.lower_order_final || landsOnZero ? Math.min(k, n - i) : k;
    this.thisOrder = Math.min(order, this.lowerOrderNums + 1);
    this.lastSample = x;
    const prev = this.predictor(x, this.thisOrder, i);
    if (this.lowerOrderNums < k) this.lowerOrderNums++;
    this.stepIndex = i + 1;
    return { prevSample: new Tensor(prev, sample.shape) };
  }
}
