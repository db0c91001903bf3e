import { type SchedulerStepOptions, type SchedulerStepOutput, Tensor } from '@latentkit/core';
import { checkStepCount, oneOf, resolveConfig, withOverrides } from './shared/config.js';
import {
  alphaSigma,
  checkOneSigmaSchedule,
  checkStepShapes,
  configBool,
  configInt,
  convertVpModelOutput,
  lambdaOf,
  noiseFromData,
  rejectUnsupported,
  timestepsForSigmas,
  VP_SOLVER_DEFAULTS,
  type VpSchedule,
  type VpSolverConfig,
  vpSchedule,
  vpThreshold,
} from './shared/dpm-common.js';
import { DPMFamilyScheduler } from './shared/dpm-family-scheduler.js';
import { weightedSum } from './shared/dpm-kernels.js';
import { checkTimestepsFit } from './shared/schedule-fit.js';
import { convertSigmas, interpArray } from './shared/sigmas.js';
import { dpmSolverTimesteps } from './shared/timestep-spacing.js';

const fround = Math.fround;
/** The DPM-Solver algorithm types whose configs DEIS accepts (read as its own `deis`). */
const DPM_SOLVER_ALGORITHMS = ['dpmsolver', 'dpmsolver++', 'sde-dpmsolver', 'sde-dpmsolver++'];

const CLASS = 'DEISMultistepScheduler';

/** The diffusers config of {@link DEISMultistepScheduler} (snake_case, as in `scheduler_config.json`). */
export interface DEISMultistepConfig extends VpSolverConfig {
  algorithm_type: string;
  timestep_spacing: string;
  steps_offset: number;
}

const DEFAULTS = {
  ...VP_SOLVER_DEFAULTS,
  algorithm_type: 'deis',
  solver_type: 'logrho',
  lower_order_final: true,
  use_karras_sigmas: false,
  use_exponential_sigmas: false,
  use_beta_sigmas: false,
  use_flow_sigmas: false,
  flow_shift: 1.0,
  timestep_spacing: 'linspace',
  steps_offset: 0,
};

/** float32 `np.log` of a 0-d float32 tensor. */
const log32 = (x: number): number => fround(Math.log(x));

/**
 * DEIS (Zhang & Chen 2022), the exponential-integrator multistep solver with polynomial fitting in
 * log-ρ space (`solver_type: "logrho"`). A port of diffusers' `DEISMultistepScheduler` that reproduces
 * its float32 numbers.
 */
export class DEISMultistepScheduler extends DPMFamilyScheduler {
  /** The diffusers config, defaults filled in (`dpmsolver*` / `midpoint` / `heun` / `bh*` names read as DEIS's own). */
  readonly config: Readonly<DEISMultistepConfig>;
  /** Model evaluations per step: 1. */
  readonly order = 1;
  /** The initial noise is standard normal. */
  readonly initNoiseSigma = 1;

  private readonly schedule: VpSchedule;

