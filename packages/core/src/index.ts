/**
 * @packageDocumentation
 * `@latentkit/core`: tensors, a torch-compatible generator, the interfaces every part implements, and
 * the Stable Diffusion pipeline loop, A1111 infotext and PNG text chunks. No runtime dependencies.
 *
 * @module @latentkit/core
 */
export { TiledLatentCodec, type VaeTiling, type VaeTilingOptions } from './codec/tiled-latent-codec.js';
export * from './errors.js';
export * from './hires-fix/index.js';
export { denormalizeImage, normalizeImage } from './image/image-range.js';
export {
  approximateLatentsToRgb,
  decodeLatentsToRgb,
  type LatentRgbFactors,
  SD1_LATENT_RGB_FACTORS,
} from './image/latent-preview.js';
export {
  hasPngSignature,
  insertPngTextChunk,
  insertTextChunks,
  listChunkTypes,
  type ReadTextChunksOptions,
  readTextChunks,
} from './image/png-text-chunks.js';
export * from './image/rgba-image.js';
export type * from './interfaces/backend.js';
export type * from './interfaces/conditioning.js';
export type * from './interfaces/denoiser.js';
export type * from './interfaces/latent-codec.js';
export type * from './interfaces/model-adapters.js';
export type * from './interfaces/prompt-encoder.js';
export type * from './interfaces/scheduler.js';
export {
  checkBox,
  checkLayout,
  checkPhrase,
  LAYOUT_INPUT_NAMES,
  type LayoutNames,
} from './layout/check-layout.js';
export { checkGroundingRow, type GroundingTensors, groundingBatch } from './layout/grounding-batch.js';
export {
  checkGroundingSpec,
  type LayoutConditioner,
  LayoutEncoder,
  requirePooledEncoder,
} from './layout/layout-encoder.js';
export type { CheckedLayout, LayoutInput } from './layout/layout-input.js';
export type { LayoutBox, LayoutObject } from './layout/layout-object.js';
export { groundedCalls } from './layout/scheduled-sampling.js';
export {
  type FromResolvedOptions,
  generationParametersFrom,
  isResolvedParameters,
  type SamplerNamer,
} from './parameters/generation-parameters-from.js';
export {
  formatGenerationParameters,
  type GenerationParameters,
  type ParsedGenerationParameters,
  parseGenerationParameters,
  quoteInfotextValue,
} from './parameters/infotext.js';
export { type RefinerInfo, refinerGenerationParameters } from './parameters/refiner-parameters.js';
export { checkAdapterNames, checkLoraScale, checkNewAdapterName } from './pipeline/adapter-arguments.js';
export {
  applyGuidance,
  type GuidedPrediction,
  rescaleNoiseCfg,
} from './pipeline/classifier-free-guidance.js';
export {
  type AnyDiffusionPipeline,
  DiffusionPipeline,
  type DiffusionPipelineClassName,
  pipelineClassFor,
} from './pipeline/diffusion-pipeline.js';
export type {
  GeneratedImages,
  GenerateOptions,
  GenerateResult,
  ImageParameters,
  OutputType,
  ResolvedLayout,
  ResolvedParameters,
  ResolvedSdxlParameters,
  StepInfo,
} from './pipeline/generate-options.js';
export { GeneratorList } from './pipeline/generator-list.js';
export {
  GLIGEN_DEFAULTS,
  GLIGEN_OPTION_KEYS,
  type GligenGenerateOptions,
} from './pipeline/gligen-options.js';
export { type StrengthSchedule, strengthSchedule } from './pipeline/img2img.js';
export { binarizeMask, resizeNearest, rgbaToMask } from './pipeline/inpaint-mask.js';
export { checkKnownKeys, closestName } from './pipeline/option-keys.js';
export { PipelineBase } from './pipeline/pipeline-base.js';
export * from './pipeline/pipeline-limits.js';
export {
  SDXL_DEFAULTS,
  SDXL_OPTION_KEYS,
  type SdxlGenerateOptions,
  type SizePair,
} from './pipeline/sdxl-options.js';
export {
  type GligenPipelineParts,
  StableDiffusionGLIGENPipeline,
} from './pipeline/stable-diffusion-gligen-pipeline.js';
export { StableDiffusionPipeline } from './pipeline/stable-diffusion-pipeline.js';
export {
  StableDiffusionUpscalePipeline,
  type UpscalePipelineConfig,
  type UpscalePipelineParts,
} from './pipeline/stable-diffusion-upscale-pipeline.js';
export { StableDiffusionXLPipeline } from './pipeline/stable-diffusion-xl-pipeline.js';
export {
  UPSCALE_DEFAULTS,
  UPSCALE_OPTION_KEYS,
  type UpscaleGenerateOptions,
} from './pipeline/upscale-options.js';
export * from './prompt/lora-tags.js';
export * from './prompt/prompt-weights.js';
export type { Generator } from './random/generator.js';
export { TorchGenerator } from './random/torch-generator.js';
export * from './refiner-hand-off/index.js';
export * from './tensor.js';
