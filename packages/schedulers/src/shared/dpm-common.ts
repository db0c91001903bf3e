/**
 * Pieces shared by the DPM-Solver family (DPMSolverMultistep, DPMSolverSinglestep, DEIS, UniPC,
 * EDMDPMSolverMultistep): the VP noise schedule as diffusers builds it, σ → (α_t, σ_t, λ) in float32, the
 * step-index bookkeeping, and a few typed checks.
 *
 * Precision: torch holds sigmas and alphas as float32 tensors, so every scalar op below rounds to float32
 * (`Math.fround`) exactly where torch rounds; numpy parts run in float64.
 */
import { InvalidArgumentError, NotImplementedError, ShapeMismatchError, type Tensor } from '@latentkit/core';
import { alphasCumprodFromBetas, betasFromConfig, checkBetaConfig, rescaleZeroTerminalSnr } from './betas.js';
import type { SchedulerConfig } from './config.js';
import { roundHalfEven } from './numpy.js';
import { betaScheduleKey, memoArrays } from './schedule-memo.js';
import { sigmaToT } from './sigmas.js';
import { runStepKernel } from './step-wasm.js';
import { thresholdSampleInPlace } from './thresholding.js';

const fround = Math.fround;

/**
 * The config keys (and diffusers' defaults) that DPMSolverMultistep, DPMSolverSinglestep, DEIS and UniPC
 * all start with: the beta schedule, the solver order, the prediction type and dynamic thresholding.
 */
/**
 * The config keys shared by the VP-family multistep solvers (DPM-Solver multistep and singlestep, DEIS,
 * UniPC), as in their `scheduler_config.json`. Each class's config extends it with its own keys.
 */
export interface VpSolverConfig {
  [key: string]: unknown;
  _class_name: string;
  num_train_timesteps: number;
  beta_start: number;
  beta_end: number;
  beta_schedule: string;
  trained_betas: number[] | null;
  solver_order: number;
  prediction_type: string;
  thresholding: boolean;
  dynamic_thresholding_ratio: number;
  sample_max_value: number;
  solver_type: string;
  lower_order_final: boolean;
  use_karras_sigmas: boolean;
  use_exponential_sigmas: boolean;
  use_beta_sigmas: boolean;
  use_flow_sigmas: boolean;
  flow_shift: number;
}

export const VP_SOLVER_DEFAULTS = {
  num_train_timesteps: 1000,
  beta_start: 0.0001,
  beta_end: 0.02,
  beta_schedule: 'linear',
  trained_betas: null,
  solver_order: 2,
  prediction_type: 'epsilon',
  thresholding: false,
  dynamic_thresholding_ratio: 0.995,
  sample_max_value: 1.0,
};

/**
 * Reads a numeric config value. Accepts numbers and the strings Python's `json` writes for
 * non-finite floats (`-Infinity`, `Infinity`, `NaN`) or `"-inf"` / `"inf"`, since `scheduler_config.json`
 * files carry `lambda_min_clipped: -Infinity`.
 */
export function configNumber(className: string, key: string, value: unknown): number {
  if (typeof value === 'number' && !Number.isNaN(value)) return value;
  if (typeof value === 'string') {
    const v = value.trim().toLowerCase();
    if (v === '-inf' || v === '-infinity') return -Infinity;
    if (v === 'inf' || v === 'infinity' || v === '+inf') return Infinity;
    const n = Number(v);
    if (v !== '' && !Number.isNaN(n)) return n;
  }
  throw new InvalidArgumentError({ name: `${className} config ${key}`, value, expected: 'a number' });
}

/** Reads an integer config value (≥ `min`). */
export function configInt(
  className: string,
  key: string,
  value: unknown,
  min: number,
  max = Infinity,
): number {
  if (typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max) return value;
  throw new InvalidArgumentError({
    name: `${className} config ${key}`,
    value,
    expected: max === Infinity ? `an integer ≥ ${min}` : `an integer from ${min} to ${max}`,
  });
}

/** Reads a boolean config value (diffusers' configs sometimes store `null` for "off"). */
export function configBool(className: string, key: string, value: unknown): boolean {
  if (typeof value === 'boolean') return value;
  if (value === null) return false;
  throw new InvalidArgumentError({ name: `${className} config ${key}`, value, expected: 'true or false' });
}

