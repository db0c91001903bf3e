import { InferenceFailedError, ModelMismatchError } from '@latentkit/core';
import type { InferenceSession } from 'onnxruntime-common';
import type { InitializerOverrides } from './initializer-overrides.js';
import { type OrtValueInfo, sessionInputs, sessionOutputs } from './ort-io.js';
import type { SessionFactory, SessionRequest } from './session-factory.js';

/**
 * One component's runtime session that can be re-created with other weights (initializer overrides, for
 * LoRA and textual inversion) while the component keeps running: {@link setOverrides} creates the new
 * session through the backend's factory, checks that it has the same inputs and outputs, swaps it in, and
 * releases the old one once the runs still using it have finished. The UNet and the text encoder hold
 * their session through it.
 */
export class SwappableSession {
  #session: InferenceSession;
  #overrides: InitializerOverrides | undefined;
  #released = false;
  readonly #factory: SessionFactory;
  readonly #request: SessionRequest;
  /** Runs in flight, per session, so a swapped-out session is released only after them. */
  readonly #inFlight = new Map<InferenceSession, Set<Promise<unknown>>>();
  /** Swaps run one after another, in call order. */
  #swaps: Promise<unknown> = Promise.resolve();

  /**
   * @param session - The session made from `request` (the file's own weights).
   * @param factory - The backend's factory, which makes the new sessions.
   * @param request - The component, model file and folder (its `overrides`, if any, are what `session`
   *   was made with).
   */
  constructor(session: InferenceSession, factory: SessionFactory, request: SessionRequest) {
    this.#session = session;
    this.#factory = factory;
    const { overrides, ...file } = request;
    this.#request = file;
    this.#overrides = overrides;
  }

  /** The current session (for metadata; run through {@link run}, so swaps wait for the run). */
  get session(): InferenceSession {
    return this.#session;
  }

  /** The component, model file and folder: the file's own weights, without overrides. */
  get request(): SessionRequest {
    return this.#request;
  }

  /** The overrides the current session was made with; undefined for the file's own weights. */
  get overrides(): InitializerOverrides | undefined {
    return this.#overrides;
  }

  /** Whether {@link release} has been called. */
  get released(): boolean {
    return this.#released;
  }

  /**
   * Runs `body` on the current session; a swap meanwhile releases that session only after `body` settles.
   *
   * @param body - Runs the session.
   */
  async run<T>(body: (session: InferenceSession) => Promise<T>): Promise<T> {
    const session = this.#session;
    const promise = body(session);
    let runs = this.#inFlight.get(session);
    if (!runs) {
      runs = new Set();
      this.#inFlight.set(session, runs);
    }
    runs.add(promise);
    try {
      return await promise;
    } finally {
      runs.delete(promise);
      if (runs.size === 0) this.#inFlight.delete(session);
    }
  }

  /**
   * Re-creates the session with these initializer overrides (`undefined`: the file's own weights), swaps it
   * in and releases the old one (after the runs using it). Calls take effect in call order; a failed call
   * leaves the current session in place.
   *
   * @param overrides - New values by initializer name, or undefined.
   * @throws {@link @latentkit/core!ModelMismatchError} when the new session's inputs or outputs differ
   *   from the current one's; {@link @latentkit/core!InferenceFailedError} after {@link release}; the
   *   errors of {@link patchInitializers} for bad overrides.
   */
  setOverrides(overrides: InitializerOverrides | undefined): Promise<void> {
    const swap = this.#swaps.then(() => this.#swap(overrides));
    this.#swaps = swap.catch(() => undefined);
    return swap;
  }

  async #swap(overrides: InitializerOverrides | undefined): Promise<void> {
    this.#checkLive();
    const request: SessionRequest = overrides === undefined ? this.#request : { ...this.#request, overrides };
    const next = await this.#factory.create(request);
    try {
      this.#checkLive();
      checkSameIo(this.#session, next, this.#request.modelPath);
    } catch (err) {
      await this.#releaseSession(next).catch(() => undefined);
      throw err;
    }
    const old = this.#session;
    this.#session = next;
    this.#overrides = overrides;
    await this.#releaseAfterRuns(old);
  }

  /** Releases the current session (after the runs using it); later runs fail as on any released session. */
  async release(): Promise<void> {
    if (this.#released) return;
    this.#released = true;
    await this.#swaps;
    await this.#releaseAfterRuns(this.#session);
  }

  async #releaseAfterRuns(session: InferenceSession): Promise<void> {
    const runs = this.#inFlight.get(session);
    if (runs) await Promise.allSettled([...runs]);
    await this.#releaseSession(session);
  }

  // Through the factory when it can, so it forgets the session too.
  #releaseSession(session: InferenceSession): Promise<void> {
    return this.#factory.release
      ? this.#factory.release(session)
      : (session.release?.() ?? Promise.resolve());
  }

  #checkLive(): void {
    if (this.#released) {
      throw new InferenceFailedError(
        `The ${this.#request.component} session (${this.#request.modelPath}) was released (the pipeline was disposed), so its weights cannot be changed. Fix: load the pipeline again.`,
      );
    }
  }
}

function describeIo(infos: readonly OrtValueInfo[]): string {
  return infos.map((i) => `${i.name}: ${i.type ?? '?'}[${(i.shape ?? []).join(', ')}]`).join('; ');
}

function checkSameIo(before: InferenceSession, after: InferenceSession, modelPath: string): void {
  const was = `inputs { ${describeIo(sessionInputs(before))} }, outputs { ${describeIo(sessionOutputs(before))} }`;
  const now = `inputs { ${describeIo(sessionInputs(after))} }, outputs { ${describeIo(sessionOutputs(after))} }`;
  if (was !== now) {
    throw new ModelMismatchError(
      `${modelPath} with the new weights has ${now}, but the session it replaces had ${was}. ` +
        'Fix: override only weights (same inputs and outputs); an adapter must not change the model interface.',
    );
  }
}
