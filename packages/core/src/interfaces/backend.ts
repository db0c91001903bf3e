import type { PipelineLimits } from '../pipeline/pipeline-limits.js';
import type { Denoiser } from './denoiser.js';
import type { LatentCodec } from './latent-codec.js';
import type { ModelAdapters } from './model-adapters.js';
import type { PromptEncoder } from './prompt-encoder.js';
import type { Scheduler } from './scheduler.js';

/** The parts of a pipeline. */
export interface PipelineParts {
  /** Turns prompts into conditioning; optional when you always pass `promptEmbeds`. */
  promptEncoder?: PromptEncoder;
  /** The noise predictor (UNet). */
  denoiser: Denoiser;
  /** The VAE: images ↔ latents. */
  codec: LatentCodec;
  /** The scheduler the pipeline starts with. */
  scheduler: Scheduler;
  /**
   * Upper bounds checked before each `generate()` allocates anything (image size, images and pixels per
   * call); missing ones take the defaults. Backends may set them from the machine's memory.
   */
  limits?: Partial<PipelineLimits>;
}

/** The pipeline-level settings of an SDXL model (diffusers' `StableDiffusionXL*Pipeline` config in `model_index.json`). */
export interface SdxlPipelineConfig {
  /**
   * `requires_aesthetics_score` (the refiner: true): the time ids end with the aesthetic score (5 values)
   * instead of the target size (6 values). Default false.
   */
  requiresAestheticsScore: boolean;
  /**
   * `force_zeros_for_empty_prompt` (SDXL base: true): under guidance with no negative prompt, the negative
   * conditioning is zeros instead of the encoding of `""`. Default true.
   */
  forceZerosForEmptyPrompt: boolean;
}

/** Parts loaded from a model, with a way to release what holds memory (runtime sessions). */
export interface LoadedPipelineParts extends PipelineParts {
  /**
   * The x4 upscaler's second scheduler (a DDPM) that noises the low-res image to the noise level; only for
   * upscaler models. `StableDiffusionUpscalePipeline.fromPretrained` needs it.
   */
  lowResScheduler?: Scheduler;
  /** The x4 upscaler's `max_noise_level` (`model_index.json`; default 350); only for upscaler models. */
  maxNoiseLevel?: number;
  /**
   * LoRA adapters and textual-inversion embeddings on these parts (backends that load ONNX folders give
   * it); the pipelines' `loadLoraWeights`, `loadTextualInversion`, … delegate to it.
   */
  adapters?: ModelAdapters;
  /**
   * Present when the model is SDXL (model_index.json names an SDXL pipeline, or the folder has
   * `text_encoder_2/`): its pipeline config. `StableDiffusionXLPipeline.fromPretrained` needs it.
   */
  sdxl?: SdxlPipelineConfig;
  /** Releases every runtime session. */
  dispose?(): Promise<void>;
}

/**
 * Loads pipeline parts from a model source (a folder, a URL). Backends (`@latentkit/backend-node`,
 * `@latentkit/backend-web`) implement it; the pipelines' `fromPretrained` call it.
 */
export interface Backend<Options extends object = object> {
  /** A short name for messages, e.g. `onnxruntime-node`. */
  readonly name: string;
  /** Loads the parts of the model at `source` (a folder or URL). */
  load(source: string, options?: Options): Promise<LoadedPipelineParts>;
}