/** Rejects config switches that this port does not implement (flow-matching variants of these solvers). */
export function rejectUnsupported(className: string, config: SchedulerConfig, keys: readonly string[]): void {
  for (const key of keys) {
    if (config[key] === true) {
      throw new NotImplementedError(
        `${className}: config ${key} = true (flow-matching sigmas) is not implemented in latentkit; use ` +
          'FlowMatchEulerDiscreteScheduler for flow-matching models, or set it to false.',
      );
    }
  }
}

/**
 * Every `variance_type` a diffusers scheduler config can hold: DDPMScheduler's (the fixed ones carry over
 * when a DDPM config builds a DPM-Solver) and the learned ones.
 */
const VARIANCE_TYPES = [
  'fixed_small',
  'fixed_small_log',
  'fixed_large',
  'fixed_large_log',
  'learned',
  'learned_range',
] as const;

/**
 * Checks a DPM-Solver's `variance_type`. As in diffusers, only `learned` / `learned_range` change
 * anything (the model output's extra variance channels are dropped); a DDPM config's fixed variance
 * types are accepted and ignored, so `createScheduler('DPM++ 2M', ddpm.config)` works as diffusers'
 * `from_config` does. Values no diffusers scheduler knows (typos) are errors.
 */
export function checkVarianceType(className: string, value: unknown): void {
  if (value === null || value === undefined) return;
  if (typeof value === 'string' && (VARIANCE_TYPES as readonly string[]).includes(value)) return;
  throw new InvalidArgumentError({
    name: `${className} config variance_type`,
    value,
    expected: `null or one of ${VARIANCE_TYPES.map((v) => JSON.stringify(v)).join(', ')}`,
    fix: 'use null (a model without learned variance), or "learned_range" for UNets that predict the variance',
  });
}

/** Only one of the sigma-schedule switches may be on, as diffusers requires. */
export function checkOneSigmaSchedule(
  className: string,
  config: SchedulerConfig,
  keys: readonly string[],
): void {
  const on = keys.filter((k) => config[k] === true);
  if (on.length > 1) {
    throw new InvalidArgumentError({
      name: `${className} config ${on.join(' + ')}`,
      value: true,
      expected: `at most one of ${keys.join(', ')} set to true`,
      fix: `keep one of ${on.join(', ')} and set the others to false`,
    });
  }
}

/** The VP noise schedule of a DPM-family scheduler: ᾱ, the training sigmas √((1 − ᾱ)/ᾱ) and λ(t). */
export interface VpSchedule {
  /** ᾱ_t (`alphas_cumprod`), float32. */
  readonly alphasCumprod: Float32Array;
  /** Training sigmas √((1 − ᾱ)/ᾱ), float32, t = 0 first. */
  readonly sigmas: Float32Array;
  /** `np.log(sigmas)` (float32), used to map sigmas back to timesteps. */
  readonly logSigmas: Float32Array;
  /** λ(t) = log α_t − log σ_t with α_t = √ᾱ, σ_t = √(1 − ᾱ), float32 (for `lambda_min_clipped`). */
  readonly lambdas: Float32Array;
}

/**
 * Builds ᾱ and the derived arrays as diffusers' DPM-family `__init__` does: betas from the config,
 * optionally rescaled to zero terminal SNR (then ᾱ[-1] = 2^-24 so the first sigma is finite).
 */
export function vpSchedule(className: string, config: SchedulerConfig): VpSchedule {
  checkBetaConfig(className, config);
  const [alphasCumprod, sigmas, logSigmas, lambdas] = memoArrays(
    betaScheduleKey('vp', className, config, null),
    () => {
      let betas = betasFromConfig(className, config);
      if (config.rescale_betas_zero_snr === true) betas = rescaleZeroTerminalSnr(betas);
      const alphasCumprod = alphasCumprodFromBetas(betas);
      if (config.rescale_betas_zero_snr === true) alphasCumprod[alphasCumprod.length - 1] = 2 ** -24;
      const n = alphasCumprod.length;
      const sigmas = new Float32Array(n);
      const logSigmas = new Float32Array(n);
      const lambdas = new Float32Array(n);
      for (let i = 0; i < n; i++) {
        const a = alphasCumprod[i]!;
        const oneMinus = fround(1 - a);
        sigmas[i] = Math.sqrt(fround(oneMinus / a));
        logSigmas[i] = Math.log(sigmas[i]!);
        lambdas[i] = fround(
          fround(Math.log(fround(Math.sqrt(a)))) - fround(Math.log(fround(Math.sqrt(oneMinus)))),
        );
      }
      return [alphasCumprod, sigmas, logSigmas, lambdas];
    },
  );
  return { alphasCumprod: alphasCumprod!, sigmas: sigmas!, logSigmas: logSigmas!, lambdas: lambdas! };
}

