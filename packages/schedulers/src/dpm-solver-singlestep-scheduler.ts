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
  checkVarianceType,
  clippedIndex,
  configBool,
  configInt,
  configNumber,
  convertVpModelOutput,
  firstChannels,
  lambdaOf,
  rejectUnsupported,
  timestepsForSigmas,
  toInt64,
  VP_SOLVER_DEFAULTS,
  type VpSchedule,
  type VpSolverConfig,
  vpSchedule,
  vpThreshold,
} from './shared/dpm-common.js';
import { DPMFamilyScheduler } from './shared/dpm-family-scheduler.js';
import { scaledDifference, weightedSum } from './shared/dpm-kernels.js';
import { drawNoise } from './shared/noise.js';
import { convertSigmas, interpArray } from './shared/sigmas.js';
import { dpmSolverTimesteps } from './shared/timestep-spacing.js';

const fround = Math.fround;
const CLASS = 'DPMSolverSinglestepScheduler';

/** The diffusers config of {@link DPMSolverSinglestepScheduler} (snake_case, as in `scheduler_config.json`). */
export interface DPMSolverSinglestepConfig extends VpSolverConfig {
  algorithm_type: string;
  final_sigmas_type: string;
  lambda_min_clipped: number;
  variance_type: string | null;
}

const DEFAULTS = {
  ...VP_SOLVER_DEFAULTS,
  algorithm_type: 'dpmsolver++',
  solver_type: 'midpoint',
  lower_order_final: false,
  use_karras_sigmas: false,
  use_exponential_sigmas: false,
  use_beta_sigmas: false,
  use_flow_sigmas: false,
  flow_shift: 1.0,
  final_sigmas_type: 'zero',
  lambda_min_clipped: -Infinity,
  variance_type: null,
};

const ALGORITHMS = ['dpmsolver++', 'sde-dpmsolver++', 'dpmsolver', 'sde-dpmsolver'] as const;
type Algorithm = (typeof ALGORITHMS)[number];

/**
 * diffusers' solver-order pattern of the singlestep solver for `steps` steps: blocks of 1, 2(, 3)
 * model evaluations, with a lower-order tail when `lowerOrderFinal` (needed when `steps` is not a
 * multiple of the order).
 */
export function singlestepOrderList(steps: number, order: number, lowerOrderFinal: boolean): number[] {
  const rep = (pattern: number[], times: number): number[] =>
    Array.from({ length: times }, () => pattern).flat();
  if (order === 1) return new Array<number>(steps).fill(1);
  if (!lowerOrderFinal)
    return order === 3 ? rep([1, 2, 3], Math.floor(steps / 3)) : rep([1, 2], Math.floor(steps / 2));
  if (order === 3) {
    if (steps % 3 === 0) return [...rep([1, 2, 3], steps / 3 - 1), 1, 2, 1];
    if (steps % 3 === 1) return [...rep([1, 2, 3], Math.floor(steps / 3)), 1];
    return [...rep([1, 2, 3], Math.floor(steps / 3)), 1, 2];
  }
  return steps % 2 === 0 ? [...rep([1, 2], steps / 2 - 1), 1, 1] : [...rep([1, 2], Math.floor(steps / 2)), 1];
}

/**
 * DPM-Solver / DPM-Solver++ in its singlestep form (A1111's "DPM++ SDE"-style block solver): each
 * block of `solver_order` model evaluations restarts from the block's first sample. A port of diffusers'
 * `DPMSolverSinglestepScheduler` that reproduces its float32 numbers.
 */
export class DPMSolverSinglestepScheduler extends DPMFamilyScheduler {
  /** Model evaluations per step: 1 (diffusers' convention for this class). */
  readonly order = 1;
  /** The initial noise is standard normal. */
  readonly initNoiseSigma = 1;

  private _config: Readonly<DPMSolverSinglestepConfig>;
  private readonly schedule: VpSchedule;
  private readonly algorithm: Algorithm;
  private blockSample: Float32Array | null = null;
  private orderList: number[] = [];

