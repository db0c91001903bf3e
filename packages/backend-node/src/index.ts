/**
 * @packageDocumentation
 * `@latentkit/backend-node`: runs latentkit on onnxruntime-node — model folders from disk, execution
 * providers with fallback (`cuda`, `dml`, `coreml`, `webgpu`, `cpu`), PNG in and out with A1111-style
 * generation parameters, and the `latentkit` CLI.
 *
 * ```ts
 * import { loadPipeline, writePng } from '@latentkit/backend-node';
 * const pipe = await loadPipeline(); // the shipped 32×32 "shapes" model
 * const { images } = await pipe.generate({ prompt: 'a red circle on a blue background', seed: 42 });
 * await writePng('circle.png', images[0]!);
 * await pipe.dispose();
 * ```
 *
 * @module @latentkit/backend-node
 */

// A1111 infotext: one implementation in @latentkit/core, re-exported here as this package's public API
// (generationParametersFrom names the sampler the A1111 way; see its doc comment).
export {
  type FromResolvedOptions,
  formatGenerationParameters,
  type GenerationParameters,
  isResolvedParameters,
  listChunkTypes,
  type ParsedGenerationParameters,
  parseGenerationParameters,
  quoteInfotextValue,
} from '@latentkit/core';
export { a1111SamplerName } from '@latentkit/schedulers';
export { writeFileAtomic } from './atomic-write.js';
// For CLIs built on this one (`latentkit serve` in @latentkit/server): the same exit codes and error line.
export {
  exitCodeFor as cliExitCodeFor,
  formatCliError,
  UsageError as CliUsageError,
} from './cli/cli-error.js';
export {
  CPU_MEMORY_MODES,
  type CpuMemoryMode,
  DEFAULT_CPU_MEMORY,
  RowByRowSession,
} from './cpu-memory.js';
export {
  EXECUTION_PROVIDERS,
  type ExecutionProviderName,
  parseExecutionProviders,
} from './execution-providers.js';
export { FileModelSource, type FileModelSourceOptions } from './file-model-source.js';
export { generationParametersFrom } from './generation-parameters.js';
export {
  type DownloadHubModelOptions,
  downloadHubModel,
  type HubModelSnapshot,
} from './hub/download-hub-model.js';
export type { HubDownloadProgress, HubOptions } from './hub/hub-options.js';
export { detectImageFormat, type ImageFormat } from './image-format.js';
export {
  loadPipeline,
  type NodeBackend,
  type NodeBackendOptions,
  type NodeLoadedPipelineParts,
  nodeBackend,
  nodeDefaultLimits,
} from './node-backend.js';
export {
  DEFAULT_SESSION_THREAD,
  type GraphOptimizationLevel,
  NodeSessionFactory,
  type NodeSessionOptions,
  type ProviderAssignment,
  SESSION_THREADS,
  type SessionThread,
  type StaticShapes,
} from './node-session-factory.js';
export {
  type DecodedPng,
  decodePng,
  encodePng,
  type PngWriteOptions,
  readPng,
  readTextChunks,
  writePng,
} from './png.js';
export { listExecutionProviders, type ProviderAvailability } from './provider-availability.js';
