import type { Scheduler } from '@latentkit/core';

/** What {@link SchedulerBase.clone} needs of a scheduler's class: diffusers' `from_config`. */
interface FromConfig {
  fromConfig(config: Readonly<Record<string, unknown>>): Scheduler;
}

/**
 * The base of every scheduler class here: what all of them share whatever their family, today
 * {@link SchedulerBase.clone}. A subclass must have a static `fromConfig(config)` that builds an
 * instance of it (every class in this package has).
 */
export abstract class SchedulerBase {
  /** The diffusers config, snake_case, defaults filled in, with `_class_name`. */
  abstract readonly config: Readonly<Record<string, unknown>>;

  /**
   * A new scheduler of the same class built from the same config, with no schedule or step state
   * (as if just loaded: call `setTimesteps` on it). The original is not touched. The pipeline runs each
   * `generate()` call on its own clone, so concurrent calls on one pipeline do not share state.
   */
  clone(): Scheduler {
    return (this.constructor as unknown as FromConfig).fromConfig(this.config);
  }
}