  constructor(config: Readonly<Record<string, unknown>> = {}) {
    super(CLASS);
    const c = resolveConfig(CLASS, DEFAULTS, config) as DEISMultistepConfig;
    c.num_train_timesteps = configInt(CLASS, 'num_train_timesteps', c.num_train_timesteps, 1);
    c.solver_order = configInt(CLASS, 'solver_order', c.solver_order, 1, 3);
    c.steps_offset = configInt(CLASS, 'steps_offset', c.steps_offset, 0);
    for (const key of [
      'thresholding',
      'lower_order_final',
      'use_karras_sigmas',
      'use_exponential_sigmas',
      'use_beta_sigmas',
    ]) {
      c[key] = configBool(CLASS, key, c[key]);
    }
    // diffusers maps sibling solvers' names onto DEIS, so configs swap between the classes. It maps
    // dpmsolver / dpmsolver++ only and raises NotImplementedError for the SDE variants; here those map
    // too, so every DPM-Solver config (e.g. "DPM++ 2M SDE") can build DEIS (a deliberate difference).
    if (DPM_SOLVER_ALGORITHMS.includes(c.algorithm_type)) c.algorithm_type = 'deis';
    if (['midpoint', 'heun', 'bh1', 'bh2'].includes(c.solver_type)) c.solver_type = 'logrho';
    oneOf(CLASS, 'algorithm_type', c.algorithm_type, ['deis'] as const);
    oneOf(CLASS, 'solver_type', c.solver_type, ['logrho'] as const);
    oneOf(CLASS, 'prediction_type', c.prediction_type, ['epsilon', 'sample', 'v_prediction'] as const);
    oneOf(CLASS, 'timestep_spacing', c.timestep_spacing, ['linspace', 'leading', 'trailing'] as const);
    rejectUnsupported(CLASS, c, ['use_flow_sigmas']);
    checkOneSigmaSchedule(CLASS, c, ['use_beta_sigmas', 'use_exponential_sigmas', 'use_karras_sigmas']);
    this.schedule = vpSchedule(CLASS, c);
    this.config = Object.freeze(c);
    const n = c.num_train_timesteps;
    this._timesteps = Array.from({ length: n }, (_, i) => n - 1 - i);
    this._sigmas = this.schedule.sigmas.slice();
    this.modelOutputs = new Array(c.solver_order).fill(null);
  }

  /** Builds the scheduler from a diffusers `scheduler_config.json` object (unknown keys are ignored). `overrides` win over `config`, as the keyword arguments of diffusers' `from_config`. */
  static fromConfig(
    config: Readonly<Record<string, unknown>>,
    overrides?: Readonly<Record<string, unknown>>,
  ): DEISMultistepScheduler {
    return new DEISMultistepScheduler(withOverrides('DEISMultistepScheduler', config, overrides));
  }

