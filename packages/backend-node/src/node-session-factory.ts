import { dirname } from 'node:path';
import { BackendUnavailableError, InvalidArgumentError, ModelInvalidError } from '@latentkit/core';
import {
  checkGraphOptimizationLevel,
  checkProviderOptions,
  checkStaticShapes,
  createWithFallback,
  fixGraphInputDims,
  type GraphOptimizationLevel,
  type OrtFeedData,
  patchInitializers,
  readGraphInputs,
  readPatchedModel,
  readStaticShapeContext,
  type SessionFactory,
  type SessionRequest,
  STATIC_SHAPE_COMPONENTS,
  type StaticDimensions,
  type StaticShapeContext,
  StaticShapeSession,
  type StaticShapes,
  staticDimensions,
  WrappedSession,
} from '@latentkit/onnx';
import { InferenceSession, Tensor as OrtTensor, env as ortEnv } from 'onnxruntime-node';
import {
  type CpuMemoryMode,
  checkCpuMemoryMode,
  cpuMemorySessionOptions,
  createsOneAtATime,
  RowByRowSession,
  runsRowByRow,
  SerialQueue,
} from './cpu-memory.js';
import { EXECUTION_PROVIDERS, type ExecutionProviderName } from './execution-providers.js';
import { FileModelSource } from './file-model-source.js';
import { SessionWorkerHost } from './session-worker-host.js';
import type { CreatedSession } from './session-worker-protocol.js';
import { WorkerInferenceSession } from './worker-inference-session.js';

export type { GraphOptimizationLevel, StaticShapes };

/** How sessions are made on onnxruntime-node. */
export interface NodeSessionOptions {
  /**
   * Execution providers in order of preference; when creating a session with one fails, the next is
   * tried and `onWarning` is told which failed for which component and why. Default `['cpu']`.
   */
  providers?: readonly ExecutionProviderName[];
  /** Per-component providers, by folder name, e.g. `{ vae_decoder: ['cpu'] }`; they replace `providers`. */
  componentProviders?: Readonly<Record<string, readonly ExecutionProviderName[]>>;
  /** onnxruntime's graph optimisation level. Default `'all'`. */
  graphOptimizationLevel?: GraphOptimizationLevel;
  /** Threads within one operator (onnxruntime's default: one per physical core). */
  intraOpNumThreads?: number;
  /** Threads across operators (used only with parallel execution). */
  interOpNumThreads?: number;
  /**
   * onnxruntime's native log level. It is process-wide and fixed when the first session is created,
   * so it only takes effect if set before then.
   */
  logLevel?: 'verbose' | 'info' | 'warning' | 'error' | 'fatal';
  /** Receives fallback warnings. Default `console.warn`. */
  onWarning?: (message: string) => void;
  /** Any other onnxruntime session options, merged last (advanced). */
  sessionOptions?: Omit<InferenceSession.SessionOptions, 'executionProviders'>;
  /**
   * Where onnxruntime runs (docs/performance.md, "Threads"). `'worker'` (the default of `nodeBackend`, see
   * {@link DEFAULT_SESSION_THREAD}): in one worker thread per factory (per loaded model), so timers, I/O,
   * progress and `AbortSignal` keep running during a UNet call; the outputs are the same bit for bit.
   * `'main'` (the default of a `NodeSessionFactory` made directly): on the calling thread — onnxruntime-node's
   * `session.run` is synchronous, so each call blocks the event loop for its duration.
   */
  sessionThread?: SessionThread;
  /**
   * Fixes the free dimensions of the UNet and VAE decoder graphs for one size and batch (docs/performance.md,
   * "Static shapes and GPU options"); a `generate()` at another size or batch is then refused with a
   * `ShapeMismatchError`. onnxruntime-node 1.30 ignores `sessionOptions.freeDimensionOverrides`, so the
   * graph inputs are rewritten in the model bytes before the session is created. Default: dynamic shapes.
   */
  staticShapes?: StaticShapes;
  /**
   * How sessions on the CPU provider use memory (docs/performance.md, "Memory"): `'arena'` (default:
   * onnxruntime's defaults, each session keeps its peak; the fastest), `'balanced'` (no CPU memory arena,
   * activations returned after each call: 1.75× instead of 2.5× the model bytes at 512², slower first
   * call) or `'low'` (also the UNet one batch row at a time: half its activations, the same outputs, 2–6 %
   * slower per step). An explicit `sessionOptions.enableCpuMemArena` wins.
   */
  cpuMemory?: CpuMemoryMode;
}

