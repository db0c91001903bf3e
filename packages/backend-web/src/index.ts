/**
 * @packageDocumentation
 * `@latentkit/backend-web`: runs latentkit in the browser on onnxruntime-web — WebGPU with a WebAssembly
 * fallback, models fetched over HTTP (plain URLs, or Hugging Face repositories by URL or id `org/name`)
 * and kept in Cache Storage, output as `ImageData`, canvas or PNG `Blob`, and a Web Worker helper that keeps the page responsive.
 *
 * ```ts
 * import { StableDiffusionPipeline } from '@latentkit/core';
 * import { drawImage, webBackend } from '@latentkit/backend-web';
 * const pipe = await StableDiffusionPipeline.fromPretrained('/models/shapes/', { backend: webBackend });
 * const { images } = await pipe.generate({ prompt: 'a red circle on a blue background', seed: 42 });
 * drawImage(images[0]!, document.querySelector('canvas')!);
 * ```
 *
 * @module @latentkit/backend-web
 */

/** Re-exported from `@latentkit/core` (one PNG text-chunk writer for Node and the browser). */
export { insertPngTextChunk } from '@latentkit/core';
export type { StaticShapes } from '@latentkit/onnx';
export { type DownloadProgress, HttpModelSource, type HttpModelSourceOptions } from './http-model-source.js';
export {
  checkHubUrl,
  checkRevision,
  checkToken,
  type HubRepository,
  type HubSourceOptions,
  type ResolvedModelSource,
  resolveModelSource,
} from './hub-source.js';
export {
  type DrawableCanvas,
  drawImage,
  type PngBlobOptions,
  toImageData,
  toPngBlob,
} from './image-output.js';
export { formatInfotext, type InfotextOptions } from './infotext.js';
export {
  type CachedModel,
  clearCachedModel,
  clearModelCache,
  DEFAULT_MODEL_CACHE,
  listCachedModels,
} from './model-cache.js';
export { checkUnderBase, modelFileUrl, resolveModelUrl } from './model-url.js';
export { DEFAULT_MAX_FILE_BYTES } from './verified-download.js';
export {
  loadPipeline,
  type WebBackend,
  type WebBackendOptions,
  type WebLoadedPipelineParts,
  webBackend,
} from './web-backend.js';
export {
  WEB_EXECUTION_PROVIDERS,
  type WebExecutionProvider,
  type WebGraphOptimizationLevel,
  type WebProviderAssignment,
  WebSessionFactory,
  type WebSessionOptions,
} from './web-session-factory.js';
export { type GpuAdapterLike, probeWebGpu, type WebGpuSupport } from './webgpu-adapter.js';
export { serveGenerationWorker, type WorkerScopeLike } from './worker/generation-worker.js';
export {
  createGenerationWorker,
  type GenerationWorker,
  type WorkerGenerateCallOptions,
  type WorkerLayoutCallOptions,
  type WorkerLoadCallOptions,
  type WorkerUpscaleCallOptions,
} from './worker/generation-worker-client.js';
export { approximateLatentsToRgb, SD1_LATENT_RGB_FACTORS } from './worker/latent-preview.js';
export { MAX_LAYOUT_OBJECTS } from './worker/layout-request.js';
export type {
  PreviewOptions,
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
  WorkerVaeTiling,
} from './worker/messages.js';
