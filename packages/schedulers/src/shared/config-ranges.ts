import { InvalidArgumentError } from '@latentkit/core';

/**
 * The largest `num_train_timesteps` a config may ask for. Every diffusers model uses 1000; the schedule
 * is allocated from it (betas, ᾱ, sigmas, timesteps), so a bound checked before any allocation keeps a
 * bad config from exhausting memory (`3e8` aborted V8).
 */
export const MAX_TRAIN_TIMESTEPS = 100_000;

/** The range a numeric config key must lie in. */
interface NumericRange {
  /** Integers only. */
  readonly integer?: boolean;
  /** Lower bound. */
  readonly min?: number;
  /** The lower bound itself is not allowed. */
  readonly minExclusive?: boolean;
  /** Upper bound. */
  readonly max?: number;
  /** The upper bound itself is not allowed. */
  readonly maxExclusive?: boolean;
  /** ±Infinity allowed (diffusers uses `float("inf")` / `-inf` for some keys); NaN never is. */
  readonly infinite?: boolean;
  /** How to fix a bad value. */
  readonly fix: string;
}

/**
 * Numeric config keys shared by several schedulers and the ranges outside which the schedule or the
 * step turns into NaN/Infinity (or a huge allocation). `null` is no error for any of them (the default,
 * or "unset" where diffusers' default is `None`). `beta_start`, `beta_end` and `trained_betas` are
 * checked where the betas are built (they matter only when used; see `betasFromConfig`).
 */
const RANGES: Readonly<Record<string, NumericRange>> = {
  num_train_timesteps: {
    integer: true,
    min: 1,
    max: MAX_TRAIN_TIMESTEPS,
    fix: "use the model's own value (1000 for every Stable Diffusion model)",
  },
  steps_offset: { integer: true, min: 0, fix: 'use 0, or 1 as Stable Diffusion 1.x/2.x configs do' },
  original_inference_steps: {
    integer: true,
    min: 1,
    fix: 'use 50, the value LCM and TCD models are distilled with',
  },
  solver_order: { integer: true, min: 1, max: 3, fix: 'use 2 (guided sampling) or 3 (unconditional)' },
  sigma_min: {
    min: 0,
    minExclusive: true,
    fix: 'use a small positive number such as 0.002, or null for the default',
  },
  sigma_max: { min: 0, minExclusive: true, fix: 'use a positive number such as 80, or null for the default' },
  sigma_data: { min: 0, minExclusive: true, fix: 'use 0.5, the EDM default' },
  rho: { min: 0, minExclusive: true, fix: 'use 7, the Karras et al. default' },
  shift: { min: 0, minExclusive: true, fix: "use 1 (no shift) or the model's value (e.g. 3 for SD3)" },
  flow_shift: { min: 0, minExclusive: true, fix: 'use 1 (no shift)' },
  base_shift: { fix: "use the model's value (0.5 by default)" },
  max_shift: { fix: "use the model's value (1.15 by default)" },
  base_image_seq_len: { integer: true, min: 1, fix: "use the model's value (256 by default)" },
  max_image_seq_len: { integer: true, min: 1, fix: "use the model's value (4096 by default)" },
  shift_terminal: {
    max: 1,
    maxExclusive: true,
    fix: "use null (no stretching) or the model's value, a number below 1",
  },
  timestep_scaling: { fix: 'use 10, the LCM default' },
  dynamic_thresholding_ratio: {
    min: 0,
    max: 1,
    fix: 'use a quantile ratio in [0, 1] such as 0.995',
  },
  sample_max_value: { min: 0, minExclusive: true, infinite: true, fix: 'use a positive number such as 1.0' },
  clip_sample_range: { min: 0, minExclusive: true, infinite: true, fix: 'use a positive number such as 1.0' },
  lambda_min_clipped: { infinite: true, fix: 'use -Infinity (no clipping) or a finite number such as -5.1' },
};

function describeRange(range: NumericRange): string {
  const kind = range.integer ? 'an integer' : range.infinite ? 'a number (not NaN)' : 'a finite number';
  const parts: string[] = [];
  if (range.min !== undefined) parts.push(`${range.minExclusive ? '>' : '≥'} ${range.min}`);
  if (range.max !== undefined) parts.push(`${range.maxExclusive ? '<' : '≤'} ${range.max}`);
  return parts.length > 0 ? `${kind} ${parts.join(' and ')}` : kind;
}

/** Whether `value` satisfies `range`. */
function inRange(value: unknown, range: NumericRange): boolean {
  if (typeof value !== 'number' || Number.isNaN(value)) return false;
  if (!range.infinite && !Number.isFinite(value)) return false;
  if (range.integer && !Number.isInteger(value)) return false;
  if (range.min !== undefined && (range.minExclusive ? !(value > range.min) : !(value >= range.min)))
    return false;
  if (range.max !== undefined && (range.maxExclusive ? !(value < range.max) : !(value <= range.max)))
    return false;
  return true;
}

/**
 * Checks the numeric keys of a resolved config that the class knows (`ownKeys`) against the ranges
 * outside which diffusers' arithmetic gives NaN, Infinity or an allocation of billions of elements.
 * Keys a class does not use are carried along unchecked, as diffusers ignores them.
 *
 * @throws InvalidArgumentError naming the key, its value, the range, and a fix.
 */
export function checkConfigRanges(
  className: string,
  config: Readonly<Record<string, unknown>>,
  ownKeys: readonly string[],
): void {
  for (const key of ownKeys) {
    const range = RANGES[key];
    const value = config[key];
    if (!range || value === null || value === undefined) continue;
    if (!inRange(value, range)) {
      throw new InvalidArgumentError({
        name: `${className} config ${key}`,
        value,
        expected: describeRange(range),
        fix: range.fix,
      });
    }
  }
  const T = config.num_train_timesteps;
  const offset = config.steps_offset;
  if (
    typeof T === 'number' &&
    typeof offset === 'number' &&
    ownKeys.includes('steps_offset') &&
    offset >= T
  ) {
    throw new InvalidArgumentError({
      name: `${className} config steps_offset`,
      value: offset,
      expected: `less than num_train_timesteps (${T}): every timestep would be past the last training timestep`,
      fix: 'use 0, or 1 as Stable Diffusion 1.x/2.x configs do',
    });
  }
  const original = config.original_inference_steps;
  if (
    typeof T === 'number' &&
    typeof original === 'number' &&
    ownKeys.includes('original_inference_steps') &&
    original > T
  ) {
    throw new InvalidArgumentError({
      name: `${className} config original_inference_steps`,
      value: original,
      expected: `at most num_train_timesteps (${T})`,
      fix: 'use 50, the value LCM and TCD models are distilled with',
    });
  }
  const lo = config.sigma_min;
  const hi = config.sigma_max;
  if (typeof lo === 'number' && typeof hi === 'number' && ownKeys.includes('sigma_min') && !(lo < hi)) {
    throw new InvalidArgumentError({
      name: `${className} config sigma_min`,
      value: lo,
      expected: `less than sigma_max (${hi})`,
      fix: 'swap them, or use the defaults (null)',
    });
  }
}
