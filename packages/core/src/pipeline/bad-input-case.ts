/**
 * The table row shared by the pipelines' bad-input tests (not exported from the package): a call that
 * must fail, the typed error it must throw and what its message must say.
 */
import type { LatentkitError } from '../errors.js';

/** An error class (their constructors take different arguments). */
export type ErrorClass = new (...args: never[]) => LatentkitError;

export interface BadInputCase {
  name: string;
  run: () => unknown;
  error: ErrorClass;
  /** What the message must say: the value's name and the fix. */
  message: RegExp;
}

/** Runs `run` and returns what it threw (or rejected with); `undefined` when it did not fail. */
export async function thrownBy(run: () => unknown): Promise<unknown> {
  try {
    await run();
  } catch (e) {
    return e;
  }
  return undefined;
}