/** Where a {@link NodeSessionFactory} runs its sessions: the calling thread, or a worker thread. */
export type SessionThread = 'main' | 'worker';

/** The values {@link NodeSessionOptions.sessionThread} takes. */
export const SESSION_THREADS: readonly SessionThread[] = ['main', 'worker'];

/**
 * Where the sessions of a model loaded through `nodeBackend` (`fromPretrained`, `loadPipeline`) run when
 * {@link NodeSessionOptions.sessionThread} is not given: a worker thread, so a generation never blocks the
 * event loop. A {@link NodeSessionFactory} made directly defaults to `'main'` (its sessions are then
 * onnxruntime-node's own objects); the CLI passes `'main'` (a `process.exit` while a worker is inside
 * onnxruntime aborts the process).
 */
export const DEFAULT_SESSION_THREAD: SessionThread = 'worker';

// Session options travel to the worker thread by structured clone: a function or Symbol cannot.
function checkCloneable(sessionOptions: unknown): void {
  try {
    structuredClone(sessionOptions);
  } catch (error) {
    throw new InvalidArgumentError({
      name: 'sessionOptions',
      value: (error as Error).message,
      expected:
        'plain data (no functions, Symbols or class instances) to send to the onnxruntime worker thread',
      fix: 'remove the value, or load with sessionThread: "main" (onnxruntime on the calling thread)',
    });
  }
}

function checkSessionThread(value: unknown): void {
  if (value !== undefined && !SESSION_THREADS.includes(value as SessionThread)) {
    throw new InvalidArgumentError({
      name: 'sessionThread',
      value,
      expected: '"main" (onnxruntime on the calling thread) or "worker" (on a worker thread)',
      fix: 'pass sessionThread: "worker" to keep the event loop free during inference, or leave it out',
    });
  }
}

/** Which provider each component's session runs on, once created. */
export type ProviderAssignment = Record<string, ExecutionProviderName>;

function checkThreads(name: string, value: number | undefined): void {
  if (value !== undefined && (!Number.isInteger(value) || value < 0)) {
    throw new InvalidArgumentError({ name, value, expected: 'an integer ≥ 0 (0 = onnxruntime chooses)' });
  }
}

/**
 * The {@link SessionFactory} over onnxruntime-node. Models in a {@link FileModelSource} are loaded by
 * path, so external weight files beside them (`model.onnx_data`, `weights.pb`) are found — with
 * initializer overrides, from the patched bytes with the external files still read by onnxruntime from the
 * folder; other sources are read into memory first (see {@link @latentkit/onnx!readPatchedModel}). It remembers every session it made, so {@link releaseAll} frees them.
 */
export class NodeSessionFactory implements SessionFactory {
  /** The provider each component got (after any fallback). */
  readonly assignment: ProviderAssignment = {};
  private readonly sessions: InferenceSession[] = [];
  private readonly options: NodeSessionOptions;
  private readonly warn: (message: string) => void;
  private readonly worker: SessionWorkerHost | undefined;
  // Feeds made from data marked transferable (see OrtFeedData): moved to the worker, not copied.
  private readonly transferable = new WeakSet<OrtTensor>();
  private context: Promise<StaticShapeContext> | undefined;
  private readonly creations = new SerialQueue();

  /** @param options providers, threads, optimisation level; see {@link NodeSessionOptions}. */
  constructor(options: NodeSessionOptions = {}) {
    checkProviderOptions(options, EXECUTION_PROVIDERS, '"cuda,cpu"');
    checkGraphOptimizationLevel(options.graphOptimizationLevel);
    checkThreads('intraOpNumThreads', options.intraOpNumThreads);
    checkThreads('interOpNumThreads', options.interOpNumThreads);
    checkSessionThread(options.sessionThread);
    checkStaticShapes(options.staticShapes);
    checkCpuMemoryMode(options.cpuMemory);
    const thread = options.sessionThread ?? 'main';
    if (thread === 'worker') checkCloneable(options.sessionOptions);
    if (options.logLevel) ortEnv.logLevel = options.logLevel;
    this.options = options;
    this.worker =
      thread === 'worker'
        ? new SessionWorkerHost(options.logLevel ? { logLevel: options.logLevel } : {})
        : undefined;
    this.warn = options.onWarning ?? ((message) => console.warn(message));
  }

