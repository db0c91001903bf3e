import { InvalidArgumentError } from '@latentkit/core';

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
 * Fills a scheduler's defaults from a diffusers config object. Keys the scheduler does not know are
 * ignored, as diffusers' `from_config` ignores them (so one scheduler's config can build another);
 * `null` or `undefined` means "use the default". Where the default is a number, the strings
 * "Infinity", "-Infinity" and "NaN" (how Python writes them into JSON) are read as numbers.
 * `_class_name` is set to `className`.
 */
export function resolveConfig<T extends Record<string, unknown>>(
  className: string,
  defaults: T,
  given: Readonly<Record<string, unknown>> = {},
): T & { _class_name: string } {
  if (given === null || typeof given !== 'object' || Array.isArray(given)) {
    throw new InvalidArgumentError({
      name: `${className}.fromConfig config`,
      value: given,
      expected: 'a scheduler_config.json object',
    });
  }
  const out: Record<string, unknown> = { ...defaults };
  for (const key of Object.keys(defaults)) {
    if (!(key in given)) continue;
    const value = given[key];
    if (value === undefined || value === null) continue;
    out[key] = typeof defaults[key] === 'number' ? numberFromJson(value) : value;
  }
  out._class_name = className;
  return out as T & { _class_name: string };
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
