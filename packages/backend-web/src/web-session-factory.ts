import { InvalidArgumentError, ModelInvalidError } from '@latentkit/core';
import {
  checkGraphOptimizationLevel,
  checkProviderOptions,
  checkStaticShapes,
  createWithFallback,
  type GraphOptimizationLevel,
  type OrtFeedData,
  ProviderSkipped,
  readGraphInputs,
  readOnnxModelInfo,
  readPatchedModel,
  readStaticShapeContext,
  type SessionFactory,
  type SessionRequest,
  type StaticShapeContext,
  StaticShapeSession,
  type StaticShapes,
  staticDimensions,
} from '@latentkit/onnx';
import * as ort from 'onnxruntime-web';
import { GPU_IO_SESSION_OPTIONS, GpuIoSession } from './gpu-io-session.js';
import { probeWebGpu } from './webgpu-adapter.js';

/**
 * The execution providers of onnxruntime-web latentkit uses: `webgpu` (the GPU, through WebGPU) and
 * `wasm` (the CPU, through WebAssembly; multi-threaded on cross-origin isolated pages).
 */
export const WEB_EXECUTION_PROVIDERS = ['webgpu', 'wasm'] as const;

/** One of {@link WEB_EXECUTION_PROVIDERS}. */
export type WebExecutionProvider = (typeof WEB_EXECUTION_PROVIDERS)[number];

/** onnxruntime's graph optimisation levels (the same as onnxruntime-node's). */
export type WebGraphOptimizationLevel = GraphOptimizationLevel;

/** How sessions are made on onnxruntime-web. */
export interface WebSessionOptions {
  /**
   * Execution providers in order of preference (default `['webgpu', 'wasm']`). When one cannot run a
   * component — no WebGPU, or a float16 model on an adapter without `shader-f16` — the next is tried and
   * `onWarning` is told why.
   */
  providers?: readonly WebExecutionProvider[];
  /** Per-component providers, by folder name, e.g. `{ vae_decoder: ['wasm'] }`; they replace `providers`. */
  componentProviders?: Readonly<Record<string, readonly WebExecutionProvider[]>>;
  /**
   * WebAssembly threads (`ort.env.wasm.numThreads`). Default: up to 4 (half the cores) on cross-origin
   * isolated pages, else 1 — threads need `SharedArrayBuffer`, which browsers only give pages served with
   * `Cross-Origin-Opener-Policy: same-origin` and `Cross-Origin-Embedder-Policy: require-corp`.
   * onnxruntime-web reads it once, when the first session is created.
   */
  numThreads?: number;
  /**
   * Where onnxruntime-web's `.wasm`/`.mjs` files are served (`ort.env.wasm.wasmPaths`): a URL prefix, or
   * `{ wasm, mjs }` file URLs. Default: beside onnxruntime-web's own script, which bundlers such as Vite
   * copy for you.
   */
  wasmPaths?: string | { wasm?: string; mjs?: string };
  /** onnxruntime's graph optimisation level. Default `'all'`. */
  graphOptimizationLevel?: WebGraphOptimizationLevel;
  /**
   * onnxruntime-web's log level (`ort.env.logLevel`, for the whole page or worker). Its default,
   * `warning`, logs a line per session about nodes placed on the CPU; `error` keeps the console quiet.
   */
  logLevel?: 'verbose' | 'info' | 'warning' | 'error' | 'fatal';
  /** Receives fallback warnings. Default `console.warn`. */
  onWarning?: (message: string) => void;
  /** Any other onnxruntime session options, merged last (advanced). */
  sessionOptions?: Omit<ort.InferenceSession.SessionOptions, 'executionProviders' | 'externalData'>;
  /**
   * Fixes the free dimensions of the UNet and VAE decoder graphs for one size and batch (onnxruntime-web's
   * `freeDimensionOverrides`, mapped from the export's own dimension names; docs/browser.md, "Static shapes
   * and GPU options"). A `generate()` at another size or batch is refused with a `ShapeMismatchError`.
   * Default: dynamic shapes.
   */
  staticShapes?: StaticShapes;
  /**
   * WebGPU graph capture for the UNet (onnxruntime-web's `enableGraphCapture`): its GPU commands are recorded
   * at the first call and replayed at every later one. Needs `staticShapes`; applies only where the UNet runs
   * on `webgpu` (its feeds are then written into GPU buffers made once, and its output read back). Default off.
   */
  graphCapture?: boolean;
}

/** Which provider each component's session runs on, once created. */
export type WebProviderAssignment = Record<string, WebExecutionProvider>;