  /** The providers tried for a component, in order. */
  providersFor(component: string): readonly ExecutionProviderName[] {
    return this.options.componentProviders?.[component] ?? this.options.providers ?? ['cpu'];
  }

  /** Creates a session, trying each provider in turn (see {@link NodeSessionOptions.providers}). */
  async create(request: SessionRequest): Promise<InferenceSession> {
    // one at a time unless cpuMemory is 'arena' (see createsOneAtATime)
    if (createsOneAtATime(this.options.cpuMemory)) return this.creations.run(() => this.createNow(request));
    return this.createNow(request);
  }

  private async createNow(request: SessionRequest): Promise<InferenceSession> {
    const { component, modelPath, source } = request;
    const { model, dims } = await this.withStaticShapes(request, await this.modelFor(request));
    const providers = this.providersFor(component);
    const where = `${modelPath} in ${source.location}`;
    const { value: session, provider } = await createWithFallback(
      providers,
      // One provider per try, so a failure is ours to report (onnxruntime-common would drop an
      // unavailable one from a list with only a console warning) and we know which one runs.
      (p) => {
        const options =
          typeof model === 'string'
            ? this.sessionOptions(p)
            : { ...this.sessionOptions(p), ...model.options };
        const what = typeof model === 'string' ? model : model.bytes;
        if (this.worker) return this.createInWorker(this.worker, what, options);
        return typeof what === 'string'
          ? InferenceSession.create(what, options)
          : InferenceSession.create(what, options);
      },
      {
        what: component,
        warn: this.warn,
        onAllFailed: (failures) => {
          const list = failures.map((f) => `${f.provider}: ${f.reason}`).join('; ');
          // The CPU provider is always there, so its failure means the model file itself is unusable.
          if (providers.at(-1) === 'cpu')
            return new ModelInvalidError(`onnxruntime could not load ${where}: ${list}.`);
          return new BackendUnavailableError(
            `No execution provider could run ${component} (${where}): ${list}. Fix: add "cpu" at the end of the providers list.`,
          );
        },
      },
    );
    const made = dims
      ? new StaticShapeSession(session, dims, component)
      : runsRowByRow(this.options.cpuMemory, component, provider)
        ? new RowByRowSession(session)
        : session;
    this.sessions.push(made);
    this.assignment[component] = provider;
    return made;
  }

  // With staticShapes, the UNet and VAE decoder are created from their bytes with the graph inputs' free
  // dimensions fixed (external weights still read by onnxruntime from the folder).
  private async withStaticShapes(
    request: SessionRequest,
    model: string | { bytes: Uint8Array; options: InferenceSession.SessionOptions },
  ): Promise<{
    model: string | { bytes: Uint8Array; options: InferenceSession.SessionOptions };
    dims?: StaticDimensions;
  }> {
    const shapes = this.options.staticShapes;
    if (!shapes || !STATIC_SHAPE_COMPONENTS.includes(request.component)) return { model };
    const { modelPath, source } = request;
    const bytes = typeof model === 'string' ? await source.readBytes(modelPath) : model.bytes;
    this.context ??= readStaticShapeContext(source);
    const dims = staticDimensions(
      request.component,
      readGraphInputs(bytes, modelPath),
      shapes,
      await this.context,
    );
    if (!dims) return { model };
    const fixed = fixGraphInputDims(bytes, modelPath, dims.overrides);
    if (typeof model !== 'string') return { model: { bytes: fixed, options: model.options }, dims };
    const extra = this.options.sessionOptions?.extra as Record<string, Record<string, unknown>> | undefined;
    const session = { ...extra?.['session'], model_external_initializers_file_folder_path: dirname(model) };
    return { model: { bytes: fixed, options: { extra: { ...extra, session } } }, dims };
  }

  /** The thread id of the worker running this factory's sessions; undefined when none runs. */
  get workerThreadId(): number | undefined {
    return this.worker?.threadId;
  }

