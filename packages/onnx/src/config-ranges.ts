import { formatValue, ModelInvalidError } from '@latentkit/core';
import type { ConfigObject } from './model-configs.js';

/** Where a config value comes from, for messages: the file in the folder and the folder. */
export interface ConfigFile {
  /** The file, relative to the model folder, e.g. `unet/config.json`. */
  readonly file: string;
  /** The model folder or URL. */
  readonly location: string;
}

/** The range a numeric config value must lie in, and how to fix a value outside it. */
export interface ConfigRange {
  /** Whole numbers only. */
  readonly integer?: boolean;
  /** The smallest allowed value. */
  readonly min: number;
  /** The smallest value is itself refused (`> min` rather than `≥ min`). */
  readonly minExclusive?: boolean;
  /** The largest allowed value. */
  readonly max: number;
  /** What the value usually is, for the fix, e.g. `0.18215 for Stable Diffusion 1.x/2.x`. */
  readonly usual: string;
}

/**
 * The error for a config value outside its range: names the file, the folder, the key, the value, what
 * was expected and the fix.
 */
export function configValueError(
  where: ConfigFile,
  key: string,
  value: unknown,
  expected: string,
  fix: string,
): ModelInvalidError {
  return new ModelInvalidError(
    `${where.file} in ${where.location}: "${key}" = ${formatValue(value)} is invalid: expected ${expected}. Fix: ${fix}`,
  );
}

function describeRange(range: ConfigRange): string {
  const kind = range.integer ? 'an integer' : 'a finite number';
  if (range.minExclusive) return `${kind} greater than ${range.min} and at most ${range.max}`;
  return `${kind} from ${range.min} to ${range.max}`;
}

function inRange(value: number, range: ConfigRange): boolean {
  if (!Number.isFinite(value) || (range.integer && !Number.isInteger(value))) return false;
  if (range.minExclusive ? value <= range.min : value < range.min) return false;
  return value <= range.max;
}

/**
 * A number from a config, checked against its range; `undefined` when the key is absent or `null`.
 *
 * @throws {@link @latentkit/core!ModelInvalidError} naming the file, key, value, range and fix when the
 *   value is not a number or lies outside the range (NaN and ±Infinity included).
 */
export function rangedConfigNumber(
  config: ConfigObject | undefined,
  key: string,
  where: ConfigFile,
  range: ConfigRange,
): number | undefined {
  const value = config?.[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'number' && inRange(value, range)) return value;
  throw configValueError(
    where,
    key,
    value,
    describeRange(range),
    `correct the file (the usual value is ${range.usual}), or re-export the model`,
  );
}

/**
 * A list of integers from a config (such as `block_out_channels`), each in `range`, with 1 to `maxLength`
 * entries; `undefined` when the key is absent or `null`.
 *
 * @throws {@link @latentkit/core!ModelInvalidError} naming the file, key and value otherwise.
 */
export function rangedConfigList(
  config: ConfigObject | undefined,
  key: string,
  where: ConfigFile,
  range: ConfigRange,
  maxLength: number,
): readonly number[] | undefined {
  const value = config?.[key];
  if (value === undefined || value === null) return undefined;
  if (
    Array.isArray(value) &&
    value.length >= 1 &&
    value.length <= maxLength &&
    value.every((v) => typeof v === 'number' && inRange(v, range))
  ) {
    return value as number[];
  }
  throw configValueError(
    where,
    key,
    value,
    `a list of 1 to ${maxLength} entries, each ${describeRange(range)}`,
    `correct the file (the usual value is ${range.usual}), or re-export the model`,
  );
}
