import type { InferenceSession } from 'onnxruntime-common';

/**
 * The messages between the calling thread and the session worker (`worker/session-worker.mjs`, plain
 * JavaScript so that it runs without a loader from the sources and from the build). Internal to
 * `@latentkit/backend-node`.
 */

/** A tensor as it crosses the thread boundary: its element type, data and shape. */
export interface WireTensor {
  /** The onnxruntime element type, e.g. `float32`. */
  readonly type: string;
  /** The values (a typed array; moved by transfer where the sender owns the whole buffer). */
  readonly data: ArrayBufferView;
  /** The shape. */
  readonly dims: readonly number[];
}

/** What the calling thread asks the worker to do. */
export type WorkerRequest =
  | {
      op: 'create';
      model: string | Uint8Array;
      options: InferenceSession.SessionOptions;
    }
  | {
      op: 'run';
      session: number;
      feeds: Record<string, WireTensor>;
      fetches?: readonly string[];
      options?: InferenceSession.RunOptions;
    }
  | { op: 'release'; session: number }
  | { op: 'profiling'; session: number; start: boolean };

/** What `create` answers: the session's id in the worker and its metadata. */
export interface CreatedSession {
  /** The session's id in the worker. */
  readonly session: number;
  /** `InferenceSession.inputNames`. */
  readonly inputNames: readonly string[];
  /** `InferenceSession.outputNames`. */
  readonly outputNames: readonly string[];
  /** `InferenceSession.inputMetadata`. */
  readonly inputMetadata: readonly InferenceSession.ValueMetadata[];
  /** `InferenceSession.outputMetadata`. */
  readonly outputMetadata: readonly InferenceSession.ValueMetadata[];
}

/** An error as it crosses the thread boundary. */
export interface WireError {
  /** The error's class name, e.g. `InferenceFailedError` or `Error`. */
  readonly name: string;
  /** The message. */
  readonly message: string;
  /** A latentkit error code, when it has one. */
  readonly code?: string;
  /** The stack in the worker. */
  readonly stack?: string;
}

/** The worker's answer to one request. */
export type WorkerResponse =
  | { id: number; ok: true; value: unknown }
  | { id: number; ok: false; error: WireError };
