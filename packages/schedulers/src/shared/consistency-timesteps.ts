import { InvalidArgumentError } from '@latentkit/core';
import { alphaScheduleFromConfig } from './alphas.js';
import { booleanKey, integerKey, numberKey, oneOf, type SchedulerConfig } from './config.js';
import { linspace } from './numpy.js';
import { PREDICTION_TYPES, type PredictionType } from './prediction.js';
import { TIMESTEP_SPACINGS } from './timestep-spacing.js';

/** What the LCM/TCD constructors derive from their (validated) config. */
export interface ConsistencySetup {
  /** `num_train_timesteps`. */
  trainSteps: number;
  /** The validated prediction type. */
  predictionType: PredictionType;
  /** β_t, float32. */
  betas: Float32Array;
  /** ᾱ_t, float32. */
  alphasCumprod: Float32Array;
  /** ᾱ for a previous timestep below 0: 1 with `set_alpha_to_one`, else ᾱ_0. */
  finalAlphaCumprod: number;
}

/**
 * Validates the config keys LCM and TCD share (a null `original_inference_steps` passes: TCD allows it)
 * and builds their alpha schedule.
 */
export function consistencySetup(className: string, c: SchedulerConfig): ConsistencySetup {
  const trainSteps = integerKey(className, c, 'num_train_timesteps', 1);
  if (c.original_inference_steps !== null) integerKey(className, c, 'original_inference_steps', 1);
  integerKey(className, c, 'steps_offset');
  for (const key of [
    'beta_start',
    'beta_end',
    'clip_sample_range',
    'dynamic_thresholding_ratio',
    'sample_max_value',
    'timestep_scaling',
  ]) {
    numberKey(className, c, key, key === 'sample_max_value' || key === 'clip_sample_range');
  }
  for (const key of ['clip_sample', 'set_alpha_to_one', 'thresholding', 'rescale_betas_zero_snr']) {
    booleanKey(className, c, key);
  }
  const predictionType = oneOf(className, 'prediction_type', c.prediction_type, PREDICTION_TYPES);
  oneOf(className, 'timestep_spacing', c.timestep_spacing, TIMESTEP_SPACINGS);
  const { betas, alphasCumprod } = alphaScheduleFromConfig(className, c);
  const finalAlphaCumprod = c.set_alpha_to_one ? 1 : alphasCumprod[0]!;
  return { trainSteps, predictionType, betas, alphasCumprod, finalAlphaCumprod };
}

/** Options of the LCM/TCD `setTimesteps`. */
export interface ConsistencySetTimestepsOptions {
  /** A custom descending list of integer timesteps (diffusers' `timesteps=`). */
  timesteps?: readonly number[];
  /** Overrides the config's `original_inference_steps` (the distillation schedule's length). */
  originalInferenceSteps?: number;
  /** img2img strength in (0, 1]: only the first `strength` of the distillation schedule is used. */
  strength?: number;
}

/** The schedule state LCM/TCD `setTimesteps` sets. */
export interface ConsistencySchedule {
  /** The inference timesteps, descending. */
  timesteps: number[];
  /** The number of inference steps (a custom list's length). */
  numInferenceSteps: number;
  /** Whether the schedule is a custom `timesteps` list. */
  customTimesteps: boolean;
}

/**
 * The whole LCM/TCD `setTimesteps`: resolves `original_inference_steps` (the option overrides the config),
 * builds the timesteps with {@link consistencyTimesteps} and counts the steps.
 */
export function consistencySchedule(
  className: string,
  config: { num_train_timesteps: number; original_inference_steps: number | null },
  numInferenceSteps: number | undefined,
  options: ConsistencySetTimestepsOptions,
): ConsistencySchedule {
  const original = options.originalInferenceSteps ?? config.original_inference_steps;
  const timesteps = consistencyTimesteps(
    className,
    config.num_train_timesteps,
    numInferenceSteps,
    original,
    options,
  );
  const customTimesteps = options.timesteps !== undefined;
  return {
    timesteps,
    numInferenceSteps: customTimesteps ? options.timesteps!.length : (numInferenceSteps as number),
    customTimesteps,
  };
}

