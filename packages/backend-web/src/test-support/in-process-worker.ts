import { serveGenerationWorker, type WorkerScopeLike } from '../worker/generation-worker.js';
import { createGenerationWorker, type GenerationWorker } from '../worker/generation-worker-client.js';
import type { WorkerRequest, WorkerResponse } from '../worker/messages.js';

/**
 * The page side and the worker side of the generation worker connected in-process, for tests in Node:
 * messages go through `structuredClone`, as `postMessage` would copy them, so everything sent must survive it.
 */
export function connectInProcess(): GenerationWorker {
  const toWorker = new EventTarget();
  const toPage = new EventTarget();
  // Copied at once, as postMessage does (a value it cannot copy throws DataCloneError to the sender).
  const deliver = (target: EventTarget, data: unknown) => {
    const copy = structuredClone(data);
    setTimeout(() => target.dispatchEvent(new MessageEvent('message', { data: copy })), 0);
  };
  const scope: WorkerScopeLike = {
    addEventListener: (type, listener) => toWorker.addEventListener(type, listener as EventListener),
    postMessage: (message: WorkerResponse) => deliver(toPage, message),
  };
  serveGenerationWorker(scope);
  const fakeWorker = {
    postMessage: (message: WorkerRequest) => deliver(toWorker, message),
    addEventListener: (type: string, listener: EventListener) => toPage.addEventListener(type, listener),
    terminate: () => {},
  };
  return createGenerationWorker(fakeWorker as unknown as Worker);
}
