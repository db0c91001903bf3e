import type { InferenceSession } from 'onnxruntime-common';

/**
 * An onnxruntime session that wraps another and changes only what `run` does (a shape check, a batch run
 * row by row, feeds written to GPU buffers): names, metadata, `release` and profiling are the wrapped
 * session's. Subclasses implement `run`; {@link WrappedSession.forwardRun} passes a call on unchanged,
 * with the same overload it came in with.
 */
export abstract class WrappedSession implements InferenceSession {
  readonly #session: InferenceSession;

  /** @param session - The session every call ends up in. */
  constructor(session: InferenceSession) {
    this.#session = session;
  }

  /** The wrapped session. */
  get session(): InferenceSession {
    return this.#session;
  }
  /** The wrapped session's `inputNames`. */
  get inputNames(): readonly string[] {
    return this.#session.inputNames;
  }
  /** The wrapped session's `outputNames`. */
  get outputNames(): readonly string[] {
    return this.#session.outputNames;
  }
  /** The wrapped session's `inputMetadata`. */
  get inputMetadata(): InferenceSession['inputMetadata'] {
    return this.#session.inputMetadata;
  }
  /** The wrapped session's `outputMetadata`. */
  get outputMetadata(): InferenceSession['outputMetadata'] {
    return this.#session.outputMetadata;
  }

  /** Runs the model; see onnxruntime's `InferenceSession.run`. */
  abstract run(
    feeds: InferenceSession.FeedsType,
    fetchesOrOptions?: InferenceSession.FetchesType | InferenceSession.RunOptions,
    options?: InferenceSession.RunOptions,
  ): Promise<InferenceSession.ReturnType>;

  /** Runs the wrapped session with the arguments as given (`run(feeds)`, `run(feeds, options)` or `run(feeds, fetches, options)`). */
  protected forwardRun(
    feeds: InferenceSession.FeedsType,
    fetchesOrOptions?: InferenceSession.FetchesType | InferenceSession.RunOptions,
    options?: InferenceSession.RunOptions,
  ): Promise<InferenceSession.ReturnType> {
    if (fetchesOrOptions === undefined) return this.#session.run(feeds);
    if (options === undefined)
      return this.#session.run(feeds, fetchesOrOptions as InferenceSession.RunOptions);
    return this.#session.run(feeds, fetchesOrOptions as InferenceSession.FetchesType, options);
  }

  /** Releases the wrapped session. */
  release(): Promise<void> {
    return this.#session.release();
  }
  /** Starts onnxruntime's profiler of the wrapped session. */
  startProfiling(): void {
    this.#session.startProfiling();
  }
  /** Ends onnxruntime's profiler of the wrapped session. */
  endProfiling(): void {
    this.#session.endProfiling();
  }
}