  /** Prepares `numInferenceSteps` steps spaced by `timestep_spacing` (or the Karras / exponential / beta schedule). */
  setTimesteps(numInferenceSteps: number): void {
    const c = this.config;
    const numTrain = c.num_train_timesteps;
    checkStepCount(CLASS, numInferenceSteps, numTrain);
    let timesteps = dpmSolverTimesteps(
      CLASS,
      c.timestep_spacing,
      numInferenceSteps,
      numTrain,
      numTrain,
      c.steps_offset,
    );
    // Without a sigma schedule the σ come from these timesteps: they must fit (see checkTimestepsFit).
    if (!c.use_karras_sigmas && !c.use_exponential_sigmas && !c.use_beta_sigmas) {
      checkTimestepsFit(CLASS, numInferenceSteps, c, (k) =>
        dpmSolverTimesteps(CLASS, c.timestep_spacing, k, numTrain, numTrain, c.steps_offset),
      );
    }
    const n = numInferenceSteps;
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
      out[n] = sigmas[n - 1]!;
    } else {
      out.set(interpArray(timesteps, train), 0);
      out[n] = train[0]!;
    }
    this.resetSchedule(timesteps, out, n, c.solver_order);
  }

  /** The ε the solver integrates: x₀ from the model output (thresholded if configured), turned back into ε. */
  private convertModelOutput(modelOutput: Tensor, sample: Tensor, index: number): Float32Array {
    const c = this.config;
    checkStepShapes(CLASS, modelOutput, sample);
    const s = sample.data;
    const sigma = this._sigmas[index]!;
    const x0 = convertVpModelOutput(
      c.prediction_type,
      true,
      s,
      modelOutput.data,
      sigma,
      vpThreshold(c, sample),
    );
    const [alpha, sigmaT] = alphaSigma(sigma);
    return noiseFromData(s, x0, alpha, sigmaT, x0);
  }

  /** One DEIS step from `timestep` to the next timestep of the schedule. */
  step(
    modelOutput: Tensor,
    timestep: number,
    sample: Tensor,
    _options: SchedulerStepOptions = {},
  ): SchedulerStepOutput {
    const c = this.config;
    const i = this.currentStepIndex(timestep);
    const n = this._timesteps.length;
    const lowerOrderFinal = i === n - 1 && c.lower_order_final && n < 15;
    const lowerOrderSecond = i === n - 2 && c.lower_order_final && n < 15;
    const m = this.convertModelOutput(modelOutput, sample, i);
    const k = c.solver_order;
    this.pushModelOutput(m, k);

    const s = sample.data;
    const out = new Float32Array(s.length);
    const [alphaT, sigmaT] = alphaSigma(this._sigmas[i + 1]!);
    const [alphaS0, sigmaS0] = alphaSigma(this._sigmas[i]!);
    if (k === 1 || this.lowerOrderNums < 1 || lowerOrderFinal) {
      const h = fround(lambdaOf(alphaT, sigmaT) - lambdaOf(alphaS0, sigmaS0));
      const c0 = -fround(sigmaT * fround(fround(Math.exp(h)) - 1));
      weightedSum(out, [fround(alphaT / alphaS0), c0], [s, m]);
    } else {
      const [alphaS1, sigmaS1] = alphaSigma(this._sigmas[i - 1]!);
      const rhoT = fround(sigmaT / alphaT);
      const rhoS0 = fround(sigmaS0 / alphaS0);
      const rhoS1 = fround(sigmaS1 / alphaS1);
      let coefs: number[];
      let terms: Float32Array[];
      if (k === 2 || this.lowerOrderNums < 2 || lowerOrderSecond) {
        // ∫ (log t − log c)/(log b − log c) dt, in float32 as diffusers evaluates it on 0-d tensors.
        const ind = (t: number, b: number, cc: number) =>
          fround(fround(t * fround(fround(-log32(cc) + log32(t)) - 1)) / fround(log32(b) - log32(cc)));
        const coef1 = fround(ind(rhoT, rhoS0, rhoS1) - ind(rhoS0, rhoS0, rhoS1));
        const coef2 = fround(ind(rhoT, rhoS1, rhoS0) - ind(rhoS0, rhoS1, rhoS0));
        coefs = [coef1, coef2];
        terms = [this.modelOutputs[k - 1]!, this.modelOutputs[k - 2]!];
      } else {
        const [alphaS2, sigmaS2] = alphaSigma(this._sigmas[i - 2]!);
        const rhoS2 = fround(sigmaS2 / alphaS2);
        const ind = (t: number, b: number, cc: number, d: number) => {
          const lt = log32(t);
          const lc = log32(cc);
          const ld = log32(d);
          const lb = log32(b);
          let num = fround(lc * fround(fround(ld - lt) + 1));
          num = fround(num - fround(ld * lt));
          num = fround(num + ld);
          num = fround(num + fround(lt * lt));
          num = fround(num - fround(2 * lt));
          num = fround(num + 2);
          num = fround(t * num);
          return fround(num / fround(fround(lb - lc) * fround(lb - ld)));
        };
        coefs = [
          fround(ind(rhoT, rhoS0, rhoS1, rhoS2) - ind(rhoS0, rhoS0, rhoS1, rhoS2)),
          fround(ind(rhoT, rhoS1, rhoS2, rhoS0) - ind(rhoS0, rhoS1, rhoS2, rhoS0)),
          fround(ind(rhoT, rhoS2, rhoS0, rhoS1) - ind(rhoS0, rhoS2, rhoS0, rhoS1)),
        ];
        terms = [this.modelOutputs[2]!, this.modelOutputs[1]!, this.modelOutputs[0]!];
      }
      // x_t = α_t · (x / α_s0 + Σ coef_k · m_k), each op rounded to float32.
      const [c1, c2, c3] = coefs as [number, number, number | undefined];
      const [t1, t2, t3] = terms as [Float32Array, Float32Array, Float32Array | undefined];
      for (let j = 0; j < s.length; j++) {
        let acc = fround(fround(fround(s[j]! / alphaS0) + fround(c1 * t1[j]!)) + fround(c2 * t2[j]!));
        if (t3 !== undefined) acc = fround(acc + fround(c3! * t3[j]!));
        out[j] = alphaT * acc;
      }
    }
    if (this.lowerOrderNums < k) this.lowerOrderNums++;
    this.stepIndex = i + 1;
    return { prevSample: new Tensor(out, sample.shape) };
  }
}
