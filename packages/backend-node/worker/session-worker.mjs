// @ts-check
// The worker thread of @latentkit/backend-node's `sessionThread: 'worker'` (docs/performance.md, "Threads"):
// it owns the onnxruntime-node sessions of one loaded model and runs them, so that onnxruntime's
// synchronous `session.run` blocks this thread instead of the caller's event loop.
//
// Plain JavaScript on purpose: it imports only onnxruntime-node and node builtins, so the same file runs
// from the built package (ESM or CJS callers) and from the TypeScript sources under vitest/tsx, with no
// loader. The message protocol is described by src/session-worker-protocol.ts; the typed errors are made
// on the calling thread from `{ name, code, message }`.
import { parentPort, workerData } from 'node:worker_threads';
import { env, InferenceSession, Tensor } from 'onnxruntime-node';

if (!parentPort) throw new Error('session-worker.mjs runs as a worker thread (new Worker), not as a script.');
const port = parentPort;

if (workerData && typeof workerData.logLevel === 'string') env.logLevel = workerData.logLevel;

/** @type {Map<number, import('onnxruntime-node').InferenceSession>} */
const sessions = new Map();
let nextSession = 1;

/** A latentkit-style error the calling thread turns into the class named here. */
function typedError(name, code, message) {
  const error = new Error(message);
  error.name = name;
  /** @type {Error & { code?: string }} */ (error).code = code;
  return error;
}

/** @param {unknown} error */
function serializeError(error) {
  if (error instanceof Error) {
    const code = /** @type {{ code?: unknown }} */ (error).code;
    return {
      name: error.name,
      message: error.message,
      ...(typeof code === 'string' ? { code } : {}),
      ...(error.stack ? { stack: error.stack } : {}),
    };
  }
  return { name: 'Error', message: String(error) };
}

/** @param {number} id */
function sessionFor(id) {
  const session = sessions.get(id);
  if (!session) {
    throw typedError(
      'InferenceFailedError',
      'INFERENCE_FAILED',
      `onnxruntime session ${id} does not exist in the worker thread: it was released (the pipeline was disposed). Fix: load the pipeline again.`,
    );
  }
  return session;
}

/** A typed array that owns all of its ArrayBuffer can move by transfer; any other is copied first. */
function ownBuffer(data) {
  const whole =
    !(data.buffer instanceof SharedArrayBuffer) &&
    data.byteOffset === 0 &&
    data.byteLength === data.buffer.byteLength;
  return whole ? data : data.slice();
}

/** @param {{ op: string } & Record<string, any>} message */
async function handle(message) {
  switch (message.op) {
    case 'create': {
      const session = await InferenceSession.create(message.model, message.options);
      const id = nextSession++;
      sessions.set(id, session);
      return {
        value: {
          session: id,
          inputNames: session.inputNames,
          outputNames: session.outputNames,
          inputMetadata: session.inputMetadata,
          outputMetadata: session.outputMetadata,
        },
        transfer: [],
      };
    }
    case 'run': {
      const session = sessionFor(message.session);
      /** @type {Record<string, Tensor>} */
      const feeds = {};
      for (const [name, feed] of Object.entries(message.feeds)) {
        feeds[name] = new Tensor(feed.type, feed.data, feed.dims);
      }
      const results =
        message.fetches === undefined
          ? await session.run(feeds, message.options ?? {})
          : await session.run(feeds, message.fetches, message.options ?? {});
      /** @type {Record<string, { type: string; data: unknown; dims: readonly number[] }>} */
      const outputs = {};
      /** @type {ArrayBuffer[]} */
      const transfer = [];
      for (const [name, value] of Object.entries(results)) {
        const data = ownBuffer(/** @type {any} */ (value).data);
        outputs[name] = { type: value.type, data, dims: value.dims };
        transfer.push(data.buffer);
      }
      return { value: outputs, transfer };
    }
    case 'release': {
      const session = sessions.get(message.session);
      sessions.delete(message.session);
      await session?.release();
      return { value: undefined, transfer: [] };
    }
    case 'profiling': {
      const session = sessionFor(message.session);
      if (message.start) session.startProfiling();
      else session.endProfiling();
      return { value: undefined, transfer: [] };
    }
    default:
      throw new Error(`unknown request ${JSON.stringify(message.op)}`);
  }
}

port.on('message', async (message) => {
  try {
    const { value, transfer } = await handle(message);
    port.postMessage({ id: message.id, ok: true, value }, transfer);
  } catch (error) {
    port.postMessage({ id: message.id, ok: false, error: serializeError(error) });
  }
});
