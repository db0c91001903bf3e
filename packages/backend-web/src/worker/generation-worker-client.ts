import {
  BackendUnavailableError,
  DownloadFailedError,
  InferenceFailedError,
  InvalidArgumentError,
  LatentkitError,
  type LatentkitErrorCode,
  LimitExceededError,
  ModelInvalidError,
  ModelMismatchError,
  ModelNotFoundError,
  NonFiniteOutputError,
  NotImplementedError,
  ShapeMismatchError,
  UnknownSchedulerError,
} from '@latentkit/core';
import type { DownloadProgress } from '../http-model-source.js';
import { resolveModelSource } from '../hub-source.js';
import type {
  WorkerError,
  WorkerGenerateOptions,
  WorkerGenerateResult,
  WorkerLayoutOptions,
  WorkerLoadOptions,
  WorkerLoadResult,
  WorkerRequest,
  WorkerResponse,
  WorkerStepInfo,
  WorkerUpscaleOptions,
} from './messages.js';

/** Options of {@link GenerationWorker.load}. */
export interface WorkerLoadCallOptions extends WorkerLoadOptions {
  /** Download progress (per file and totals). */
  onProgress?: (progress: DownloadProgress) => void;
  /** Provider fallback and thread warnings. Default `console.warn`. */
  onWarning?: (message: string) => void;
}

/** Options of {@link GenerationWorker.generate}. */
export interface WorkerGenerateCallOptions extends WorkerGenerateOptions {
  /** Called after every step, with previews when `preview` asked for them. */
  onStep?: (info: WorkerStepInfo) => void;
  /** Aborts this generation (like {@link GenerationWorker.cancel}, for this call only). */
  signal?: AbortSignal;
  /** With `refiner`: download progress of the refiner's files (first call only: it is kept loaded). */
  onProgress?: (progress: DownloadProgress) => void;
  /** With `refiner`: provider fallback and thread warnings while it loads. Default `console.warn`. */
  onWarning?: (message: string) => void;
}

/** Options of {@link GenerationWorker.upscale}. */
export interface WorkerUpscaleCallOptions extends WorkerUpscaleOptions {
  /** Called after every denoising step of the upscaler. */
  onStep?: (info: WorkerStepInfo) => void;
  /** Download progress of the upscaler's files (first call only: it is kept loaded). */
  onProgress?: (progress: DownloadProgress) => void;
  /** Provider fallback and thread warnings while the upscaler loads. Default `console.warn`. */
  onWarning?: (message: string) => void;
  /** Aborts this upscale (like {@link GenerationWorker.cancel}, for this call only). */
  signal?: AbortSignal;
}

/** Options of {@link GenerationWorker.generateLayout}. */
export interface WorkerLayoutCallOptions extends WorkerLayoutOptions {
  /** Called after every step, with previews when `preview` asked for them. */
  onStep?: (info: WorkerStepInfo) => void;
  /** Download progress of the grounded model's files (first call only: it is kept loaded). */
  onProgress?: (progress: DownloadProgress) => void;
  /** Provider fallback and thread warnings while the grounded model loads. Default `console.warn`. */
  onWarning?: (message: string) => void;
  /** Aborts this generation (like {@link GenerationWorker.cancel}, for this call only). */
  signal?: AbortSignal;
}

/** The page side of a generation worker: see {@link createGenerationWorker}. */
export interface GenerationWorker {
  /** The underlying Worker. */
  readonly worker: Worker;
  /**
   * Loads a model (a URL, as for `webBackend`; relative URLs are resolved against the page; or a hub
   * repository id `org/name`, with the `revision`, `token` and `hubUrl` options) in the worker, replacing
   * any loaded one.
   */
  load(url: string, options?: WorkerLoadCallOptions): Promise<WorkerLoadResult>;
  /**
   * Generates images in the worker. Calls queue: one runs at a time. Rejects with an `AbortError`
   * `DOMException` when cancelled. With `refiner` (an SDXL model loaded), the refiner — loaded from its
   * URL (relative URLs are the page's) on first use and kept — finishes the schedule after `highNoiseFrac`.
   */
  generate(options: WorkerGenerateCallOptions): Promise<WorkerGenerateResult>;
  /**
   * Upscales an image 4× in the worker with an x4 upscaler model (`StableDiffusionUpscalePipeline`),
   * loading it (relative URLs are the page's) on the first call and keeping it for the next ones with the
   * same `model` and `loadOptions`. Queues with `generate`; rejects with `AbortError` when cancelled.
   */
  upscale(options: WorkerUpscaleCallOptions): Promise<WorkerGenerateResult>;
  /**
   * Layout-to-image in the worker: a grounded model (`StableDiffusionGLIGENPipeline`, loaded from `model`
   * — relative URLs are the page's — on the first call and kept for the next ones with the same `model`
   * and `loadOptions`) puts each object's phrase in its box. Resolves as `generate()` does; the
   * `parameters` hold the layout as the pipeline ran it (`parameters.layout`: phrases, boxes, β). A bad layout (no objects, more than 30, an empty phrase, a box
   * outside [0, 1] or with x0 ≥ x1) rejects before any download. Queues with `generate`; rejects with
   * `AbortError` when cancelled.
   */
  generateLayout(options: WorkerLayoutCallOptions): Promise<WorkerGenerateResult>;
  /** Cancels the running generation, upscale or layout and every queued one (they reject with `AbortError`). */
  cancel(): void;
  /** Releases the model's sessions in the worker (the worker stays usable: load again). */
  dispose(): Promise<void>;
  /** Stops the worker at once; pending calls reject. */
  terminate(): void;
}