/**
 * The LCM/TCD inference timesteps (diffusers' `set_timesteps`): the distillation schedule
 * `k·i − 1` for i = 1 … ⌊original·strength⌋ with k = T // original (or, with no original step count, every
 * timestep below T·strength), reversed, and `n` of them picked at `floor(linspace(0, len, n, endpoint=False))`.
 * A custom list must descend, start below T, and is cut to its last ⌊len·strength⌋ entries.
 */
export function consistencyTimesteps(
  className: string,
  trainSteps: number,
  numInferenceSteps: number | undefined,
  originalSteps: number | null,
  options: ConsistencySetTimestepsOptions,
): number[] {
  const strength = options.strength ?? 1;
  const name = `${className}.setTimesteps`;
  if (!(strength > 0 && strength <= 1)) {
    throw new InvalidArgumentError({
      name: `${name} strength`,
      value: strength,
      expected: 'a number in (0, 1]',
    });
  }
  if (options.timesteps === undefined && numInferenceSteps === undefined) {
    throw new InvalidArgumentError({
      name,
      value: undefined,
      expected: 'exactly one of numInferenceSteps or options.timesteps',
    });
  }
  let origin: number[];
  if (originalSteps !== null) {
    if (!Number.isInteger(originalSteps) || originalSteps < 1 || originalSteps > trainSteps) {
      throw new InvalidArgumentError({
        name: `${name} original_inference_steps`,
        value: originalSteps,
        expected: `an integer from 1 to num_train_timesteps (${trainSteps})`,
      });
    }
    const k = Math.floor(trainSteps / originalSteps);
    origin = Array.from({ length: Math.floor(originalSteps * strength) }, (_, i) => (i + 1) * k - 1);
  } else {
    origin = Array.from({ length: Math.floor(trainSteps * strength) }, (_, i) => i);
  }

  const custom = options.timesteps;
  if (custom !== undefined) {
    if (
      numInferenceSteps !== undefined &&
      numInferenceSteps !== null &&
      numInferenceSteps !== custom.length
    ) {
      throw new InvalidArgumentError({
        name,
        value: numInferenceSteps,
        expected: 'only one of numInferenceSteps or options.timesteps',
      });
    }
    if (custom.length === 0 || !custom.every((t) => Number.isInteger(t) && t >= 0)) {
      throw new InvalidArgumentError({
        name: `${name} options.timesteps`,
        value: custom,
        expected: 'a non-empty list of non-negative integer timesteps',
      });
    }
    for (let i = 1; i < custom.length; i++) {
      if (custom[i]! >= custom[i - 1]!) {
        throw new InvalidArgumentError({
          name: `${name} options.timesteps`,
          value: custom,
          expected: 'timesteps in descending order',
        });
      }
    }
    if (custom[0]! >= trainSteps) {
      throw new InvalidArgumentError({
        name: `${name} options.timesteps[0]`,
        value: custom[0],
        expected: `a timestep below num_train_timesteps (${trainSteps})`,
      });
    }
    const count = custom.length;
    const init = Math.min(Math.floor(count * strength), count);
    return custom.slice(Math.max(count - init, 0));
  }

  const n = numInferenceSteps as number;
  if (!Number.isInteger(n) || n < 1 || n > trainSteps) {
    throw new InvalidArgumentError({
      name: `${name} numInferenceSteps`,
      value: n,
      expected: `an integer from 1 to num_train_timesteps (${trainSteps})`,
    });
  }
  if (Math.floor(origin.length / n) < 1) {
    throw new InvalidArgumentError({
      name: `${name} numInferenceSteps`,
      value: n,
      expected: `at most original_inference_steps × strength (${origin.length}) steps`,
    });
  }
  if (originalSteps !== null && n > originalSteps) {
    throw new InvalidArgumentError({
      name: `${name} numInferenceSteps`,
      value: n,
      expected: `at most original_inference_steps (${originalSteps})`,
    });
  }
  const reversed = origin.reverse();
  return Array.from(linspace(0, reversed.length, n, false), (i) => reversed[Math.floor(i)]!);
}
