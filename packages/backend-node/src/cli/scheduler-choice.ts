import { LatentkitError, UnknownSchedulerError } from '@latentkit/core';
import { createScheduler, listSchedulerNames } from '@latentkit/schedulers';
import { closestNames } from './did-you-mean.js';

/**
 * Checks a `--scheduler` name before any model is loaded (by building it on an empty config).
 *
 * @throws LatentkitError with code `UNKNOWN_SCHEDULER`: the registry's message with a "Did you mean …?"
 * when a known name is close (`"eular a"` → `"Euler a"`).
 */
export function checkSchedulerName(name: string): void {
  try {
    createScheduler(name);
  } catch (error) {
    if (!(error instanceof UnknownSchedulerError) || /did you mean/i.test(error.message)) throw error;
    const known = listSchedulerNames();
    const close = closestNames(name, known);
    if (close.length === 0) throw error;
    const hint = `Did you mean ${close.map((n) => JSON.stringify(n)).join(' or ')}?`;
    throw new LatentkitError(
      'UNKNOWN_SCHEDULER',
      error.message.replace(/^(Unknown scheduler .*?\.)( |$)/, `$1 ${hint}$2`),
      { details: { name: '--scheduler', value: name, expected: `one of ${known.join(', ')}`, fix: hint } },
    );
  }
}
