import { InvalidArgumentError } from '@latentkit/core';
import { checkConfigRanges } from './config-ranges.js';

/** A diffusers scheduler config: snake_case keys, as in `scheduler_config.json`. */
export type SchedulerConfig = Readonly<Record<string, unknown>>;

/**
 * Reads a number that a JSON round trip may have turned into a string: Python's `json` writes
 * `float('-inf')` as `-Infinity`, which some JSON readers keep as the string "-Infinity".
 */
function numberFromJson(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  const text = value.trim();
  if (text === 'Infinity' || text === '+Infinity' || text === 'inf') return Number.POSITIVE_INFINITY;
  if (text === '-Infinity' || text === '-inf') return Number.NEGATIVE_INFINITY;
  if (text === 'NaN' || text === 'nan') return Number.NaN;
  return value;
}

/**
 * A scheduler's resolved config: its own keys `T` with defaults filled in, `_class_name`, and whatever
 * other keys the given config carried (see {@link resolveConfig}).
 */
export type ResolvedConfig<T> = T & { _class_name: string } & { readonly [key: string]: unknown };

/**
 * Fills a scheduler's defaults from a diffusers config object — the one config rule of every scheduler
 * class here. Keys the scheduler does not know are not an error, and they are carried along unchanged,
 * as diffusers' `from_config` registers them as hidden config: so one scheduler's config can build
 * another, and `A.fromConfig(B.fromConfig(cfg).config)` keeps every key of `cfg` through any chain of
 * classes (a DPM-Solver's `final_sigmas_type` survives a trip through DEIS or Euler). For the keys the
 * scheduler knows, `null` or `undefined` means "use the default"; where the default is a number, the
 * strings "Infinity", "-Infinity" and "NaN" (how Python writes them into JSON) are read as numbers.
 * `_class_name` is set to `className`. The numeric keys the class knows are checked against the ranges
 * outside which the schedule would be NaN or huge (see `checkConfigRanges`), before anything is allocated.
 *
 * @throws InvalidArgumentError naming the key, the value, the expected range and a fix.
 */
export function resolveConfig<T extends Record<string, unknown>>(
  className: string,
  defaults: T,
  given: Readonly<Record<string, unknown>> = {},
): ResolvedConfig<T> {
  if (given === null || typeof given !== 'object' || Array.isArray(given)) {
    throw new InvalidArgumentError({
      name: `${className}.fromConfig config`,
      value: given,
      expected: 'a scheduler_config.json object',
    });
  }
  const out: Record<string, unknown> = {};
  // Unknown keys first (hidden config), then this class's keys with its defaults.
  for (const key of Object.keys(given)) {
    if (!(key in defaults) && given[key] !== undefined) out[key] = given[key];
  }
  Object.assign(out, defaults);
  for (const key of Object.keys(defaults)) {
    if (!(key in given)) continue;
    const value = given[key];
    if (value === undefined || value === null) continue;
    out[key] = typeof defaults[key] === 'number' ? numberFromJson(value) : value;
  }
  out._class_name = className;
  checkConfigRanges(className, out, Object.keys(defaults));
  return out as ResolvedConfig<T>;
}

/** Whether `value` is a plain config object (not null, not an array). */
function isConfigObject(value: unknown): value is Readonly<Record<string, unknown>> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/**
 * `config` with `overrides` on top, as diffusers' `from_config(config, **kwargs)`: a key of `overrides`
 * wins over the same key of `config`; an override of `undefined` is no override.
 *
 * @throws InvalidArgumentError when `config` or `overrides` is not an object.
 */
export function withOverrides(
  className: string,
  config: Readonly<Record<string, unknown>>,
  overrides?: Readonly<Record<string, unknown>>,
): Readonly<Record<string, unknown>> {
  if (!isConfigObject(config)) {
    throw new InvalidArgumentError({
      name: `${className}.fromConfig config`,
      value: config,
      expected: 'a scheduler_config.json object',
      fix: 'pass the parsed JSON object, e.g. pipe.scheduler.config',
    });
  }
  if (overrides === undefined) return config;
  if (!isConfigObject(overrides)) {
    throw new InvalidArgumentError({
      name: `${className}.fromConfig overrides`,
      value: overrides,
      expected: 'an object of config keys, e.g. { use_karras_sigmas: true }',
      fix: 'pass the keys to change as an object, or leave overrides out',
    });
  }
  const out: Record<string, unknown> = { ...config };
  for (const [key, value] of Object.entries(overrides)) if (value !== undefined) out[key] = value;
  return out;
}

/** Reads a config value that must be one of `choices`; throws a typed error naming the key otherwise. */
export function oneOf<const C extends readonly string[]>(
  className: string,
  key: string,
  value: unknown,
  choices: C,
): C[number] {
  if (typeof value === 'string' && (choices as readonly string[]).includes(value)) return value as C[number];
  throw new InvalidArgumentError({
    name: `${className} config ${key}`,
    value,
    expected: `one of ${choices.map((c) => JSON.stringify(c)).join(', ')}`,
  });
}

/** Reads a numeric config value (finite unless `allowNonFinite`); throws a typed error naming the key otherwise. */
export function numberKey(
  className: string,
  config: SchedulerConfig,
  key: string,
  allowNonFinite = false,
): number {
  const value = config[key];
  if (typeof value === 'number' && (allowNonFinite || Number.isFinite(value))) return value;
  throw new InvalidArgumentError({
    name: `${className} config ${key}`,
    value,
    expected: allowNonFinite ? 'a number' : 'a finite number',
  });
}

/** Reads an integer config value of at least `min`; throws a typed error naming the key otherwise. */
export function integerKey(className: string, config: SchedulerConfig, key: string, min = 0): number {
  const value = config[key];
  if (typeof value === 'number' && Number.isInteger(value) && value >= min) return value;
  throw new InvalidArgumentError({
    name: `${className} config ${key}`,
    value,
    expected: `an integer ≥ ${min}`,
  });
}

/** Reads a boolean config value; throws a typed error naming the key otherwise. */
export function booleanKey(className: string, config: SchedulerConfig, key: string): boolean {
  const value = config[key];
  if (typeof value === 'boolean') return value;
  throw new InvalidArgumentError({ name: `${className} config ${key}`, value, expected: 'true or false' });
}

/** Checks `numInferenceSteps` for `setTimesteps`. */
export function checkStepCount(className: string, steps: number, max: number): void {
  if (!Number.isInteger(steps) || steps < 1 || steps > max) {
    throw new InvalidArgumentError({
      name: `${className}.setTimesteps numInferenceSteps`,
      value: steps,
      expected: `an integer from 1 to num_train_timesteps (${max})`,
    });
  }
}