/**
 * `torch.searchsorted(torch.flip(lambda_t), lambda_min_clipped)`: how many of the (ascending, flipped)
 * λ values are below the clip. diffusers then stops the schedule `clipped_idx` steps before the end.
 */
export function clippedIndex(lambdas: Float32Array, lambdaMinClipped: number): number {
  if (lambdaMinClipped === -Infinity) return 0;
  const v = fround(lambdaMinClipped);
  let count = 0;
  for (let i = lambdas.length - 1; i >= 0; i--) {
    if (lambdas[i]! < v) count++;
    else break;
  }
  return count;
}

/** `torch.int64` of a float64 numpy timestep: truncation toward zero. */
export function toInt64(t: number): number {
  return Math.trunc(t);
}

/** VP σ → (α_t, σ_t) in float32: α_t = 1/√(σ² + 1), σ_t = σ·α_t (diffusers' `_sigma_to_alpha_sigma_t`). */
export function alphaSigma(sigma: number): [number, number] {
  const alpha = fround(1 / fround(Math.sqrt(fround(fround(sigma * sigma) + 1))));
  return [alpha, fround(sigma * alpha)];
}

/** λ = log α − log σ in float32. */
export function lambdaOf(alpha: number, sigmaT: number): number {
  return fround(fround(Math.log(alpha)) - fround(Math.log(sigmaT)));
}

/** Checks `step`'s tensors: same shape for model output and sample (unless `modelChannels` differ). */
export function checkStepShapes(className: string, modelOutput: Tensor, sample: Tensor): void {
  const a = modelOutput.shape;
  const b = sample.shape;
  if (a.length !== b.length || a.some((d, i) => d !== b[i])) {
    throw new ShapeMismatchError({
      name: `${className}.step modelOutput`,
      value: a,
      expected: `the sample's shape [${b.join(', ')}]`,
      fix: 'pass the denoiser output for this sample (after classifier-free guidance)',
    });
  }
}

/** The error of `step` before `setTimesteps`. */
export function notReadyError(className: string): InvalidArgumentError {
  return new InvalidArgumentError({
    name: `${className}.step`,
    value: 'called before setTimesteps',
    expected: 'setTimesteps(numInferenceSteps) to be called first',
    fix: 'call scheduler.setTimesteps(n) before the denoising loop',
  });
}

/**
 * diffusers' `_init_step_index`: the begin index if set, else the position of `timestep` in the
 * schedule (its second occurrence if it repeats). A timestep that is not in the schedule is an error
 * here (diffusers silently takes the last index).
 */
export function initialStepIndex(
  className: string,
  timesteps: readonly number[],
  timestep: number,
  beginIndex: number | null,
): number {
  if (beginIndex !== null) return beginIndex;
  const t = Math.fround(timestep);
  let first = -1;
  for (let i = 0; i < timesteps.length; i++) {
    if (Math.fround(timesteps[i]!) === t) {
      if (first >= 0) return i;
      first = i;
    }
  }
  if (first < 0) {
    throw new InvalidArgumentError({
      name: `${className}.step timestep`,
      value: timestep,
      expected: `one of the scheduler's timesteps (${formatList(timesteps)})`,
      fix: 'pass the values of scheduler.timesteps in order',
    });
  }
  return first;
}

function formatList(values: readonly number[]): string {
  return values.length <= 8 ? values.join(', ') : `${values.slice(0, 8).join(', ')}, …`;
}