  constructor(config: Readonly<Record<string, unknown>> = {}) {
    super(CLASS);
    const c = resolveConfig(CLASS, DEFAULTS, config) as DPMSolverSinglestepConfig;
    c.num_train_timesteps = configInt(CLASS, 'num_train_timesteps', c.num_train_timesteps, 1);
    c.solver_order = configInt(CLASS, 'solver_order', c.solver_order, 1, 3);
    c.lambda_min_clipped = configNumber(CLASS, 'lambda_min_clipped', c.lambda_min_clipped);
    for (const key of [
      'thresholding',
      'lower_order_final',
      'use_karras_sigmas',
      'use_exponential_sigmas',
      'use_beta_sigmas',
    ]) {
      c[key] = configBool(CLASS, key, c[key]);
    }
    if (c.algorithm_type === 'deis') c.algorithm_type = 'dpmsolver++';
    if (c.solver_type === 'logrho' || c.solver_type === 'bh1' || c.solver_type === 'bh2')
      c.solver_type = 'midpoint';
    this.algorithm = oneOf(CLASS, 'algorithm_type', c.algorithm_type, ALGORITHMS);
    oneOf(CLASS, 'solver_type', c.solver_type, ['midpoint', 'heun'] as const);
    oneOf(CLASS, 'prediction_type', c.prediction_type, ['epsilon', 'sample', 'v_prediction'] as const);
    oneOf(CLASS, 'final_sigmas_type', c.final_sigmas_type, ['zero', 'sigma_min'] as const);
    checkVarianceType(CLASS, c.variance_type);
    rejectUnsupported(CLASS, c, ['use_flow_sigmas']);
    checkOneSigmaSchedule(CLASS, c, ['use_beta_sigmas', 'use_exponential_sigmas', 'use_karras_sigmas']);
    if (
      (this.algorithm === 'dpmsolver' || this.algorithm === 'sde-dpmsolver') &&
      c.final_sigmas_type === 'zero'
    ) {
      throw new InvalidArgumentError({
        name: `${CLASS} config final_sigmas_type`,
        value: 'zero',
        expected: `"sigma_min" with algorithm_type "${this.algorithm}"`,
        fix: 'set final_sigmas_type: "sigma_min", or use algorithm_type "dpmsolver++" / "sde-dpmsolver++"',
      });
    }
    if (this.algorithm.startsWith('sde-') && c.solver_order === 3) {
      throw new NotImplementedError(
        `${CLASS}: solver_order 3 is not implemented for SDE algorithm types (diffusers has no third-order SDE update); use solver_order 1 or 2.`,
      );
    }
    this.schedule = vpSchedule(CLASS, c);
    this._config = Object.freeze(c);
    const n = c.num_train_timesteps;
    this._timesteps = Array.from({ length: n }, (_, i) => n - 1 - i);
    this._sigmas = this.schedule.sigmas.slice();
    this.modelOutputs = new Array(c.solver_order).fill(null);
    this.orderList = singlestepOrderList(n, c.solver_order, c.lower_order_final);
  }

  /** Builds the scheduler from a diffusers `scheduler_config.json` object (unknown keys are ignored). `overrides` win over `config`, as the keyword arguments of diffusers' `from_config`. */
  static fromConfig(
    config: Readonly<Record<string, unknown>>,
    overrides?: Readonly<Record<string, unknown>>,
  ): DPMSolverSinglestepScheduler {
    return new DPMSolverSinglestepScheduler(withOverrides('DPMSolverSinglestepScheduler', config, overrides));
  }

  /**
   * The diffusers config, defaults filled in. As in diffusers, `setTimesteps` switches
   * `lower_order_final` on when the step count is not a multiple of `solver_order` or the final sigma is 0.
   */
  get config(): Readonly<DPMSolverSinglestepConfig> {
    return this._config;
  }

  /** The solver order used at each step of the current schedule. */
  get orders(): readonly number[] {
    return this.orderList;
  }

