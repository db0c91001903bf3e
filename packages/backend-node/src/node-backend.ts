import { totalmem } from 'node:os';
import {
  type Backend,
  checkKnownKeys,
  type LoadedPipelineParts,
  maxPixelsForMemory,
  mergePipelineLimits,
  type PipelineLimits,
  resolvePipelineLimits,
  StableDiffusionPipeline,
} from '@latentkit/core';
import { shapesModelPath } from '@latentkit/model-shapes';
import { loadOnnxPipeline, ONNX_PIPELINE_OPTION_KEYS, type OnnxPipelineOptions } from '@latentkit/onnx';
import { FileModelSource, type FileModelSourceOptions } from './file-model-source.js';
import { HUB_OPTION_KEYS, type HubOptions } from './hub/hub-options.js';
import { resolveModelFolder } from './hub/resolve-model-folder.js';
import { nodeAdapterReader } from './node-adapter-reader.js';
import {
  DEFAULT_SESSION_THREAD,
  NodeSessionFactory,
  type NodeSessionOptions,
  type ProviderAssignment,
} from './node-session-factory.js';

/** Options of {@link nodeBackend}: how sessions are made, plus the ONNX loader's own options. */
export interface NodeBackendOptions
  extends NodeSessionOptions,
    OnnxPipelineOptions,
    FileModelSourceOptions,
    HubOptions {
  /**
   * The pipeline's limits (docs/performance.md, "Limits"); those not given take the defaults, with
   * `maxPixelsPerCall` from this machine's memory ({@link nodeDefaultLimits}).
   */
  limits?: Partial<PipelineLimits>;
}

/**
 * The limits a pipeline loaded on Node starts with: core's defaults, with the pixel budget derived from
 * `os.totalmem()` by `maxPixelsForMemory` (half the memory, at an estimated 16 KiB of activations per
 * output pixel: 786,432 pixels on a 24 GiB machine, 2,097,152 on 64 GiB).
 */
export function nodeDefaultLimits(totalMemoryBytes: number = totalmem()): PipelineLimits {
  return resolvePipelineLimits({ maxPixelsPerCall: maxPixelsForMemory(totalMemoryBytes) });
}

// Every option `nodeBackend.load` reads: typed so that tsc fails when an option is added without it.
const NODE_BACKEND_OPTIONS: Readonly<Record<keyof NodeBackendOptions, true>> = {
  providers: true,
  componentProviders: true,
  graphOptimizationLevel: true,
  intraOpNumThreads: true,
  interOpNumThreads: true,
  logLevel: true,
  onWarning: true,
  sessionOptions: true,
  sessionThread: true,
  staticShapes: true,
  cpuMemory: true,
  ...ONNX_PIPELINE_OPTION_KEYS,
  allowSymlinksOutside: true,
  limits: true,
  ...HUB_OPTION_KEYS,
};

/** Pipeline parts loaded by {@link nodeBackend}, with the provider each component ended up on. */
export interface NodeLoadedPipelineParts extends LoadedPipelineParts {
  /** Which execution provider each component's session runs on (after any fallback). */
  readonly providers: Readonly<ProviderAssignment>;
  /** Releases every onnxruntime session of the model. */
  dispose(): Promise<void>;
}

/** The {@link Backend} of onnxruntime-node; `load` also tells which provider each component got. */
export interface NodeBackend extends Backend<NodeBackendOptions> {
  /**
   * Loads a diffusers ONNX folder from disk, or a Hugging Face Hub id (`org/name`) through the
   * Python-compatible cache (docs/hub.md); an existing local folder of that name wins.
   */
  load(directory: string, options?: NodeBackendOptions): Promise<NodeLoadedPipelineParts>;
}

/**
 * The onnxruntime-node backend: loads a diffusers ONNX folder from disk, or a model by its Hugging Face
 * Hub id (downloaded once into the cache Python's `huggingface_hub` uses; see {@link HubOptions}).
 *
 * ```ts
 * import { StableDiffusionPipeline } from '@latentkit/core';
 * import { nodeBackend } from '@latentkit/backend-node';
 * const pipe = await StableDiffusionPipeline.fromPretrained('./model', {
 *   backend: nodeBackend,
 *   providers: ['cuda', 'cpu'],
 *   componentProviders: { vae_decoder: ['cpu'] },
 * });
 * ```
 */
export const nodeBackend: NodeBackend = {
  name: 'onnxruntime-node',
  async load(directory: string, options: NodeBackendOptions = {}): Promise<NodeLoadedPipelineParts> {
    // A misspelt option (`provider`, `max_prompt_chunks`) is an error, not a silently ignored key.
    checkKnownKeys('nodeBackend options', options, Object.keys(NODE_BACKEND_OPTIONS));
    // Checked before anything is loaded, so a typo in a limit costs no session.
    const limits = mergePipelineLimits(nodeDefaultLimits(), options.limits);
    // A local folder wins; else a hub id is downloaded into the Python-compatible cache (docs/hub.md).
    const found = await resolveModelFolder(directory, options);
    const source = new FileModelSource(found.directory, {
      // a hub snapshot's files are links to ../../blobs/ by design
      allowSymlinksOutside: found.snapshot !== undefined || (options.allowSymlinksOutside ?? false),
    });
    // sessions in a worker thread unless asked otherwise: a generation never blocks the event loop
    const sessions = new NodeSessionFactory({
      ...options,
      // (only when absent: a bad value such as null reaches the factory's check)
      sessionThread: options.sessionThread === undefined ? DEFAULT_SESSION_THREAD : options.sessionThread,
    });
    const loadOptions =
      Object.keys(found.modelFiles).length > 0
        ? { ...options, modelFiles: { ...found.modelFiles, ...options.modelFiles } }
        : options;
    // loadOnnxPipeline releases its sessions itself: on a failed load and in the parts' dispose.
    const parts = await loadOnnxPipeline(source, sessions, loadOptions, {
      readAdapter: nodeAdapterReader,
      // load warnings (a float16 SDXL VAE kept despite force_upcast) go where provider fallbacks go
      ...(options.onWarning ? { onWarning: options.onWarning } : {}),
    });
    const dispose = async (): Promise<void> => {
      await parts.dispose();
      // anything still open, and the worker thread of sessionThread: 'worker'
      await sessions.releaseAll();
    };
    return { ...parts, dispose, providers: sessions.assignment, limits };
  },
};

/**
 * Loads a pipeline on onnxruntime-node: `StableDiffusionPipeline.fromPretrained(directory, { backend:
 * nodeBackend, ...options })`. Without a directory it loads the model latentkit ships
 * (`@latentkit/model-shapes`: 32×32 coloured shapes).
 */
export function loadPipeline(
  directory?: string,
  options: NodeBackendOptions = {},
): Promise<StableDiffusionPipeline> {
  return StableDiffusionPipeline.fromPretrained(directory ?? shapesModelPath, {
    ...options,
    backend: nodeBackend,
  });
}
