/**
 * @packageDocumentation
 * `@latentkit/onnx`: reads Stable Diffusion models in the diffusers/Optimum ONNX layout — `model_index.json`,
 * configs, the CLIP tokenizer — and runs their text encoder, UNet and VAE on the `onnxruntime-common` API.
 * Backends (`@latentkit/backend-node`, `@latentkit/backend-web`) bring the runtime through a
 * {@link SessionFactory} and a {@link ModelSource} and call {@link loadOnnxPipeline}.
 *
 * @module @latentkit/onnx
 */

export {
  type AdapterReader,
  adapterStem,
  checkAdapterSource,
  noAdapterReader,
  readAdapterSource,
} from './adapters/adapter-reader.js';
export {
  type ComponentDeltas,
  computeLoraDeltas,
  type LoraAdapterDeltas,
} from './adapters/lora-adapter-deltas.js';
export { loraDelta, mergeDeltas, type ScaledDelta } from './adapters/lora-delta.js';
export {
  type LoraComponent,
  type LoraFile,
  type LoraFormat,
  type LoraLayer,
  readLoraFile,
} from './adapters/lora-file.js';
export {
  findLoraTargets,
  type LoraGraph,
  type LoraLayout,
  type LoraMatch,
  type LoraTarget,
  type LoraTargetOptions,
  type LoraTargets,
} from './adapters/lora-targets.js';
export { expandMultiVectorTokens } from './adapters/multi-vector-tokens.js';
export {
  type AdapterComponent,
  OnnxModelAdapters,
  type OnnxModelAdaptersOptions,
} from './adapters/onnx-model-adapters.js';
export { parseSafetensors, type SafetensorsFile } from './adapters/safetensors.js';
export { sgmToDiffusersName } from './adapters/sgm-lora-names.js';
export {
  type LoadTextualInversionOptions,
  loadSdxlTextualInversionInto,
  loadTextualInversionInto,
  type SdxlTextualInversionTargets,
  type TextualInversionTarget,
} from './adapters/textual-inversion.js';
export {
  parseTextualInversionFile,
  type TextualInversionFile,
} from './adapters/textual-inversion-file.js';
export { findTokenEmbedding, tokenEmbeddingName } from './adapters/token-embedding.js';
export { type ComponentSizes, checkComponentSizes, type SizeReading } from './check-components.js';
export { checkClipSkip } from './clip-skip.js';
export { type ClipEncodeOptions, ClipTokenizer, type ClipTokenizerFiles } from './clip-tokenizer.js';
export { encodeChunks, padChunks } from './encode-chunks.js';
export {
  createWithFallback,
  type FallbackResult,
  firstLine,
  type ProviderFailure,
  ProviderSkipped,
} from './execution-provider-fallback.js';
export { float16ToFloat32, float32ToFloat16, fromFloat16Bits, toFloat16Bits } from './float16.js';
export { DEFAULT_HUB_URL, type HubModelId, parseHubModelId } from './hub-model-id.js';
export type { InitializerOverride, InitializerOverrides } from './initializer-overrides.js';
export {
  DEFAULT_MAX_NOISE_LEVEL,
  loadOnnxPipeline,
  ONNX_PIPELINE_OPTION_KEYS,
  type OnnxBackendEnvironment,
  type OnnxComponentName,
  type OnnxPipelineOptions,
  type OnnxPipelineParts,
} from './load-onnx-pipeline.js';
export {
  type CheckedModelConfigs,
  checkModelConfigs,
  MAX_BLOCKS,
  MAX_SAMPLE_SIZE,
  type RawModelConfigs,
} from './model-config-checks.js';
export { type ModelIndex, readModelIndex } from './model-index.js';
export { checkModelPath } from './model-paths.js';
export type { ModelSource } from './model-source.js';
export {
  type OnnxGraph,
  type OnnxGraphInitializer,
  type OnnxGraphNode,
  readOnnxGraph,
} from './onnx-graph.js';
export { type OnnxWeight, readOnnxWeights } from './onnx-initializers.js';
export { type ExternalDataFile, type OnnxModelInfo, readOnnxModelInfo } from './onnx-model-info.js';
export {
  DEFAULT_MAX_PROMPT_CHUNKS,
  OnnxPromptEncoder,
  type OnnxPromptEncoderOptions,
} from './onnx-prompt-encoder.js';
export {
  type HiddenStateOutput,
  OnnxTextEncoder,
  type OnnxTextEncoderOptions,
  type TextEncoderOutput,
} from './onnx-text-encoder.js';
export { MAX_ONNX_MODEL_BYTES, patchInitializers } from './patch-initializers.js';
export {
  CHUNK_TOKENS,
  checkMaxChunks,
  type PromptChunk,
  PromptChunker,
  type PromptChunkerOptions,
} from './prompt-chunker.js';
export { applyEmphasis } from './prompt-emphasis.js';
export { parsePythonJson } from './python-json.js';
export { type ModelExternalData, type PatchedModel, readPatchedModel } from './read-patched-model.js';
export { checkSdxlConfigs, type SdxlConfigs, type SdxlSizes } from './sdxl-config-checks.js';
export {
  SdxlPromptEncoder,
  type SdxlPromptEncoderOptions,
  type SdxlTextUnit,
} from './sdxl-prompt-encoder.js';
export { checkSdxlSessions, type SdxlSessions } from './sdxl-session-checks.js';
export type { OrtFeedData, SessionFactory, SessionRequest } from './session-factory.js';
export {
  checkGraphOptimizationLevel,
  checkProviderList,
  checkProviderOptions,
  GRAPH_OPTIMIZATION_LEVELS,
  type GraphOptimizationLevel,
  type ProviderOptions,
} from './session-options.js';
export {
  checkStaticShapes,
  fixGraphInputDims,
  type GraphInputDecl,
  readGraphInputs,
  readStaticShapeContext,
  STATIC_SHAPE_COMPONENTS,
  type StaticDimensions,
  type StaticShapeContext,
  StaticShapeSession,
  type StaticShapes,
  staticDimensions,
  staticUnetBatch,
} from './static-shapes.js';
export { UnetDenoiser, type UnetDenoiserOptions, unetSizeMultiple } from './unet-denoiser.js';
export { samplePosterior, VaeCodec, type VaeCodecOptions, type VaeSession } from './vae-codec.js';
export { VaeDecoderCodec, type VaeDecoderCodecOptions } from './vae-decoder-codec.js';
export {
  FP16_FIX_VAE,
  float16VaeNanHint,
  float16VaeWarning,
  float32VaeFile,
  isFloat16Vae,
  vaeForceUpcast,
} from './vae-upcast.js';
export { WrappedSession } from './wrapped-session.js';
