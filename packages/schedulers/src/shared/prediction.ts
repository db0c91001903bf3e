import { InvalidArgumentError, NotImplementedError } from '@latentkit/core';
import { runStepKernel } from './step-wasm.js';
import { thresholdSampleInPlace } from './thresholding.js';

/** What the denoiser predicts: the noise ε, the velocity v (Salimans & Ho 2022), or the clean sample x₀. */
export const PREDICTION_TYPES = ['epsilon', 'v_prediction', 'sample'] as const;

/** One of {@link PREDICTION_TYPES}. */
export type PredictionType = (typeof PREDICTION_TYPES)[number];

/** How x₀ is kept in range after it is predicted: diffusers' `thresholding` / `clip_sample` settings. */
export interface X0Clipping {
  /** Dynamic thresholding (`thresholding: true`) with its ratio and max value; takes precedence over `clipRange`. */
  readonly threshold?: { readonly ratio: number; readonly maxValue: number } | undefined;
  /** `clip_sample_range` when `clip_sample` is on. */
  readonly clipRange?: number | undefined;
}

/**
 * The DDPM family's x₀ (and, where asked for, ε) from a model output at ᾱ_t, elementwise in float32 as
 * diffusers computes them (√ᾱ and √(1−ᾱ) given as float32 `sqrtAlpha`, `sqrtBeta`):
 * - epsilon: x₀ = (x − √(1−ᾱ)·out)/√ᾱ, ε = out;
 * - sample: x₀ = out, ε = (x − √ᾱ·x₀)/√(1−ᾱ);
 * - v_prediction: x₀ = √ᾱ·x − √(1−ᾱ)·out, ε = √ᾱ·out + √(1−ᾱ)·x.
 * ε is computed from x₀ before clipping, as diffusers does. Then x₀ is thresholded or clipped.
 *
 * @param batch - the batch size (first dimension), for per-item thresholding.
 * @param eps - where to write ε, or null when the caller does not need it.
 */
export function predictOriginal(
  type: PredictionType,
  sqrtAlpha: number,
  sqrtBeta: number,
  model: Float32Array,
  sample: Float32Array,
  x0: Float32Array,
  eps: Float32Array | null,
  batch: number,
  clipping: X0Clipping,
): void {
  const fr = Math.fround;
  const n = x0.length;
  const sa = sqrtAlpha;
  const sb = sqrtBeta;
  if (type === 'epsilon') {
    if (!runStepKernel('vpx0', [sample, model], [x0], [sb, sa])) {
      for (let i = 0; i < n; i++) x0[i] = fr(sample[i]! - fr(sb * model[i]!)) / sa;
    }
    if (eps) eps.set(model);
  } else if (type === 'sample') {
    x0.set(model);
    if (eps) for (let i = 0; i < n; i++) eps[i] = fr(sample[i]! - fr(sa * model[i]!)) / sb;
  } else {
    for (let i = 0; i < n; i++) {
      const x = sample[i]!;
      const m = model[i]!;
      x0[i] = fr(sa * x) - fr(sb * m);
      if (eps) eps[i] = fr(sa * m) + fr(sb * x);
    }
  }
  if (clipping.threshold) {
    thresholdSampleInPlace(x0, batch, clipping.threshold.ratio, clipping.threshold.maxValue);
  } else if (clipping.clipRange !== undefined) {
    // torch.clamp casts its scalar bounds to float32.
    const r = fr(clipping.clipRange);
    for (let i = 0; i < n; i++) {
      const v = x0[i]!;
      x0[i] = v < -r ? -r : Math.min(v, r);
    }
  }
}

/** The x₀ clipping a DDIM/DDPM/LCM-style config asks for. */
export function clippingFromConfig(config: Readonly<Record<string, unknown>>): X0Clipping {
  if (config.thresholding === true) {
    return {
      threshold: {
        ratio: config.dynamic_thresholding_ratio as number,
        maxValue: config.sample_max_value as number,
      },
    };
  }
  return config.clip_sample === true ? { clipRange: config.clip_sample_range as number } : {};
}

/** Throws a typed error when `step` is called before `setTimesteps`. */
export function notReadyError(className: string): InvalidArgumentError {
  return new InvalidArgumentError({
    name: `${className}.step`,
    value: 'called before setTimesteps',
    expected: 'setTimesteps(numInferenceSteps) to be called first',
    fix: `call scheduler.setTimesteps(n) before the denoising loop`,
  });
}

/** Throws a typed error for a timestep that is not an integer training timestep. */
export function checkTrainTimestep(
  className: string,
  method: string,
  timestep: number,
  trainSteps: number,
): void {
  if (!Number.isInteger(timestep) || timestep < 0 || timestep >= trainSteps) {
    throw new InvalidArgumentError({
      name: `${className}.${method} timestep`,
      value: timestep,
      expected: `an integer timestep from 0 to ${trainSteps - 1}`,
      fix: 'pass one of scheduler.timesteps',
    });
  }
}

/** Throws a typed error for a timestep that is not in the current schedule. */
export function notInScheduleError(
  className: string,
  timestep: number,
  timesteps: readonly number[],
): InvalidArgumentError {
  const shown = timesteps.length > 12 ? [...timesteps.slice(0, 12), '…'] : timesteps;
  return new InvalidArgumentError({
    name: `${className}.step timestep`,
    value: timestep,
    expected: `one of scheduler.timesteps [${shown.join(', ')}]`,
    fix: 'pass the timesteps of scheduler.timesteps, in order',
  });
}

/** The error for a feature diffusers has that latentkit does not. */
export function notImplemented(className: string, what: string): NotImplementedError {
  return new NotImplementedError(`${className}: ${what} is not implemented.`);
}