  /** Prepares `numInferenceSteps` linearly spaced steps (or the Karras / exponential / beta schedule), or custom `timesteps`. */
  setTimesteps(numInferenceSteps?: number, options: { timesteps?: readonly number[] } = {}): void {
    let c = this._config;
    const numTrain = c.num_train_timesteps;
    const custom = options.timesteps;
    let timesteps: number[];
    if (custom !== undefined) {
      if (c.use_karras_sigmas || c.use_exponential_sigmas || c.use_beta_sigmas) {
        throw new InvalidArgumentError({
          name: `${CLASS}.setTimesteps timesteps`,
          value: custom,
          expected: 'no custom timesteps with Karras / exponential / beta sigmas',
          fix: 'omit options.timesteps, or switch those config keys off',
        });
      }
      if (!Array.isArray(custom) || custom.length === 0 || custom.some((t) => !Number.isFinite(t))) {
        throw new InvalidArgumentError({
          name: `${CLASS}.setTimesteps timesteps`,
          value: custom,
          expected: 'a non-empty array of finite timesteps',
        });
      }
      if (numInferenceSteps !== undefined && numInferenceSteps !== custom.length) {
        throw new InvalidArgumentError({
          name: `${CLASS}.setTimesteps numInferenceSteps`,
          value: numInferenceSteps,
          expected: 'undefined when custom timesteps are given',
        });
      }
      timesteps = custom.map(toInt64);
    } else {
      checkStepCount(CLASS, numInferenceSteps as number, numTrain);
      const clipped = clippedIndex(this.schedule.lambdas, c.lambda_min_clipped);
      timesteps = dpmSolverTimesteps(CLASS, 'linspace', numInferenceSteps!, numTrain, numTrain - clipped, 0);
    }
    const n = timesteps.length;
    const train = this.schedule.sigmas;
    const logSigmas = this.schedule.logSigmas;
    const kind = c.use_karras_sigmas
      ? 'karras'
      : c.use_exponential_sigmas
        ? 'exponential'
        : c.use_beta_sigmas
          ? 'beta'
          : null;
    let sigmas: ArrayLike<number>;
    if (kind !== null) {
      sigmas = convertSigmas(kind, train[0]!, train[numTrain - 1]!, n);
      timesteps = timestepsForSigmas(sigmas, logSigmas, kind === 'karras');
    } else {
      sigmas = interpArray(timesteps, train);
    }
    const out = new Float32Array(n + 1);
    out.set(sigmas, 0);
    out[n] = c.final_sigmas_type === 'sigma_min' ? train[0]! : 0;
    this.resetSchedule(timesteps, out, n, c.solver_order);
    this.blockSample = null;
    // diffusers re-registers lower_order_final = True for uneven step counts and for a zero final sigma.
    if (!c.lower_order_final && (n % c.solver_order !== 0 || c.final_sigmas_type === 'zero')) {
      c = Object.freeze({ ...c, lower_order_final: true });
      this._config = c;
    }
    this.orderList = singlestepOrderList(n, c.solver_order, c.lower_order_final);
  }

  private convertModelOutput(modelOutput: Tensor, sample: Tensor, index: number): Float32Array {
    const c = this._config;
    let mo = modelOutput.data;
    const s = sample.data;
    if (
      (c.variance_type === 'learned' || c.variance_type === 'learned_range') &&
      c.prediction_type === 'epsilon'
    ) {
      mo = firstChannels(CLASS, modelOutput, sample, 3);
    } else {
      checkStepShapes(CLASS, modelOutput, sample);
    }
    const dataPrediction = this.algorithm === 'dpmsolver++' || this.algorithm === 'sde-dpmsolver++';
    const sigma = this._sigmas[index]!;
    return convertVpModelOutput(c.prediction_type, dataPrediction, s, mo, sigma, vpThreshold(c, sample));
  }

  /** One step. SDE variants draw one `randn` of the sample's shape from `options.generator` per step. */
  step(
    modelOutput: Tensor,
    timestep: number,
    sample: Tensor,
    options: SchedulerStepOptions = {},
  ): SchedulerStepOutput {
    const c = this._config;
    const i = this.currentStepIndex(timestep);
    const m = this.convertModelOutput(modelOutput, sample, i);
    const k = c.solver_order;
    this.pushModelOutput(m, k);
    const noise = this.algorithm.startsWith('sde-') ? drawNoise(sample.shape, options.generator) : undefined;
    // diffusers' order list can be shorter than the schedule (no lower_order_final tail): index past it is
    // undefined there too, so fall back to first order.
    let order = this.orderList[i] ?? 1;
    // Entered part-way (img2img), the history is empty: lower the order until it is available.
    while (order > 1 && this.modelOutputs[k - order] === null) order--;
    if (order === 1) this.blockSample = sample.data;
    const x = this.blockSample!;
    let prev: Float32Array;
    if (order === 1) prev = this.firstOrder(m, x, i, noise);
    else if (order === 2) prev = this.secondOrder(x, i, noise);
    else prev = this.thirdOrder(x, i);
    this.stepIndex = i + 1;
    return { prevSample: new Tensor(prev, sample.shape) };
  }

