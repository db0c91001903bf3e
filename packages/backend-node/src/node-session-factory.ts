import { dirname } from 'node:path';
import { BackendUnavailableError, InvalidArgumentError, ModelInvalidError } from '@latentkit/core';
import {
  checkGraphOptimizationLevel,
  checkProviderOptions,
  createWithFallback,
  type GraphOptimizationLevel,
  type OrtFeedData,
  patchInitializers,
  readPatchedModel,
  type SessionFactory,
  type SessionRequest,
} from '@latentkit/onnx';
import { InferenceSession, Tensor as OrtTensor, env as ortEnv } from 'onnxruntime-node';
import { EXECUTION_PROVIDERS, type ExecutionProviderName } from './execution-providers.js';
import { FileModelSource } from './file-model-source.js';

export type { GraphOptimizationLevel };

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

  /** @param options providers, threads, optimisation level; see {@link NodeSessionOptions}. */
  constructor(options: NodeSessionOptions = {}) {
    checkProviderOptions(options, EXECUTION_PROVIDERS, '"cuda,cpu"');
    checkGraphOptimizationLevel(options.graphOptimizationLevel);
    checkThreads('intraOpNumThreads', options.intraOpNumThreads);
    checkThreads('interOpNumThreads', options.interOpNumThreads);
    if (options.logLevel) ortEnv.logLevel = options.logLevel;
    this.options = options;
    this.warn = options.onWarning ?? ((message) => console.warn(message));
  }

  /** The providers tried for a component, in order. */
  providersFor(component: string): readonly ExecutionProviderName[] {
    return this.options.componentProviders?.[component] ?? this.options.providers ?? ['cpu'];
  }

  /** Creates a session, trying each provider in turn (see {@link NodeSessionOptions.providers}). */
  async create(request: SessionRequest): Promise<InferenceSession> {
    const { component, modelPath, source } = request;
    const model = await this.modelFor(request);
    const providers = this.providersFor(component);
    const where = `${modelPath} in ${source.location}`;
    const { value: session, provider } = await createWithFallback(
      providers,
      // One provider per try, so a failure is ours to report (onnxruntime-common would drop an
      // unavailable one from a list with only a console warning) and we know which one runs.
      (p) =>
        typeof model === 'string'
          ? InferenceSession.create(model, this.sessionOptions(p))
          : InferenceSession.create(model.bytes, { ...this.sessionOptions(p), ...model.options }),
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
    this.sessions.push(session);
    this.assignment[component] = provider;
    return session;
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

  /** Releases every session this factory made (safe to call twice). */
  async releaseAll(): Promise<void> {
    const sessions = this.sessions.splice(0);
    await Promise.all(sessions.map((s) => s.release().catch(() => undefined)));
  }

  private sessionOptions(provider: ExecutionProviderName): InferenceSession.SessionOptions {
    const o = this.options;
    return {
      graphOptimizationLevel: o.graphOptimizationLevel ?? 'all',
      ...(o.intraOpNumThreads !== undefined ? { intraOpNumThreads: o.intraOpNumThreads } : {}),
      ...(o.interOpNumThreads !== undefined ? { interOpNumThreads: o.interOpNumThreads } : {}),
      ...o.sessionOptions,
      executionProviders: [provider],
    };
  }
}