interface Pending {
  resolve: (value: never) => void;
  reject: (error: unknown) => void;
  kind: WorkerRequest['type'];
  onProgress?: (progress: DownloadProgress) => void;
  onWarning?: (message: string) => void;
  onStep?: (info: WorkerStepInfo) => void;
}

const SIMPLE: Partial<Record<LatentkitErrorCode, new (message: string) => LatentkitError>> = {
  INVALID_ARGUMENT: InvalidArgumentError,
  SHAPE_MISMATCH: ShapeMismatchError,
  NOT_IMPLEMENTED: NotImplementedError,
  MODEL_NOT_FOUND: ModelNotFoundError,
  MODEL_INVALID: ModelInvalidError,
  MODEL_MISMATCH: ModelMismatchError,
  BACKEND_UNAVAILABLE: BackendUnavailableError,
  INFERENCE_FAILED: InferenceFailedError,
  LIMIT_EXCEEDED: LimitExceededError,
};

/** A LatentkitError of the class that has `code`, with the fields its constructor takes. */
function construct(code: LatentkitErrorCode, error: WorkerError): LatentkitError {
  switch (code) {
    case 'DOWNLOAD_FAILED':
      return new DownloadFailedError(error.url ?? '', error.message);
    case 'NON_FINITE_OUTPUT':
      return new NonFiniteOutputError(error.message, error.step === undefined ? {} : { step: error.step });
    case 'UNKNOWN_SCHEDULER':
      return new UnknownSchedulerError(String(error.details?.value ?? ''), []);
    default: {
      const Class = SIMPLE[code];
      return Class ? new Class(error.message) : new LatentkitError(code, error.message);
    }
  }
}

/**
 * Rebuilds an error the worker flattened, keeping its class where latentkit has one (so `instanceof` and
 * `code` work), its message exactly, and its `details`.
 */
function revive(error: WorkerError): Error {
  if (error.name === 'AbortError') return new DOMException(error.message, 'AbortError');
  if (!error.code) {
    const plain = new Error(error.message);
    plain.name = error.name;
    return plain;
  }
  const revived = construct(error.code as LatentkitErrorCode, error);
  // Constructors rebuild messages from their arguments; keep the worker's own text and details.
  Object.defineProperty(revived, 'message', { value: error.message, writable: true, configurable: true });
  if (error.details) {
    Object.defineProperty(revived, 'details', { value: error.details, enumerable: true, configurable: true });
  }
  return revived;
}

/**
 * The error for a request `postMessage` could not copy (a function, a DOM node, … among its options): an
 * `InvalidArgumentError` naming the request, instead of the browser's `DataCloneError`.
 */
function uncloneable(request: WorkerRequest, error: unknown): unknown {
  if ((error as Error | undefined)?.name !== 'DataCloneError') return error;
  return new InvalidArgumentError({
    name: `${request.type} options`,
    value: (error as Error).message,
    expected:
      'values postMessage can copy to the worker: strings, numbers, booleans, plain objects, arrays and typed arrays (no functions, DOM nodes or class instances other than those)',
    fix: 'pass plain data, e.g. phrases as strings and boxes as arrays of numbers; callbacks go in onStep / onProgress / onWarning only',
  });
}

/**
 * Runs generation off the main thread: the page side of a module worker that calls
 * {@link serveGenerationWorker}. The page stays responsive while onnxruntime-web computes.
 *
 * ```ts
 * const gen = createGenerationWorker(new Worker(new URL('./generation.worker.ts', import.meta.url), { type: 'module' }));
 * await gen.load('/models/shapes/', { onProgress: (p) => bar.value = p.totalLoaded / p.totalBytes });
 * const { images } = await gen.generate({ prompt: 'a red circle', seed: 1, onStep: (s) => … });
 * drawImage(images[0], canvas);
 * ```
 *
 * @param worker - A Worker already running {@link serveGenerationWorker}, or its script URL (started as a
 *   module worker).
 */
