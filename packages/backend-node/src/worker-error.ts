import {
  BackendUnavailableError,
  InferenceFailedError,
  InvalidArgumentError,
  type LatentkitError,
  LimitExceededError,
  ModelInvalidError,
  ModelMismatchError,
  ModelNotFoundError,
  NotImplementedError,
  ShapeMismatchError,
} from '@latentkit/core';
import type { WireError } from './session-worker-protocol.js';

// The latentkit errors that are rebuilt from a message alone, by class name.
const TYPED: Readonly<Record<string, new (message: string) => LatentkitError>> = {
  BackendUnavailableError,
  InferenceFailedError,
  InvalidArgumentError,
  LimitExceededError,
  ModelInvalidError,
  ModelMismatchError,
  ModelNotFoundError,
  NotImplementedError,
  ShapeMismatchError,
};

/**
 * Rebuilds an error that crossed from the session worker: a latentkit error as its own class (same
 * `code` and message), anything else (onnxruntime's own errors) as an `Error` with the worker's name and
 * message, so the callers wrap it exactly as they wrap the same error thrown on their own thread. The
 * worker's stack is kept after the calling thread's.
 *
 * @param wire - The error as the worker sent it.
 */
export function reviveWorkerError(wire: WireError): Error {
  const Typed = TYPED[wire.name];
  const error = Typed ? new Typed(wire.message) : new Error(wire.message);
  if (!Typed) error.name = wire.name;
  if (wire.stack)
    error.stack = `${error.stack ?? ''}\n    --- in the onnxruntime worker thread ---\n${wire.stack}`;
  return error;
}