  private firstOrder(m: Float32Array, s: Float32Array, i: number, noise?: Float32Array): Float32Array {
    const [alphaT, sigmaT] = alphaSigma(this._sigmas[i + 1]!);
    const [alphaS, sigmaS] = alphaSigma(this._sigmas[i]!);
    const h = fround(lambdaOf(alphaT, sigmaT) - lambdaOf(alphaS, sigmaS));
    const out = new Float32Array(s.length);
    switch (this.algorithm) {
      case 'dpmsolver++':
        weightedSum(
          out,
          [fround(sigmaT / sigmaS), -fround(alphaT * fround(fround(Math.exp(-h)) - 1))],
          [s, m],
        );
        break;
      case 'dpmsolver':
        weightedSum(
          out,
          [fround(alphaT / alphaS), -fround(sigmaT * fround(fround(Math.exp(h)) - 1))],
          [s, m],
        );
        break;
      case 'sde-dpmsolver++': {
        const e2 = fround(Math.exp(fround(-2 * h)));
        const cS = fround(fround(sigmaT / sigmaS) * fround(Math.exp(-h)));
        const cN = fround(sigmaT * fround(Math.sqrt(fround(1 - e2))));
        weightedSum(out, [cS, fround(alphaT * fround(1 - e2)), cN], [s, m, noise!]);
        break;
      }
      default: {
        const c0 = -fround(2 * fround(sigmaT * fround(fround(Math.exp(h)) - 1)));
        const cN = fround(sigmaT * fround(Math.sqrt(fround(fround(Math.exp(fround(2 * h))) - 1))));
        weightedSum(out, [fround(alphaT / alphaS), c0, cN], [s, m, noise!]);
      }
    }
    return out;
  }

  /** Second order from the block start `s` (at step i − 1) to step i + 1, using m₁ (at i − 1) and m₀ (at i). */
  private secondOrder(s: Float32Array, i: number, noise?: Float32Array): Float32Array {
    const k = this._config.solver_order;
    const m0 = this.modelOutputs[k - 1]!;
    const m1 = this.modelOutputs[k - 2]!;
    const [alphaT, sigmaT] = alphaSigma(this._sigmas[i + 1]!);
    const [alphaS0, sigmaS0] = alphaSigma(this._sigmas[i]!);
    const [alphaS1, sigmaS1] = alphaSigma(this._sigmas[i - 1]!);
    const lambdaT = lambdaOf(alphaT, sigmaT);
    const lambdaS0 = lambdaOf(alphaS0, sigmaS0);
    const lambdaS1 = lambdaOf(alphaS1, sigmaS1);
    const h = fround(lambdaT - lambdaS1);
    const r0 = fround(fround(lambdaS0 - lambdaS1) / h);
    const d1 = scaledDifference(fround(1 / r0), m0, m1);
    const midpoint = this._config.solver_type === 'midpoint';
    const out = new Float32Array(s.length);
    switch (this.algorithm) {
      case 'dpmsolver++': {
        const em = fround(fround(Math.exp(-h)) - 1);
        const a = fround(alphaT * em);
        const c1 = midpoint ? -fround(0.5 * a) : fround(alphaT * fround(fround(em / h) + 1));
        weightedSum(out, [fround(sigmaT / sigmaS1), -a, c1], [s, m1, d1]);
        break;
      }
      case 'dpmsolver': {
        const ep = fround(fround(Math.exp(h)) - 1);
        const a = fround(sigmaT * ep);
        const c1 = midpoint ? -fround(0.5 * a) : -fround(sigmaT * fround(fround(ep / h) - 1));
        weightedSum(out, [fround(alphaT / alphaS1), -a, c1], [s, m1, d1]);
        break;
      }
      case 'sde-dpmsolver++': {
        const e2 = fround(Math.exp(fround(-2 * h)));
        const a = fround(alphaT * fround(1 - e2));
        const c1 = midpoint
          ? fround(0.5 * a)
          : fround(alphaT * fround(fround(fround(1 - e2) / fround(-2 * h)) + 1));
        const cS = fround(fround(sigmaT / sigmaS1) * fround(Math.exp(-h)));
        const cN = fround(sigmaT * fround(Math.sqrt(fround(1 - e2))));
        weightedSum(out, [cS, a, c1, cN], [s, m1, d1, noise!]);
        break;
      }
      default: {
        const ep = fround(fround(Math.exp(h)) - 1);
        const a = fround(sigmaT * ep);
        const c1 = midpoint ? -a : -fround(2 * fround(sigmaT * fround(fround(ep / h) - 1)));
        const cN = fround(sigmaT * fround(Math.sqrt(fround(fround(Math.exp(fround(2 * h))) - 1))));
        weightedSum(out, [fround(alphaT / alphaS1), -fround(2 * a), c1, cN], [s, m1, d1, noise!]);
      }
    }
    return out;
  }

