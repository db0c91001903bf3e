import {
  type Backend,
  checkKnownKeys,
  type LoadedPipelineParts,
  ModelInvalidError,
  StableDiffusionPipeline,
} from '@latentkit/core';
import { loadOnnxPipeline, ONNX_PIPELINE_OPTION_KEYS, type OnnxPipelineOptions } from '@latentkit/onnx';
import { HttpModelSource, type HttpModelSourceOptions } from './http-model-source.js';
import { webAdapterReader } from './web-adapter-reader.js';
import {
  type WebProviderAssignment,
  WebSessionFactory,
  type WebSessionOptions,
} from './web-session-factory.js';

/** Options of {@link webBackend}: downloading and caching, how sessions are made, and the ONNX loader's. */
export interface WebBackendOptions extends HttpModelSourceOptions, WebSessionOptions, OnnxPipelineOptions {}

// Every option `webBackend.load` reads (typed so that tsc fails when an option is added without it), and
// `limits`, which `StableDiffusionPipeline.fromPretrained` passes along and applies itself.
const WEB_BACKEND_OPTIONS: Readonly<Record<keyof WebBackendOptions | 'limits', true>> = {
  cache: true,
  onProgress: true,
  revision: true,
  token: true,
  hubUrl: true,
  requestInit: true,
  fetch: true,
  maxFileBytes: true,
  sha256: true,
  providers: true,
  componentProviders: true,
  numThreads: true,
  wasmPaths: true,
  graphOptimizationLevel: true,
  logLevel: true,
  onWarning: true,
  sessionOptions: true,
  staticShapes: true,
  graphCapture: true,
  ...ONNX_PIPELINE_OPTION_KEYS,
  limits: true,
};

/** Pipeline parts loaded by {@link webBackend}, with the provider each component ended up on. */
export interface WebLoadedPipelineParts extends LoadedPipelineParts {
  /** Which execution provider each component's session runs on (after any fallback). */
  readonly providers: Readonly<WebProviderAssignment>;
  /** The wasm threads onnxruntime-web runs with. */
  readonly numThreads: number;
  /** Releases every onnxruntime-web session of the model. */
  dispose(): Promise<void>;
}

/** The {@link Backend} of onnxruntime-web; `load` also tells which provider each component got. */
export interface WebBackend extends Backend<WebBackendOptions> {
  /** Loads a diffusers ONNX folder served over HTTP, or a Hugging Face repository by id (`org/name`). */
  load(url: string, options?: WebBackendOptions): Promise<WebLoadedPipelineParts>;
}

/**
 * The onnxruntime-web backend: loads a diffusers ONNX folder from a URL (a plain base URL or a Hugging
 * Face repository URL) or a hub repository id (`org/name`, with `revision`, `token`, `hubUrl`), caches it
 * in Cache Storage, runs it on WebGPU with a WebAssembly fallback.
 *
 * ```ts
 * import { StableDiffusionPipeline } from '@latentkit/core';
 * import { webBackend } from '@latentkit/backend-web';
 * const pipe = await StableDiffusionPipeline.fromPretrained('/models/shapes/', {
 *   backend: webBackend,
 *   providers: ['webgpu', 'wasm'],
 *   onProgress: (p) => console.log(`${p.totalLoaded} / ${p.totalBytes} bytes`),
 * });
 * ```
 */
export const webBackend: WebBackend = {
  name: 'onnxruntime-web',
  async load(url: string, options: WebBackendOptions = {}): Promise<WebLoadedPipelineParts> {
    // A misspelt option (`provider`, `max_file_bytes`) is an error, not a silently ignored key.
    checkKnownKeys('webBackend options', options, Object.keys(WEB_BACKEND_OPTIONS));
    const source = new HttpModelSource(url, options);
    const sessions = new WebSessionFactory(options);
    // loadOnnxPipeline releases its sessions itself: on a failed load and in the parts' dispose.
    let parts: Awaited<ReturnType<typeof loadOnnxPipeline>>;
    try {
      parts = await loadOnnxPipeline(source, sessions, options, {
        readAdapter: webAdapterReader(options),
        // load warnings (a float16 SDXL VAE kept despite force_upcast) go where provider fallbacks go
        ...(options.onWarning ? { onWarning: options.onWarning } : {}),
      });
    } catch (error) {
      // A file that does not parse may be a damaged download that no check could catch (a truncated gzip
      // body): drop what this load downloaded, so the next load fetches it afresh instead of failing again.
      if (error instanceof ModelInvalidError) await source.discardDownloads().catch(() => undefined);
      throw error;
    }
    return { ...parts, providers: sessions.assignment, numThreads: sessions.numThreads };
  },
};

/**
 * Loads a pipeline on onnxruntime-web: `StableDiffusionPipeline.fromPretrained(url, { backend: webBackend,
 * ...options })`.
 */
export function loadPipeline(url: string, options: WebBackendOptions = {}): Promise<StableDiffusionPipeline> {
  return StableDiffusionPipeline.fromPretrained(url, { ...options, backend: webBackend });
}