export function createGenerationWorker(worker: Worker | URL | string): GenerationWorker {
  const w =
    typeof worker === 'string' || worker instanceof URL ? new Worker(worker, { type: 'module' }) : worker;
  const pending = new Map<number, Pending>();
  let nextId = 1;

  const fail = (error: unknown) => {
    for (const p of pending.values()) p.reject(error);
    pending.clear();
  };

  w.addEventListener('message', (event: MessageEvent<WorkerResponse>) => {
    const message = event.data;
    const p = pending.get(message.id);
    if (!p) return;
    switch (message.type) {
      case 'progress':
        p.onProgress?.(message.progress);
        break;
      case 'warning':
        (p.onWarning ?? ((m: string) => console.warn(m)))(message.message);
        break;
      case 'step':
        p.onStep?.(message.info);
        break;
      case 'loaded':
      case 'result':
        pending.delete(message.id);
        p.resolve(message.result as never);
        break;
      case 'disposed':
        pending.delete(message.id);
        p.resolve(undefined as never);
        break;
      case 'error':
        pending.delete(message.id);
        p.reject(revive(message.error));
        break;
    }
  });
  w.addEventListener('error', (event: ErrorEvent) => {
    fail(new BackendUnavailableError(`The generation worker failed: ${event.message || 'script error'}.`));
  });

  function send<T>(
    request: WorkerRequest,
    handlers: Omit<Pending, 'resolve' | 'reject' | 'kind'> = {},
  ): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      pending.set(request.id, {
        resolve: resolve as (value: never) => void,
        reject,
        kind: request.type,
        ...handlers,
      });
      try {
        w.postMessage(request);
      } catch (error) {
        pending.delete(request.id);
        reject(uncloneable(request, error));
      }
    });
  }

  /**
   * Sends an `upscale` or `layout` request, whose `model` URL is resolved against the page first, with
   * its callbacks kept here and its `signal` turned into a `cancel` message.
   */
  function sendWithModel<T>(
    type: 'upscale' | 'layout',
    options: WorkerUpscaleCallOptions | WorkerLayoutCallOptions,
  ): Promise<T> {
    const { onStep, onProgress, onWarning, signal, ...rest } = options;
    const id = nextId++;
    let model = rest.model;
    try {
      // Relative URLs mean the page's; anything not a URL string is refused by the worker, named.
      if (typeof model === 'string' && model !== '') {
        const resolved = resolveModelSource(model, rest.loadOptions ?? {});
        model = resolved.fromId ? model : resolved.base;
      }
    } catch (error) {
      return Promise.reject(error);
    }
    if (signal?.aborted) return Promise.reject(signal.reason);
    signal?.addEventListener('abort', () => w.postMessage({ type: 'cancel', id } satisfies WorkerRequest), {
      once: true,
    });
    const request = (
      type === 'upscale'
        ? { type, id, options: { ...(rest as WorkerUpscaleOptions), model } }
        : { type, id, options: { ...(rest as WorkerLayoutOptions), model } }
    ) satisfies WorkerRequest;
    return send<T>(request, {
      ...(onStep ? { onStep } : {}),
      ...(onProgress ? { onProgress } : {}),
      ...(onWarning ? { onWarning } : {}),
    });
  }

  return {
    worker: w,
    load(url, options = {}) {
      const { onProgress, onWarning, ...rest } = options;
      let absolute: string;
      try {
        // Relative URLs mean the page's: the worker would resolve them against its own script's URL. A hub
        // id (`org/name`) goes as it is: the worker resolves it with the same revision, token and hubUrl.
        const resolved = resolveModelSource(url, rest);
        absolute = resolved.fromId ? url : resolved.base;
      } catch (error) {
        return Promise.reject(error);
      }
      return send<WorkerLoadResult>(
        { type: 'load', id: nextId++, url: absolute, options: rest },
        { ...(onProgress ? { onProgress } : {}), ...(onWarning ? { onWarning } : {}) },
      );
    },
    generate(options) {
      const { onStep, onProgress, onWarning, signal, ...rest } = options;
      const id = nextId++;
      const refiner = rest.refiner;
      try {
        // A refiner's relative URL means the page's, as load's (anything not a URL string is refused by the worker).
        if (
          typeof refiner === 'object' &&
          refiner !== null &&
          typeof refiner.model === 'string' &&
          refiner.model !== ''
        ) {
          const resolved = resolveModelSource(refiner.model, refiner.loadOptions ?? {});
          if (!resolved.fromId) rest.refiner = { ...refiner, model: resolved.base };
        }
      } catch (error) {
        return Promise.reject(error);
      }
      if (signal?.aborted) return Promise.reject(signal.reason);
      signal?.addEventListener('abort', () => w.postMessage({ type: 'cancel', id } satisfies WorkerRequest), {
        once: true,
      });
      return send<WorkerGenerateResult>(
        { type: 'generate', id, options: rest },
        {
          ...(onStep ? { onStep } : {}),
          ...(onProgress ? { onProgress } : {}),
          ...(onWarning ? { onWarning } : {}),
        },
      );
    },
    upscale(options) {
      return sendWithModel<WorkerGenerateResult>('upscale', options);
    },
    generateLayout(options) {
      return sendWithModel<WorkerGenerateResult>('layout', options);
    },
    cancel() {
      for (const [id, p] of pending) {
        if (p.kind === 'generate' || p.kind === 'upscale' || p.kind === 'layout')
          w.postMessage({ type: 'cancel', id } satisfies WorkerRequest);
      }
    },
    dispose() {
      return send<void>({ type: 'dispose', id: nextId++ });
    },
    terminate() {
      w.terminate();
      fail(new DOMException('The generation worker was terminated', 'AbortError'));
    },
  };
}