  /** Third order from the block start `s` (at step i − 2) to step i + 1. */
  private thirdOrder(s: Float32Array, i: number): Float32Array {
    const m0 = this.modelOutputs[2]!;
    const m1 = this.modelOutputs[1]!;
    const m2 = this.modelOutputs[0]!;
    const [alphaT, sigmaT] = alphaSigma(this._sigmas[i + 1]!);
    const [alphaS0, sigmaS0] = alphaSigma(this._sigmas[i]!);
    const [alphaS1, sigmaS1] = alphaSigma(this._sigmas[i - 1]!);
    const [alphaS2, sigmaS2] = alphaSigma(this._sigmas[i - 2]!);
    const lambdaT = lambdaOf(alphaT, sigmaT);
    const lambdaS0 = lambdaOf(alphaS0, sigmaS0);
    const lambdaS1 = lambdaOf(alphaS1, sigmaS1);
    const lambdaS2 = lambdaOf(alphaS2, sigmaS2);
    const h = fround(lambdaT - lambdaS2);
    const r0 = fround(fround(lambdaS0 - lambdaS2) / h);
    const r1 = fround(fround(lambdaS1 - lambdaS2) / h);
    const d10 = scaledDifference(fround(1 / r1), m1, m2);
    const d11 = scaledDifference(fround(1 / r0), m0, m2);
    const midpoint = this._config.solver_type === 'midpoint';
    const out = new Float32Array(s.length);
    const dpp = this.algorithm === 'dpmsolver++';
    const cS = dpp ? fround(sigmaT / sigmaS2) : fround(alphaT / alphaS2);
    const e = dpp ? fround(fround(Math.exp(-h)) - 1) : fround(fround(Math.exp(h)) - 1);
    const scale = dpp ? alphaT : sigmaT;
    const c0 = -fround(scale * e);
    const c1 = dpp ? fround(scale * fround(fround(e / h) + 1)) : -fround(scale * fround(fround(e / h) - 1));
    if (midpoint) {
      weightedSum(out, [cS, c0, c1], [s, m2, d11]);
      return out;
    }
    const rd = fround(r0 - r1);
    const d1 = new Float32Array(s.length);
    const d2 = new Float32Array(s.length);
    for (let j = 0; j < d1.length; j++) {
      d1[j] = fround(fround(r0 * d10[j]!) - fround(r1 * d11[j]!)) / rd;
      d2[j] = fround(2 * fround(d11[j]! - d10[j]!)) / rd;
    }
    const hh = fround(h * h);
    const c2 = dpp
      ? -fround(scale * fround(fround(fround(e + h) / hh) - 0.5))
      : -fround(scale * fround(fround(fround(e - h) / hh) - 0.5));
    weightedSum(out, [cS, c0, c1, c2], [s, m2, d1, d2]);
    return out;
  }
}
