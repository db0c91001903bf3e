import type { Denoiser } from './denoiser.js';
import type { LatentCodec } from './latent-codec.js';
import type { PromptEncoder } from './prompt-encoder.js';
import type { Scheduler } from './scheduler.js';

/** The parts of a pipeline. */
export interface PipelineParts {
  promptEncoder?: PromptEncoder;
  denoiser: Denoiser;
  codec: LatentCodec;
  scheduler: Scheduler;
}

/** Parts loaded from a model, with a way to release what holds memory (runtime sessions). */
export interface LoadedPipelineParts extends PipelineParts {
  /** Releases every runtime session. */
  dispose?(): Promise<void>;
}

/**
 * Loads pipeline parts from a model source (a folder, a URL). Backends (`@latentkit/backend-node`,
 * `@latentkit/backend-web`) implement it; `StableDiffusionPipeline.fromPretrained` calls it.
 */
export interface Backend<Options extends object = object> {
  /** A short name for messages, e.g. `onnxruntime-node`. */
  readonly name: string;
  load(source: string, options?: Options): Promise<LoadedPipelineParts>;
}