/** Checks `setBeginIndex`. */
export function checkBeginIndex(className: string, index: number): void {
  if (!Number.isInteger(index) || index < 0) {
    throw new InvalidArgumentError({
      name: `${className}.setBeginIndex index`,
      value: index,
      expected: 'a non-negative integer',
    });
  }
}

/**
 * The step indices `add_noise` uses for each timestep: `index_for_timestep` when no begin index is
 * set, else the current step index (inpainting, after the first step) or the begin index (img2img).
 */
export function addNoiseIndex(
  className: string,
  timesteps: readonly number[],
  timestep: number,
  beginIndex: number | null,
  stepIndex: number | null,
): number {
  if (beginIndex === null) return initialStepIndex(className, timesteps, timestep, null);
  return stepIndex ?? beginIndex;
}

/** VP `add_noise`: α_t·x + σ_t·ε with (α_t, σ_t) from the step's sigma, each op rounded to float32. */
export function addNoiseVp(original: Tensor, noise: Tensor, sigma: number, className: string): Float32Array {
  checkNoiseShapes(className, original, noise);
  const [alpha, sigmaT] = alphaSigma(sigma);
  const x = original.data;
  const e = noise.data;
  const out = new Float32Array(x.length);
  for (let i = 0; i < out.length; i++) out[i] = fround(alpha * x[i]!) + fround(sigmaT * e[i]!);
  return out;
}

/** Checks `addNoise`'s tensors have one shape. */
export function checkNoiseShapes(className: string, original: Tensor, noise: Tensor): void {
  const a = original.shape;
  const b = noise.shape;
  if (a.length !== b.length || a.some((d, i) => d !== b[i])) {
    throw new ShapeMismatchError({
      name: `${className}.addNoise noise`,
      value: b,
      expected: `the original's shape [${a.join(', ')}]`,
    });
  }
}

/**
 * Solves `A x = b` (n ≤ 4) by Gaussian elimination with partial pivoting in float32, as
 * `torch.linalg.solve` (LAPACK sgesv) does for UniPC's small systems.
 */
export function solveFloat32(matrix: number[][], rhs: number[]): number[] {
  const n = rhs.length;
  const a = matrix.map((row) => row.map(fround));
  const b = rhs.map(fround);
  for (let k = 0; k < n; k++) {
    let p = k;
    for (let i = k + 1; i < n; i++) if (Math.abs(a[i]![k]!) > Math.abs(a[p]![k]!)) p = i;
    if (p !== k) {
      [a[k], a[p]] = [a[p]!, a[k]!];
      [b[k], b[p]] = [b[p]!, b[k]!];
    }
    const pivot = a[k]![k]!;
    for (let i = k + 1; i < n; i++) {
      const l = fround(a[i]![k]! / pivot);
      for (let j = k + 1; j < n; j++) a[i]![j] = fround(a[i]![j]! - fround(l * a[k]![j]!));
      b[i] = fround(b[i]! - fround(l * b[k]!));
    }
  }
  const x = new Array<number>(n).fill(0);
  for (let i = n - 1; i >= 0; i--) {
    let s = b[i]!;
    for (let j = i + 1; j < n; j++) s = fround(s - fround(a[i]![j]! * x[j]!));
    x[i] = fround(s / a[i]![i]!);
  }
  return x;
}

/** `model_output[:, :k]`: the first `k` channels (the mean of a learned-variance output). */
export function firstChannels(
  className: string,
  modelOutput: Tensor,
  sample: Tensor,
  k: number,
): Float32Array {
  const [b, ch, ...rest] = modelOutput.shape;
  const inner = rest.reduce((p, d) => p * d, 1);
  if (sample.shape[1] !== k || ch === undefined || ch < k || sample.shape[0] !== b) {
    throw new ShapeMismatchError({
      name: `${className}.step modelOutput`,
      value: modelOutput.shape,
      expected: `[batch, ≥${k}, …] with a ${k}-channel sample (variance_type learned keeps model_output[:, :${k}])`,
    });
  }
  const out = new Float32Array(b! * k * inner);
  for (let i = 0; i < b!; i++) {
    out.set(modelOutput.data.subarray(i * ch * inner, (i * ch + k) * inner), i * k * inner);
  }
  return out;
}

