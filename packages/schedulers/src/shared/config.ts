import { InvalidArgumentError } from '@latentkit/core';

/** A diffusers scheduler config: snake_case keys, as in `scheduler_config.json`. */
export type SchedulerConfig = Readonly<Record<string, unknown>>;

/**
 * Fills a scheduler's defaults from a diffusers config object. Keys the scheduler does not know are
 * ignored, as diffusers' `from_config` ignores them (so one scheduler's config can build another);
 * `null` means "use the default" for keys whose default is null. `_class_name` is set to `className`.
 */
export function resolveConfig<T extends Record<string, unknown>>(
  className: string,
  defaults: T,
  given: Readonly<Record<string, unknown>> = {},
): T & { _class_name: string } {
  const out: Record<string, unknown> = { ...defaults };
  for (const key of Object.keys(defaults)) {
    if (key in given && given[key] !== undefined) out[key] = given[key];
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
