import {
  approximateLatentsToRgb,
  decodeLatentsToRgb,
  InvalidArgumentError,
  LatentkitError,
  type RgbaImage,
  StableDiffusionPipeline,
  type StepInfo,
} from '@latentkit/core';
import { createScheduler } from '@latentkit/schedulers';
import { webBackend } from '../web-backend.js';
import type {
  WorkerError,
  WorkerGenerateOptions,
  WorkerLoadOptions,
  WorkerRequest,
  WorkerResponse,
  WorkerStepInfo,
} from './messages.js';

/** The part of a worker's global scope the generation worker uses. */
export interface WorkerScopeLike {
  addEventListener(type: 'message', listener: (event: MessageEvent<WorkerRequest>) => void): void;
  postMessage(message: WorkerResponse, transfer?: Transferable[]): void;
}

function flatten(error: unknown): WorkerError {
  if (error instanceof LatentkitError) {
    const extra = error as LatentkitError & { url?: string; step?: number };
    return {
      name: error.name,
      message: error.message,
      code: error.code,
      ...(typeof extra.url === 'string' ? { url: extra.url } : {}),
      ...(typeof extra.step === 'number' ? { step: extra.step } : {}),
      ...(error.details ? { details: { ...error.details, value: cloneable(error.details.value) } } : {}),
    };
  }
  if (error instanceof Error || error instanceof DOMException)
    return { name: error.name, message: error.message };
  return { name: 'Error', message: String(error) };
}

/** A value as it can cross postMessage (functions and class instances become their description). */
function cloneable(value: unknown): unknown {
  if (value === null || ['string', 'number', 'boolean', 'bigint', 'undefined'].includes(typeof value)) {
    return value;
  }
  return Array.isArray(value) && value.every((v) => typeof v === 'number') ? [...value] : String(value);
}

/** Resolves after one macrotask turn (a MessageChannel message: no setTimeout clamping). */
function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => {
    const channel = new MessageChannel();
    channel.port1.onmessage = () => {
      channel.port1.close();
      resolve();
    };
    channel.port2.postMessage(null);
  });
}

/** The UNet's `sample_size` where the denoiser knows it (latentkit's ONNX UNet does), else NaN. */
function sampleSizeOf(denoiser: object): number {
  const size = (denoiser as { sampleSize?: unknown }).sampleSize;
  return typeof size === 'number' ? size : Number.NaN;
}

function transfers(images: readonly RgbaImage[]): Transferable[] {
  return images.map((image) => image.data.buffer as ArrayBuffer);
}

/**
 * Runs the worker side of {@link createGenerationWorker}: loads a model with {@link webBackend} and
 * generates on request, posting download progress, steps (with previews) and images back. Put it in a
 * module worker file of your app:
 *
 * ```ts
 * // generation.worker.ts
 * import { serveGenerationWorker } from '@latentkit/backend-web';
 * serveGenerationWorker();
 * ```
 *
 * One model per worker; one generation at a time (the client queues). `cancel` aborts the running
 * generation at the next step through an `AbortSignal`.
 *
 * @param scope - The worker's global scope (default `self`).
 */
export function serveGenerationWorker(scope: WorkerScopeLike = self as unknown as WorkerScopeLike): void {
  let pipe: StableDiffusionPipeline | undefined;
  let release: (() => Promise<void>) | undefined;
  let modelScheduler: Readonly<Record<string, unknown>> = {};
  const running = new Map<number, AbortController>();
  // Requests are handled one after another, so a generate never sees a half-loaded model.
  let queue: Promise<void> = Promise.resolve();
  const post = (message: WorkerResponse, transfer: Transferable[] = []) =>
    scope.postMessage(message, transfer);

  async function load(id: number, url: string, options: WorkerLoadOptions): Promise<void> {
    const start = performance.now();
    await release?.();
    pipe = undefined;
    release = undefined;
    const parts = await webBackend.load(url, {
      ...options,
      onProgress: (progress) => post({ type: 'progress', id, progress }),
      onWarning: (message) => post({ type: 'warning', id, message }),
    });
    pipe = new StableDiffusionPipeline(parts);
    release = () => parts.dispose();
    modelScheduler = pipe.scheduler.config;
    post({
      type: 'loaded',
      id,
      result: {
        providers: { ...parts.providers },
        numThreads: parts.numThreads,
        imageSize: sampleSizeOf(parts.denoiser) * parts.codec.downscale || undefined,
        scheduler: String(modelScheduler['_class_name'] ?? pipe.scheduler.constructor.name),
        loadMs: performance.now() - start,
      },
    });
  }

  async function generate(id: number, options: WorkerGenerateOptions, signal: AbortSignal): Promise<void> {
    const start = performance.now();
    if (!pipe) {
      throw new InvalidArgumentError({
        name: 'generate',
        value: undefined,
        expected: 'a loaded model',
        fix: 'await worker.load(url) before worker.generate()',
      });
    }
    const { scheduler, preview, ...rest } = options;
    pipe.scheduler = createScheduler(scheduler ?? String(modelScheduler['_class_name']), modelScheduler);
    const every = Math.max(1, Math.floor(preview?.every ?? 1));
    let previewMs = 0;
    const model = pipe;
    const onStep = async (info: StepInfo): Promise<void> => {
      // onnxruntime-web's runs can finish without giving the event loop a turn, so a `cancel` message
      // would wait for the whole generation: let queued messages in once per step.
      await yieldToEventLoop();
      const step: WorkerStepInfo = { step: info.step, totalSteps: info.totalSteps, timestep: info.timestep };
      const last = info.step === info.totalSteps - 1;
      if (preview && !last && (info.step + 1) % every === 0) {
        const t0 = performance.now();
        const previews =
          preview.mode === 'approximate'
            ? approximateLatentsToRgb(info.latents, preview.factors)
            : await decodeLatentsToRgb(model.codec, info.latents);
        previewMs += performance.now() - t0;
        post({ type: 'step', id, info: { ...step, previews } }, transfers(previews));
        return;
      }
      post({ type: 'step', id, info: step });
    };
    const { images, parameters } = await model.generate({ ...rest, onStep, signal });
    post(
      { type: 'result', id, result: { images, parameters, totalMs: performance.now() - start, previewMs } },
      transfers(images),
    );
  }

  function enqueue(id: number, work: () => Promise<void>): void {
    queue = queue.then(async () => {
      try {
        await work();
      } catch (error) {
        post({ type: 'error', id, error: flatten(error) });
      }
    });
  }

  scope.addEventListener('message', (event) => {
    const request = event.data;
    switch (request.type) {
      case 'load':
        enqueue(request.id, () => load(request.id, request.url, request.options));
        break;
      case 'generate': {
        const controller = new AbortController();
        running.set(request.id, controller);
        enqueue(request.id, () =>
          generate(request.id, request.options, controller.signal).finally(() => running.delete(request.id)),
        );
        break;
      }
      case 'cancel':
        // Not queued: it must reach a generation that is running.
        running.get(request.id)?.abort(new DOMException('Generation cancelled', 'AbortError'));
        break;
      case 'dispose':
        enqueue(request.id, async () => {
          await release?.();
          pipe = undefined;
          release = undefined;
          post({ type: 'disposed', id: request.id });
        });
        break;
    }
  });
}