/**
 * The integer timesteps of converted (Karras / exponential / beta / Lu-λ) sigmas: `_sigma_to_t` of each,
 * rounded half to even where `round` (diffusers rounds only some branches), then cast to int64.
 */
export function timestepsForSigmas(
  sigmas: ArrayLike<number>,
  logSigmas: Float32Array,
  round: boolean,
): number[] {
  return Array.from(sigmas, (s) =>
    toInt64(round ? roundHalfEven(sigmaToT(s, logSigmas)) : sigmaToT(s, logSigmas)),
  );
}

/** Dynamic thresholding settings of a DPM-family config, with the batch size of the sample. */
export interface VpThreshold {
  /** The batch size (first dimension), for per-item thresholding. */
  readonly batch: number;
  /** `dynamic_thresholding_ratio`. */
  readonly ratio: number;
  /** `sample_max_value`. */
  readonly maxValue: number;
}

/** The thresholding a DPM-family config asks for (`thresholding: true`), or null. */
export function vpThreshold(config: SchedulerConfig, sample: Tensor): VpThreshold | null {
  if (config.thresholding !== true) return null;
  return {
    batch: sample.shape[0]!,
    ratio: config.dynamic_thresholding_ratio as number,
    maxValue: config.sample_max_value as number,
  };
}

/** x₀ from the sample `s` and model output `mo` at (α_t, σ_t), per prediction type, into `out` (float32 per op). */
export function vpDataPrediction(
  predictionType: unknown,
  s: Float32Array,
  mo: Float32Array,
  alpha: number,
  sigmaT: number,
  out: Float32Array,
): Float32Array {
  if (predictionType === 'epsilon') {
    if (runStepKernel('vpx0', [s, mo], [out], [sigmaT, alpha])) return out;
    for (let i = 0; i < out.length; i++) out[i] = fround(s[i]! - fround(sigmaT * mo[i]!)) / alpha;
  } else if (predictionType === 'sample') {
    out.set(mo);
  } else {
    for (let i = 0; i < out.length; i++) out[i] = fround(alpha * s[i]!) - fround(sigmaT * mo[i]!);
  }
  return out;
}

/** ε = (x − α_t·x₀)/σ_t from a data prediction `x0`, into `out` (may be `x0` itself). */
export function noiseFromData(
  s: Float32Array,
  x0: Float32Array,
  alpha: number,
  sigmaT: number,
  out: Float32Array,
): Float32Array {
  for (let i = 0; i < out.length; i++) out[i] = fround(s[i]! - fround(alpha * x0[i]!)) / sigmaT;
  return out;
}

/**
 * diffusers' `convert_model_output` of the VP DPM family at the step's sigma: the x₀ prediction
 * (`predictX0`, thresholded if `threshold` is given) or the ε prediction (with `threshold`, the implied
 * x₀ is thresholded and turned back into ε).
 */
export function convertVpModelOutput(
  predictionType: unknown,
  predictX0: boolean,
  s: Float32Array,
  mo: Float32Array,
  sigma: number,
  threshold: VpThreshold | null,
): Float32Array {
  const [alpha, sigmaT] = alphaSigma(sigma);
  const out = new Float32Array(s.length);
  if (predictX0) {
    vpDataPrediction(predictionType, s, mo, alpha, sigmaT, out);
    if (threshold) thresholdSampleInPlace(out, threshold.batch, threshold.ratio, threshold.maxValue);
    return out;
  }
  if (predictionType === 'epsilon') out.set(mo);
  else if (predictionType === 'sample') {
    for (let i = 0; i < out.length; i++) out[i] = fround(s[i]! - fround(alpha * mo[i]!)) / sigmaT;
  } else {
    for (let i = 0; i < out.length; i++) out[i] = fround(alpha * mo[i]!) + fround(sigmaT * s[i]!);
  }
  if (threshold) {
    // Threshold the implied x₀, then turn it back into ε.
    const x0 = new Float32Array(out.length);
    for (let i = 0; i < out.length; i++) x0[i] = fround(s[i]! - fround(sigmaT * out[i]!)) / alpha;
    thresholdSampleInPlace(x0, threshold.batch, threshold.ratio, threshold.maxValue);
    noiseFromData(s, x0, alpha, sigmaT, out);
  }
  return out;
}