  // The model path or bytes and the options are copied to the worker (the bytes may be the caller's and
  // are needed again if this provider fails and the next is tried).
  private async createInWorker(
    worker: SessionWorkerHost,
    model: string | Uint8Array,
    options: InferenceSession.SessionOptions,
  ): Promise<InferenceSession> {
    const created = await worker.request<CreatedSession>({ op: 'create', model, options });
    return new WorkerInferenceSession(
      worker,
      created,
      (tensor) => this.transferable.has(tensor),
      (session) => this.forget(session),
    );
  }

  // A worker session was released: forget it; with none left, stop the worker (dispose ends the thread).
  private async forget(session: InferenceSession): Promise<void> {
    const i = this.sessions.findIndex(
      (s) => s === session || (s instanceof WrappedSession && s.session === session),
    );
    if (i >= 0) this.sessions.splice(i, 1);
    if (this.sessions.length === 0) await this.worker?.close();
  }

  /**
   * What onnxruntime loads for a request. A folder on disk: the model's path (so onnxruntime finds the
   * external weight files beside it), or with initializer overrides (LoRA, textual inversion) the patched
   * bytes plus the folder onnxruntime reads the external files from — they are never read into
   * JavaScript, so a 3.4 GB `weights.pb` costs no copy. Other sources: the bytes and every external file,
   * read through the source.
   */
  private async modelFor(
    request: SessionRequest,
  ): Promise<string | { bytes: Uint8Array; options: InferenceSession.SessionOptions }> {
    const { modelPath, source, overrides } = request;
    if (source instanceof FileModelSource) {
      const path = await source.require(modelPath);
      if (overrides === undefined) return path;
      const bytes = patchInitializers(await source.readBytes(modelPath), modelPath, overrides);
      const extra = this.options.sessionOptions?.extra as Record<string, Record<string, unknown>> | undefined;
      const session = { ...extra?.['session'], model_external_initializers_file_folder_path: dirname(path) };
      return { bytes, options: { extra: { ...extra, session } } };
    }
    const { model, externalData } = await readPatchedModel(request);
    return { bytes: model, options: externalData.length > 0 ? { externalData } : {} };
  }

  /** Makes an onnxruntime-node tensor (sessions only accept their runtime's own Tensor class). */
  createTensor(feed: OrtFeedData, dims: readonly number[]): OrtTensor {
    const tensor = this.makeTensor(feed, dims);
    if (this.worker && feed.transferable === true) this.transferable.add(tensor);
    return tensor;
  }

  private makeTensor(feed: OrtFeedData, dims: readonly number[]): OrtTensor {
    switch (feed.type) {
      case 'float32':
        return new OrtTensor('float32', feed.data, dims);
      case 'float16':
        return new OrtTensor('float16', feed.data, dims);
      case 'int32':
        return new OrtTensor('int32', feed.data, dims);
      case 'int64':
        return new OrtTensor('int64', feed.data, dims);
      default:
        throw new InvalidArgumentError({
          name: 'feed.type',
          value: (feed as { type: unknown }).type,
          expected: 'float32, float16, int32 or int64',
        });
    }
  }

  /** Releases one session this factory made and forgets it (see {@link SessionFactory.release}). */
  async release(session: InferenceSession): Promise<void> {
    const i = this.sessions.indexOf(session);
    if (i >= 0) this.sessions.splice(i, 1);
    await session.release();
  }

  /** Releases every session this factory made, and stops its worker thread (safe to call twice). */
  async releaseAll(): Promise<void> {
    const sessions = this.sessions.splice(0);
    await Promise.all(sessions.map((s) => s.release().catch(() => undefined)));
    await this.worker?.close();
  }

  private sessionOptions(provider: ExecutionProviderName): InferenceSession.SessionOptions {
    const o = this.options;
    return {
      graphOptimizationLevel: o.graphOptimizationLevel ?? 'all',
      ...(o.intraOpNumThreads !== undefined ? { intraOpNumThreads: o.intraOpNumThreads } : {}),
      ...(o.interOpNumThreads !== undefined ? { interOpNumThreads: o.interOpNumThreads } : {}),
      ...cpuMemorySessionOptions(o.cpuMemory, provider),
      ...o.sessionOptions,
      executionProviders: [provider],
    };
  }
}
