import type { Backend, LoadedPipelineParts } from '../interfaces/backend.js';
import { type FromPretrainedOptions, loadPipelineParts } from './load-parts.js';
import { StableDiffusionGLIGENPipeline } from './stable-diffusion-gligen-pipeline.js';
import { StableDiffusionPipeline } from './stable-diffusion-pipeline.js';
import { StableDiffusionUpscalePipeline } from './stable-diffusion-upscale-pipeline.js';
import { StableDiffusionXLPipeline } from './stable-diffusion-xl-pipeline.js';

/** Any pipeline {@link DiffusionPipeline.fromPretrained} may return; narrow it with `instanceof`. */
export type AnyDiffusionPipeline =
  | StableDiffusionPipeline
  | StableDiffusionXLPipeline
  | StableDiffusionUpscalePipeline
  | StableDiffusionGLIGENPipeline;

/** The pipeline class {@link DiffusionPipeline.fromPretrained} picks for loaded parts. */
export type DiffusionPipelineClassName =
  | 'StableDiffusionPipeline'
  | 'StableDiffusionXLPipeline'
  | 'StableDiffusionUpscalePipeline'
  | 'StableDiffusionGLIGENPipeline';

/**
 * The class for loaded parts, as diffusers' `DiffusionPipeline` / `AutoPipeline` pick it from
 * `model_index.json`: SDXL parts (`parts.sdxl`) → StableDiffusionXLPipeline, an x4 upscaler
 * (`parts.lowResScheduler`) → StableDiffusionUpscalePipeline, a grounded UNet (`denoiser.grounding`) →
 * StableDiffusionGLIGENPipeline, anything else → StableDiffusionPipeline.
 */
export function pipelineClassFor(parts: LoadedPipelineParts): DiffusionPipelineClassName {
  if (parts.sdxl) return 'StableDiffusionXLPipeline';
  if (parts.lowResScheduler) return 'StableDiffusionUpscalePipeline';
  if (parts.denoiser?.grounding) return 'StableDiffusionGLIGENPipeline';
  return 'StableDiffusionPipeline';
}

/**
 * Loads a model with the pipeline class that fits it (diffusers' `DiffusionPipeline.from_pretrained`):
 * see {@link pipelineClassFor}. Use the classes' own `fromPretrained` when the code needs one kind.
 *
 * ```ts
 * const pipe = await DiffusionPipeline.fromPretrained('./sdxl-turbo', { backend });
 * if (pipe instanceof StableDiffusionXLPipeline) await pipe.generate({ prompt, guidanceScale: 0, numInferenceSteps: 1 });
 * ```
 */
export class DiffusionPipeline {
  private constructor() {}

  /**
   * Loads `source` once with `backend` and builds the pipeline its parts call for. The errors are those of
   * the chosen class's `fromPretrained` (its sessions are released when it refuses the parts).
   */
  static async fromPretrained<O extends object>(
    source: string,
    options: FromPretrainedOptions<O>,
  ): Promise<AnyDiffusionPipeline> {
    const { parts } = await loadPipelineParts('DiffusionPipeline', source, options);
    // The chosen class loads the same parts again through a backend that hands them over.
    const loaded: Backend = { name: options.backend.name, load: async () => parts };
    const next =
      options.limits === undefined ? { backend: loaded } : { backend: loaded, limits: options.limits };
    switch (pipelineClassFor(parts)) {
      case 'StableDiffusionXLPipeline':
        return StableDiffusionXLPipeline.fromPretrained(source, next);
      case 'StableDiffusionUpscalePipeline':
        return StableDiffusionUpscalePipeline.fromPretrained(source, next);
      case 'StableDiffusionGLIGENPipeline':
        return StableDiffusionGLIGENPipeline.fromPretrained(source, next);
      default:
        return StableDiffusionPipeline.fromPretrained(source, next);
    }
  }
}