/** Pages without cross-origin isolation have no SharedArrayBuffer, hence no wasm threads. Node has them. */
function crossOriginIsolated(): boolean {
  return (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated !== false;
}

function defaultThreads(): number {
  if (!crossOriginIsolated()) return 1;
  const cores =
    (globalThis.navigator as { hardwareConcurrency?: number } | undefined)?.hardwareConcurrency ?? 2;
  return Math.max(1, Math.min(4, Math.ceil(cores / 2)));
}

// onnxruntime-web reads its wasm settings once, at its first session: remember what we set then.
let runtimeThreads: number | undefined;
let webGpuAdapterSet = false;

/**
 * The {@link SessionFactory} over onnxruntime-web: sessions from model bytes (external weight files are
 * fetched from the same {@link @latentkit/onnx!ModelSource} and handed over as `externalData`), WebGPU with a WASM
 * fallback, float16 models only where the GPU can compute in float16.
 */
export class WebSessionFactory implements SessionFactory {
  /** The provider each component got (after any fallback). */
  readonly assignment: WebProviderAssignment = {};
  /** The wasm threads onnxruntime-web runs with (fixed by the first session of the page or worker). */
  readonly numThreads: number;
  private readonly sessions: ort.InferenceSession[] = [];
  private readonly options: WebSessionOptions;
  private readonly warn: (message: string) => void;
  private readonly warnedSkips = new Set<string>();
  private context: Promise<StaticShapeContext> | undefined;

  /** @param options providers, threads, wasm paths; see {@link WebSessionOptions}. */
  constructor(options: WebSessionOptions = {}) {
    checkProviderOptions(options, WEB_EXECUTION_PROVIDERS, "['webgpu', 'wasm']");
    checkGraphOptimizationLevel(options.graphOptimizationLevel);
    checkStaticShapes(options.staticShapes);
    if (options.graphCapture !== undefined && typeof options.graphCapture !== 'boolean') {
      throw new InvalidArgumentError({
        name: 'graphCapture',
        value: options.graphCapture,
        expected: 'true or false',
      });
    }
    if (options.graphCapture && !options.staticShapes) {
      throw new InvalidArgumentError({
        name: 'graphCapture',
        value: true,
        expected: 'staticShapes too: a captured graph replays one shape',
        fix: 'add staticShapes: { width, height } for the size you generate at',
      });
    }
    const threads = options.numThreads;
    if (threads !== undefined && (!Number.isInteger(threads) || threads < 1)) {
      throw new InvalidArgumentError({ name: 'numThreads', value: threads, expected: 'an integer ≥ 1' });
    }
    this.options = options;
    this.warn = options.onWarning ?? ((message) => console.warn(message));
    this.numThreads = this.configureRuntime();
  }

  private configureRuntime(): number {
    if (this.options.logLevel !== undefined) ort.env.logLevel = this.options.logLevel;
    let wanted = this.options.numThreads ?? defaultThreads();
    if (wanted > 1 && !crossOriginIsolated()) {
      this.warn(
        `latentkit: numThreads ${wanted} needs a cross-origin isolated page (headers Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp); running WebAssembly on 1 thread.`,
      );
      wanted = 1;
    }
    if (runtimeThreads === undefined) {
      runtimeThreads = wanted;
      ort.env.wasm.numThreads = wanted;
      if (this.options.wasmPaths !== undefined) ort.env.wasm.wasmPaths = this.options.wasmPaths;
    } else if (runtimeThreads !== wanted && this.options.numThreads !== undefined) {
      this.warn(
        `latentkit: onnxruntime-web already runs with ${runtimeThreads} thread(s) in this page or worker (set at the first load); numThreads ${wanted} is ignored. Fix: load in a fresh worker.`,
      );
    }
    return runtimeThreads;
  }

  /** The providers tried for a component, in order. */
  providersFor(component: string): readonly WebExecutionProvider[] {
    return this.options.componentProviders?.[component] ?? this.options.providers ?? WEB_EXECUTION_PROVIDERS;
  }

  /** Creates a session, trying each provider in turn (see {@link WebSessionOptions.providers}). */
  async create(request: SessionRequest): Promise<ort.InferenceSession> {
    const { component, modelPath, source } = request;
    // The model with any initializer overrides applied, and its external weight files.
    const { model, externalData } = await readPatchedModel(request);
    const info = readOnnxModelInfo(model, modelPath);
    const shapes = this.options.staticShapes;
    if (shapes) this.context ??= readStaticShapeContext(source);
    const dims = shapes
      ? staticDimensions(component, readGraphInputs(model, modelPath), shapes, await this.context)
      : undefined;
    const overrides = dims ? { freeDimensionOverrides: { ...dims.overrides } } : {};
    const capturing = this.options.graphCapture === true && component === 'unet' && dims !== undefined;
    const providers = this.providersFor(component);
    const where = `${modelPath} in ${source.location}`;
    // A provider skipped for a reason that holds for every component (no WebGPU, no shader-f16) is
    // reported once per factory, not once per component.
    let skipped: string | undefined;
    const warnOnce = (message: string) => {
      if (skipped !== undefined) {
        if (this.warnedSkips.has(skipped)) return;
        this.warnedSkips.add(skipped);
      }
      this.warn(message);
    };
    const { value: session, provider } = await createWithFallback(
      providers,
      async (p) => {
        if (p === 'webgpu') {
          const gpu = await probeWebGpu();
          skipped = undefined;
          if (!gpu.adapter) {
            skipped = gpu.unavailable ?? 'no WebGPU adapter';
            throw new ProviderSkipped(skipped);
          }
          if (info.usesFloat16 && !gpu.shaderF16) {
            // Without shader-f16 onnxruntime-web either refuses float16 kernels or computes garbage.
            skipped = `the model is float16 and this WebGPU adapter (${gpu.description}) lacks the "shader-f16" feature; use an fp32 export (modelFiles option) or a GPU that has it`;
            throw new ProviderSkipped(skipped);
          }
          if (!webGpuAdapterSet) {
            ort.env.webgpu.adapter = gpu.adapter as unknown as typeof ort.env.webgpu.adapter;
            webGpuAdapterSet = true;
          }
        }
        skipped = undefined;
        const capture = p === 'webgpu' && capturing ? GPU_IO_SESSION_OPTIONS : {};
        return ort.InferenceSession.create(model, {
          ...this.sessionOptions(p, externalData),
          ...overrides,
          ...capture,
        });
      },
      {
        what: `${component} (${where})`,
        warn: warnOnce,
        onAllFailed: (failures) => {
          const last = failures.at(-1);
          // WebAssembly is always there once its files load, so its failure blames the model file.
          if (last?.provider !== 'wasm' || last.reason.includes('no available backend')) return undefined;
          const list = failures.map((f) => `${f.provider}: ${f.reason}`).join('; ');
          return new ModelInvalidError(`onnxruntime-web could not load ${where}: ${list}.`);
        },
      },
    );
    const gpu =
      capturing && provider === 'webgpu' ? new GpuIoSession(session, ort.env.webgpu.device) : session;
    const made = dims ? new StaticShapeSession(gpu, dims, component) : gpu;
    this.sessions.push(made);
    this.assignment[component] = provider;
    return made;
  }

  /** Makes an onnxruntime-web tensor (sessions only accept their runtime's own Tensor class). */
  createTensor(feed: OrtFeedData, dims: readonly number[]): ort.Tensor {
    switch (feed.type) {
      case 'float32':
        return new ort.Tensor('float32', feed.data, dims);
      case 'float16':
        return new ort.Tensor('float16', feed.data, dims);
      case 'int32':
        return new ort.Tensor('int32', feed.data, dims);
      case 'int64':
        return new ort.Tensor('int64', feed.data, dims);
      default:
        throw new InvalidArgumentError({
          name: 'feed.type',
          value: (feed as { type: unknown }).type,
          expected: 'float32, float16, int32 or int64',
        });
    }
  }

  /** Releases one session this factory made and forgets it (see {@link SessionFactory.release}). */
  async release(session: ort.InferenceSession): Promise<void> {
    const i = this.sessions.indexOf(session);
    if (i >= 0) this.sessions.splice(i, 1);
    await session.release();
  }

  /** Releases every session this factory made (safe to call twice). */
  async releaseAll(): Promise<void> {
    const sessions = this.sessions.splice(0);
    await Promise.all(sessions.map((s) => s.release().catch(() => undefined)));
  }

  private sessionOptions(
    provider: WebExecutionProvider,
    externalData: readonly { path: string; data: Uint8Array }[],
  ): ort.InferenceSession.SessionOptions {
    return {
      graphOptimizationLevel: this.options.graphOptimizationLevel ?? 'all',
      ...this.options.sessionOptions,
      ...(externalData.length > 0 ? { externalData } : {}),
      // One provider per try, so a failure is ours to report and we know which one runs.
      executionProviders: [provider],
    };
  }
}
