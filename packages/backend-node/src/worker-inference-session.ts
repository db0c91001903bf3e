import { InvalidArgumentError } from '@latentkit/core';
import type { InferenceSession, Tensor as OrtTensor } from 'onnxruntime-common';
import { Tensor } from 'onnxruntime-node';
import type { SessionWorkerHost } from './session-worker-host.js';
import type { CreatedSession, WireTensor } from './session-worker-protocol.js';

/**
 * Whether a feed's buffer may be moved to the worker (detached here): only when the factory made the
 * tensor from data marked transferable (made for that feed alone) and the view covers its whole buffer.
 */
export type TransferCheck = (tensor: OrtTensor) => boolean;

function isWholeBuffer(data: ArrayBufferView): boolean {
  return (
    data.buffer instanceof ArrayBuffer && data.byteOffset === 0 && data.byteLength === data.buffer.byteLength
  );
}

/**
 * An onnxruntime `InferenceSession` that lives in a {@link SessionWorkerHost}'s worker thread: the same
 * interface the ONNX components call, with `run` answered by the worker. Feeds go by transfer when
 * `transferable` says so, otherwise by copy (structured clone), so a caller's tensor data is never
 * detached; outputs come back by transfer (the worker owns them).
 */
export class WorkerInferenceSession implements InferenceSession {
  /** `InferenceSession.inputNames`. */
  readonly inputNames: readonly string[];
  /** `InferenceSession.outputNames`. */
  readonly outputNames: readonly string[];
  /** `InferenceSession.inputMetadata`. */
  readonly inputMetadata: readonly InferenceSession.ValueMetadata[];
  /** `InferenceSession.outputMetadata`. */
  readonly outputMetadata: readonly InferenceSession.ValueMetadata[];
  readonly #host: SessionWorkerHost;
  readonly #id: number;
  readonly #generation: number | undefined;
  readonly #transferable: TransferCheck;
  readonly #onRelease: (session: WorkerInferenceSession) => Promise<void>;
  #released = false;

  /**
   * @param host - The worker that holds the session.
   * @param created - The worker's answer to `create`.
   * @param transferable - Which feeds may be moved rather than copied.
   * @param onRelease - Called once after the session is released in the worker (the factory forgets it).
   */
  constructor(
    host: SessionWorkerHost,
    created: CreatedSession,
    transferable: TransferCheck,
    onRelease: (session: WorkerInferenceSession) => Promise<void>,
  ) {
    this.#host = host;
    this.#id = created.session;
    this.#generation = host.generation;
    this.inputNames = created.inputNames;
    this.outputNames = created.outputNames;
    this.inputMetadata = created.inputMetadata;
    this.outputMetadata = created.outputMetadata;
    this.#transferable = transferable;
    this.#onRelease = onRelease;
  }

  /** Runs the session in the worker thread; see `InferenceSession.run`. Preallocated outputs are not supported. */
  run(
    feeds: InferenceSession.FeedsType,
    options?: InferenceSession.RunOptions,
  ): Promise<InferenceSession.ReturnType>;
  run(
    feeds: InferenceSession.FeedsType,
    fetches: InferenceSession.FetchesType,
    options?: InferenceSession.RunOptions,
  ): Promise<InferenceSession.ReturnType>;
  async run(
    feeds: InferenceSession.FeedsType,
    fetchesOrOptions?: InferenceSession.FetchesType | InferenceSession.RunOptions,
    maybeOptions?: InferenceSession.RunOptions,
  ): Promise<InferenceSession.ReturnType> {
    let fetches: string[] | undefined;
    let options: InferenceSession.RunOptions | undefined;
    if (Array.isArray(fetchesOrOptions)) {
      fetches = fetchesOrOptions.map(String);
      options = maybeOptions;
    } else if (fetchesOrOptions !== undefined && maybeOptions !== undefined) {
      throw new InvalidArgumentError({
        name: 'fetches',
        value: fetchesOrOptions,
        expected:
          'a list of output names (preallocated outputs do not cross to the onnxruntime worker thread)',
        fix: 'pass output names, or load with sessionThread: "main" to preallocate outputs',
      });
    } else {
      options = fetchesOrOptions as InferenceSession.RunOptions | undefined;
    }
    const wire: Record<string, WireTensor> = {};
    const transfer: ArrayBuffer[] = [];
    for (const [name, tensor] of Object.entries(feeds)) {
      const data = tensor.data as ArrayBufferView;
      wire[name] = { type: tensor.type, data, dims: tensor.dims };
      if (this.#transferable(tensor) && isWholeBuffer(data)) transfer.push(data.buffer as ArrayBuffer);
    }
    const outputs = await this.#host.request<Record<string, WireTensor>>(
      {
        op: 'run',
        session: this.#id,
        feeds: wire,
        ...(fetches ? { fetches } : {}),
        ...(options ? { options } : {}),
      },
      transfer,
      this.#generation,
    );
    const result: Record<string, OrtTensor> = {};
    for (const [name, out] of Object.entries(outputs)) {
      result[name] = new Tensor(out.type as 'float32', out.data as Float32Array, out.dims);
    }
    return result;
  }

  /** Releases the session in the worker (the factory forgets it; the last one stops the worker). */
  async release(): Promise<void> {
    if (this.#released) return;
    this.#released = true;
    try {
      // a worker already closed took its sessions with it
      if (this.#host.generation === this.#generation)
        await this.#host.request({ op: 'release', session: this.#id }, [], this.#generation);
    } finally {
      await this.#onRelease(this);
    }
  }

  /** Starts onnxruntime's profiler for this session (in the worker). */
  startProfiling(): void {
    void this.#host
      .request({ op: 'profiling', session: this.#id, start: true }, [], this.#generation)
      .catch(() => undefined);
  }

  /** Ends onnxruntime's profiler for this session (in the worker). */
  endProfiling(): void {
    void this.#host
      .request({ op: 'profiling', session: this.#id, start: false }, [], this.#generation)
      .catch(() => undefined);
  }
}
