import {
  approximateLatentsToRgb,
  checkRefinerHandOffOptions,
  decodeLatentsToRgb,
  generateWithRefiner,
  InvalidArgumentError,
  LatentkitError,
  type PipelineBase,
  type RgbaImage,
  StableDiffusionGLIGENPipeline,
  StableDiffusionPipeline,
  StableDiffusionUpscalePipeline,
  StableDiffusionXLPipeline,
  type StepInfo,
} from '@latentkit/core';
import { createScheduler } from '@latentkit/schedulers';
import { webBackend } from '../web-backend.js';
import { checkLayoutRequest } from './layout-request.js';
import type {
  PreviewOptions,
  WorkerError,
  WorkerGenerateOptions,
  WorkerGenerateResult,
  WorkerLayoutOptions,
  WorkerLoadOptions,
  WorkerRefinerOptions,
  WorkerRequest,
  WorkerResponse,
  WorkerStepInfo,
  WorkerUpscaleOptions,
  WorkerVaeTiling,
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

/**
 * Checks a `vaeTiling` setting's form before any download (its tile sizes are checked against the model's
 * VAE by `enableVaeTiling`).
 */
function checkVaeTiling(name: string, value: unknown): WorkerVaeTiling | undefined {
  if (value === undefined || typeof value === 'boolean') return value;
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as WorkerVaeTiling;
  throw new InvalidArgumentError({
    name,
    value,
    expected:
      "true (diffusers' 512 px tiles), false, or { tileSampleSize?, tileLatentSize?, tileOverlapFactor? }",
    fix: 'pass vaeTiling: true, or tile options such as { tileSampleSize: 256 }',
  });
}

/** Turns the pipeline's VAE tiling on (with options) or off, for the next call. */
function applyVaeTiling(pipe: PipelineBase, setting: WorkerVaeTiling | undefined): void {
  if (setting === undefined || setting === false) pipe.disableVaeTiling();
  else pipe.enableVaeTiling(setting === true ? undefined : setting);
}

/** The upscale request's fields the worker itself takes; the rest go to the upscaler's `generate()`. */
function checkUpscaleRequest(options: WorkerUpscaleOptions): void {
  if (typeof options.model !== 'string' || options.model === '') {
    throw new InvalidArgumentError({
      name: 'upscale model',
      value: options.model,
      expected:
        "the URL of an x4 upscaler folder (model_index.json with _class_name 'StableDiffusionUpscalePipeline')",
      fix: "pass model: e.g. './models/shapes-upscaler/'",
    });
  }
  const image = options.image as Partial<RgbaImage> | undefined;
  if (
    typeof image !== 'object' ||
    image === null ||
    !(image.data instanceof Uint8ClampedArray) ||
    !Number.isSafeInteger(image.width) ||
    !Number.isSafeInteger(image.height)
  ) {
    throw new InvalidArgumentError({
      name: 'upscale image',
      value: image,
      expected: 'an RgbaImage { width, height, data: Uint8ClampedArray } (e.g. a generate() result)',
      fix: 'pass the image to upscale, e.g. images[0] of worker.generate()',
    });
  }
  checkVaeTiling('upscale vaeTiling', options.vaeTiling);
  checkVaeTiling('upscale loadOptions.vaeTiling', options.loadOptions?.vaeTiling);
}

/** The refiner request's own fields, checked before any download (the rest by `generateWithRefiner`). */
function checkRefinerRequest(refiner: WorkerRefinerOptions): void {
  if (typeof refiner !== 'object' || refiner === null || Array.isArray(refiner)) {
    throw new InvalidArgumentError({
      name: 'refiner',
      value: refiner,
      expected: '{ model, highNoiseFrac?, aestheticScore?, negativeAestheticScore?, loadOptions? }',
      fix: "pass refiner: { model: './models/sdxl-refiner/' }",
    });
  }
  if (typeof refiner.model !== 'string' || refiner.model === '') {
    throw new InvalidArgumentError({
      name: 'refiner model',
      value: refiner.model,
      expected:
        "the URL of an SDXL refiner folder (model_index.json with _class_name 'StableDiffusionXLImg2ImgPipeline')",
      fix: "pass refiner: { model: './models/sdxl-refiner/' }",
    });
  }
  checkVaeTiling('refiner loadOptions.vaeTiling', refiner.loadOptions?.vaeTiling);
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
 * One model per worker, plus an x4 upscaler loaded by the first `upscale` request and a grounded
 * (GLIGEN) model loaded by the first `layout` request; one generation, upscale or layout at a time (the
 * client queues). `cancel` aborts the running one at the next step through an
 * `AbortSignal`. `vaeTiling` (on load, or per call) decodes in tiles as diffusers' `enable_vae_tiling()`.
 *
 * @param scope - The worker's global scope (default `self`).
 */
export function serveGenerationWorker(scope: WorkerScopeLike = self as unknown as WorkerScopeLike): void {
  // An SDXL folder (base, refiner, Turbo) runs with StableDiffusionXLPipeline, any other with StableDiffusionPipeline.
  let pipe: StableDiffusionPipeline | StableDiffusionXLPipeline | undefined;
  let release: (() => Promise<void>) | undefined;
  let modelScheduler: Readonly<Record<string, unknown>> = {};
  let modelTiling: WorkerVaeTiling | undefined;
  // The x4 upscaler, loaded on the first upscale request and kept while its URL and load options stay the same.
  let upscaler: { key: string; pipe: StableDiffusionUpscalePipeline } | undefined;
  // The grounded (GLIGEN) model, loaded on the first layout request and kept the same way, with its own
  // scheduler config (each call builds the scheduler it asks for from it).
  let grounded:
    | { key: string; pipe: StableDiffusionGLIGENPipeline; scheduler: Readonly<Record<string, unknown>> }
    | undefined;
  // The SDXL refiner of `generate` requests with `refiner`, loaded on first use and kept the same way.
  let refinerModel:
    | { key: string; pipe: StableDiffusionXLPipeline; scheduler: Readonly<Record<string, unknown>> }
    | undefined;
  const running = new Map<number, AbortController>();
  // Requests are handled one after another, so a generate never sees a half-loaded model.
  let queue: Promise<void> = Promise.resolve();
  const post = (message: WorkerResponse, transfer: Transferable[] = []) =>
    scope.postMessage(message, transfer);

  async function load(id: number, url: string, options: WorkerLoadOptions): Promise<void> {
    const start = performance.now();
    const { vaeTiling, ...backendOptions } = options;
    const tiling = checkVaeTiling('vaeTiling', vaeTiling);
    await release?.();
    pipe = undefined;
    release = undefined;
    const parts = await webBackend.load(url, {
      ...backendOptions,
      onProgress: (progress) => post({ type: 'progress', id, progress }),
      onWarning: (message) => post({ type: 'warning', id, message }),
    });
    const loaded = parts.sdxl
      ? new StableDiffusionXLPipeline(parts, parts.sdxl)
      : new StableDiffusionPipeline(parts);
    try {
      applyVaeTiling(loaded, tiling);
    } catch (error) {
      await parts.dispose();
      throw error;
    }
    pipe = loaded;
    modelTiling = tiling;
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
        pipeline: parts.sdxl ? 'StableDiffusionXLPipeline' : 'StableDiffusionPipeline',
        loadMs: performance.now() - start,
      },
    });
  }

  /**
   * The `onStep` of a generation: lets queued messages (a `cancel`) in, and posts each step, with
   * previews when asked for and due. Returns it and a reader of the milliseconds previews took.
   */
  function stepReporter(
    id: number,
    codec: PipelineBase['codec'],
    preview: PreviewOptions | undefined,
  ): {
    onStep: (info: StepInfo & { pass?: 'base' | 'refiner'; codec?: PipelineBase['codec'] }) => Promise<void>;
    previewMs: () => number;
  } {
    const every = Math.max(1, Math.floor(preview?.every ?? 1));
    let previewMs = 0;
    const onStep = async (
      info: StepInfo & { pass?: 'base' | 'refiner'; codec?: PipelineBase['codec'] },
    ): Promise<void> => {
      // onnxruntime-web's runs can finish without giving the event loop a turn, so a `cancel` message
      // would wait for the whole generation: let queued messages in once per step.
      await yieldToEventLoop();
      const step: WorkerStepInfo = {
        step: info.step,
        totalSteps: info.totalSteps,
        timestep: info.timestep,
        ...(info.pass ? { pass: info.pass } : {}),
      };
      const last = info.step === info.totalSteps - 1;
      if (preview && !last && (info.step + 1) % every === 0) {
        const t0 = performance.now();
        const previews =
          preview.mode === 'approximate'
            ? approximateLatentsToRgb(info.latents, preview.factors)
            : await decodeLatentsToRgb(info.codec ?? codec, info.latents);
        previewMs += performance.now() - t0;
        post({ type: 'step', id, info: { ...step, previews } }, transfers(previews));
        return;
      }
      post({ type: 'step', id, info: step });
    };
    return { onStep, previewMs: () => previewMs };
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
    const { scheduler, preview, vaeTiling, refiner, ...rest } = options;
    const tiling = checkVaeTiling('vaeTiling', vaeTiling);
    if (refiner !== undefined) {
      checkRefinerRequest(refiner);
      if (!(pipe instanceof StableDiffusionXLPipeline)) {
        throw new InvalidArgumentError({
          name: 'refiner',
          value: refiner.model,
          expected: "an SDXL model loaded first: the refiner continues an SDXL base's latents",
          fix: 'load an SDXL base model (worker.load), or drop refiner',
        });
      }
    }
    if (refiner !== undefined) {
      const { model: _url, loadOptions: _load, ...handOff } = refiner;
      checkRefinerHandOffOptions({ ...rest, ...handOff }); // before the refiner's download
    }
    applyVaeTiling(pipe, tiling ?? modelTiling);
    pipe.scheduler = createScheduler(scheduler ?? String(modelScheduler['_class_name']), modelScheduler);
    const model = pipe;
    const { onStep, previewMs } = stepReporter(id, model.codec, preview);
    let result: { images: RgbaImage[]; parameters: WorkerGenerateResult['parameters'] };
    if (refiner !== undefined && model instanceof StableDiffusionXLPipeline) {
      const second = await loadRefiner(id, refiner);
      applyVaeTiling(second, tiling ?? refiner.loadOptions?.vaeTiling);
      // the refiner runs the call's sampler, built from its own scheduler config (as the CLI's --refiner)
      const config = refinerModel!.scheduler;
      second.scheduler = createScheduler(scheduler ?? String(config['_class_name']), config);
      const { model: _url, loadOptions: _load, ...handOff } = refiner;
      result = await generateWithRefiner(model, second, {
        ...rest,
        ...handOff,
        onStep: (info) => onStep(info.pass === 'refiner' ? { ...info, codec: second.codec } : info),
        signal,
      });
    } else {
      result = await model.generate({ ...rest, onStep, signal });
    }
    const { images, parameters } = result;
    post(
      {
        type: 'result',
        id,
        result: { images, parameters, totalMs: performance.now() - start, previewMs: previewMs() },
      },
      transfers(images),
    );
  }

  /** The refiner of a `generate` request, loaded on first use and kept while its URL and load options stay. */
  async function loadRefiner(id: number, request: WorkerRefinerOptions): Promise<StableDiffusionXLPipeline> {
    const { vaeTiling: _tiling, ...backendOptions } = request.loadOptions ?? {};
    const key = JSON.stringify([request.model, backendOptions]);
    if (refinerModel?.key !== key) {
      await refinerModel?.pipe.dispose();
      refinerModel = undefined;
      const loaded = await StableDiffusionXLPipeline.fromPretrained(request.model, {
        backend: webBackend,
        ...backendOptions,
        onProgress: (progress) => post({ type: 'progress', id, progress }),
        onWarning: (message) => post({ type: 'warning', id, message }),
      });
      refinerModel = { key, pipe: loaded, scheduler: loaded.scheduler.config };
    }
    return refinerModel.pipe;
  }

  async function upscale(id: number, options: WorkerUpscaleOptions, signal: AbortSignal): Promise<void> {
    const start = performance.now();
    checkUpscaleRequest(options);
    const { model, loadOptions = {}, vaeTiling, ...rest } = options;
    const { vaeTiling: loadTiling, ...backendOptions } = loadOptions;
    const key = JSON.stringify([model, backendOptions]);
    if (upscaler?.key !== key) {
      await upscaler?.pipe.dispose();
      upscaler = undefined;
      const loaded = await StableDiffusionUpscalePipeline.fromPretrained(model, {
        backend: webBackend,
        ...backendOptions,
        onProgress: (progress) => post({ type: 'progress', id, progress }),
        onWarning: (message) => post({ type: 'warning', id, message }),
      });
      upscaler = { key, pipe: loaded };
    }
    const up = upscaler.pipe;
    applyVaeTiling(up, vaeTiling ?? loadTiling);
    const onStep = async (info: StepInfo): Promise<void> => {
      await yieldToEventLoop(); // let a `cancel` in, as in generate
      post({
        type: 'step',
        id,
        info: { step: info.step, totalSteps: info.totalSteps, timestep: info.timestep },
      });
    };
    const { images, parameters } = await up.generate({ ...rest, onStep, signal });
    post(
      {
        type: 'result',
        id,
        result: { images, parameters, totalMs: performance.now() - start, previewMs: 0 },
      },
      transfers(images),
    );
  }

  async function layout(id: number, options: WorkerLayoutOptions, signal: AbortSignal): Promise<void> {
    const start = performance.now();
    checkLayoutRequest(options);
    const { model, loadOptions = {}, scheduler, preview, vaeTiling, ...rest } = options;
    checkVaeTiling('layout vaeTiling', vaeTiling);
    const { vaeTiling: loadTiling, ...backendOptions } = loadOptions;
    checkVaeTiling('layout loadOptions.vaeTiling', loadTiling);
    const key = JSON.stringify([model, backendOptions]);
    if (grounded?.key !== key) {
      await grounded?.pipe.dispose();
      grounded = undefined;
      const loaded = await StableDiffusionGLIGENPipeline.fromPretrained(model, {
        backend: webBackend,
        ...backendOptions,
        onProgress: (progress) => post({ type: 'progress', id, progress }),
        onWarning: (message) => post({ type: 'warning', id, message }),
      });
      grounded = { key, pipe: loaded, scheduler: loaded.scheduler.config };
    }
    const { pipe: gligen, scheduler: config } = grounded;
    applyVaeTiling(gligen, vaeTiling ?? loadTiling);
    gligen.scheduler = createScheduler(scheduler ?? String(config['_class_name']), config);
    const { onStep, previewMs } = stepReporter(id, gligen.codec, preview);
    const { images, parameters } = await gligen.generate({ ...rest, onStep, signal });
    post(
      {
        type: 'result',
        id,
        result: { images, parameters, totalMs: performance.now() - start, previewMs: previewMs() },
      },
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
      case 'upscale': {
        const controller = new AbortController();
        running.set(request.id, controller);
        enqueue(request.id, () =>
          upscale(request.id, request.options, controller.signal).finally(() => running.delete(request.id)),
        );
        break;
      }
      case 'layout': {
        const controller = new AbortController();
        running.set(request.id, controller);
        enqueue(request.id, () =>
          layout(request.id, request.options, controller.signal).finally(() => running.delete(request.id)),
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
          await upscaler?.pipe.dispose();
          await grounded?.pipe.dispose();
          await refinerModel?.pipe.dispose();
          refinerModel = undefined;
          pipe = undefined;
          release = undefined;
          upscaler = undefined;
          grounded = undefined;
          post({ type: 'disposed', id: request.id });
        });
        break;
    }
  });
}
