import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { InferenceFailedError, InvalidArgumentError } from '@latentkit/core';
import type { WorkerRequest, WorkerResponse } from './session-worker-protocol.js';
import { reviveWorkerError } from './worker-error.js';

/**
 * The worker script: `worker/session-worker.mjs` at the package root. From the sources (`src/*.ts`) and
 * from the build's top-level files (`dist/*.js`, `dist/*.cjs`) it is one folder up; from the CLI's bundle
 * (`dist/cli/main.cjs`) two.
 */
export function sessionWorkerPath(): string {
  const candidates = ['../worker/session-worker.mjs', '../../worker/session-worker.mjs'].map((relative) =>
    fileURLToPath(new URL(relative, import.meta.url)),
  );
  const found = candidates.find((path) => existsSync(path));
  if (!found) {
    throw new InferenceFailedError(
      `The onnxruntime session worker script is missing (looked for ${candidates.join(' and ')}). ` +
        'Fix: reinstall @latentkit/backend-node (its "worker" folder ships with it), or pass sessionThread: "main".',
    );
  }
  return found;
}

interface Pending {
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
}

/**
 * One worker thread that owns the onnxruntime-node sessions of one loaded model and runs them off the
 * calling thread. Requests are answered in the order the worker finishes them; the worker is started on
 * the first request, does not keep the process alive while idle (it is `unref`'d between requests), and
 * is terminated by {@link close} (a later request starts a fresh one).
 */
export class SessionWorkerHost {
  #worker: Worker | undefined;
  #exited: Promise<void> | undefined;
  #nextId = 1;
  #generation = 0;
  readonly #pending = new Map<number, Pending>();
  readonly #closed = new WeakSet<Worker>();
  readonly #logLevel: string | undefined;

  /** @param options - `logLevel`: onnxruntime's log level, set in the worker before its first session. */
  constructor(options: { logLevel?: string } = {}) {
    this.#logLevel = options.logLevel;
  }

  /** The worker's thread id while it runs; undefined before the first request and after {@link close}. */
  get threadId(): number | undefined {
    return this.#worker?.threadId;
  }

  /**
   * Which worker is running: a new number each time one starts. A session made in one worker is gone once
   * it stops, so requests for it carry the generation it was made in.
   */
  get generation(): number | undefined {
    return this.#worker ? this.#generation : undefined;
  }

  /**
   * Sends one request and resolves with the worker's answer (rejects with the worker's error, revived by
   * {@link reviveWorkerError}). `transfer`: buffers moved to the worker (detached here). `generation`: the
   * worker the request is for (see {@link generation}); when that one has stopped the request rejects with
   * an `InferenceFailedError` and no worker is started. Without it, a worker is started if none runs.
   */
  request<T>(message: WorkerRequest, transfer: readonly ArrayBuffer[] = [], generation?: number): Promise<T> {
    if (generation !== undefined && generation !== this.generation) {
      return Promise.reject(
        new InferenceFailedError(
          'This onnxruntime session was released: its worker thread was closed (the pipeline was disposed). Fix: load the pipeline again.',
        ),
      );
    }
    const worker = this.#start();
    const id = this.#nextId++;
    return new Promise<T>((resolve, reject) => {
      try {
        worker.postMessage({ ...message, id }, [...transfer]);
      } catch (error) {
        // DataCloneError: a value that cannot be sent to another thread (a function in sessionOptions).
        reject(
          new InvalidArgumentError({
            name: 'session options',
            value: (error as Error).message,
            expected:
              'plain data that can be sent to the onnxruntime worker thread (no functions or class instances)',
            fix: 'pass plain values, or load with sessionThread: "main"',
          }),
        );
        return;
      }
      if (this.#pending.size === 0) worker.ref();
      this.#pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
    });
  }

  /** Terminates the worker (its sessions go with it); pending requests reject. Safe to call twice. */
  async close(): Promise<void> {
    const worker = this.#worker;
    if (!worker) return;
    const exited = this.#exited;
    this.#worker = undefined;
    this.#closed.add(worker);
    await worker.terminate();
    await exited;
  }

  #start(): Worker {
    if (this.#worker) return this.#worker;
    const worker = new Worker(sessionWorkerPath(), {
      workerData: { logLevel: this.#logLevel },
    });
    this.#generation++;
    worker.unref();
    worker.on('message', (response: WorkerResponse) => this.#answer(response));
    // An 'error' event ends the worker: it is followed by 'exit', which rejects what is pending.
    let failure: Error | undefined;
    worker.on('error', (error) => {
      failure = error;
    });
    this.#exited = new Promise<void>((resolve) => {
      worker.once('exit', (code) => {
        if (this.#worker === worker) this.#worker = undefined;
        const reason = failure ? `: ${failure.message}` : ` (exit code ${code})`;
        this.#rejectAll(
          this.#closed.has(worker)
            ? new InferenceFailedError(
                'The onnxruntime worker thread was closed (the pipeline was disposed) while this request was in it. Fix: load the pipeline again.',
              )
            : new InferenceFailedError(
                `The onnxruntime worker thread stopped${reason}, so its sessions are gone. Fix: load the pipeline again` +
                  (failure
                    ? '; if it keeps failing, load with sessionThread: "main" and report the error.'
                    : '.'),
                failure ? { cause: failure } : undefined,
              ),
        );
        resolve();
      });
    });
    this.#worker = worker;
    return worker;
  }

  #answer(response: WorkerResponse): void {
    const pending = this.#pending.get(response.id);
    if (!pending) return;
    this.#pending.delete(response.id);
    if (this.#pending.size === 0) this.#worker?.unref();
    if (response.ok) pending.resolve(response.value);
    else pending.reject(reviveWorkerError(response.error));
  }

  #rejectAll(error: Error): void {
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const p of pending) p.reject(error);
  }
}
