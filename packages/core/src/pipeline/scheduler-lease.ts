import { InvalidArgumentError } from '../errors.js';
import type { Scheduler } from '../interfaces/scheduler.js';

/** A scheduler one `generate()` call may use alone until it calls {@link SchedulerLease.release}. */
export interface SchedulerLease {
  /** The scheduler to run the call on: a fresh clone, or the shared scheduler itself. */
  readonly scheduler: Scheduler;
  /** Ends the call's use of the scheduler; the next queued call may start. Idempotent. */
  release(): void;
}

/** For schedulers without `clone`: the end of the queue of calls using each scheduler object. */
const queues = new WeakMap<Scheduler, Promise<void>>();

/** Resolves when `previous` does, or rejects with `signal.reason` as soon as the signal aborts. */
function waitOrAbort(previous: Promise<void>, signal: AbortSignal | undefined): Promise<void> {
  if (!signal) return previous;
  return new Promise<void>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    void previous.then(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    });
  });
}

/**
 * Gives one call a scheduler state of its own, so that concurrent calls on one pipeline do not share
 * one schedule: `shared.clone()` when the scheduler has `clone` (no waiting), else `shared` itself once
 * every earlier call using that same object has released it (calls that share a clone-less scheduler
 * run their denoising loops one at a time, in call order). A call aborted while it waits rejects with
 * `signal.reason` and does not hold up the calls queued after it.
 */
export async function leaseScheduler(shared: Scheduler, signal?: AbortSignal): Promise<SchedulerLease> {
  if (typeof shared.clone === 'function') {
    const scheduler = shared.clone();
    if (typeof scheduler?.step !== 'function' || typeof scheduler.setTimesteps !== 'function') {
      throw new InvalidArgumentError({
        name: 'scheduler.clone()',
        value: scheduler,
        expected: 'a new Scheduler of the same class and config',
        fix: 'make clone() return e.g. `new MyScheduler(this.config)`, or remove clone to have calls queued',
      });
    }
    return { scheduler, release: () => {} };
  }
  const previous = queues.get(shared) ?? Promise.resolve();
  let done!: () => void;
  const finished = new Promise<void>((resolve) => {
    done = resolve;
  });
  const tail = previous.then(() => finished);
  queues.set(shared, tail);
  // Forget the queue once it has drained (not before: a call aborted while waiting releases early).
  void tail.then(() => {
    if (queues.get(shared) === tail) queues.delete(shared);
  });
  const release = () => done();
  try {
    await waitOrAbort(previous, signal);
  } catch (reason) {
    release();
    throw reason;
  }
  return { scheduler: shared, release };
}
