import { ModelMismatchError, NotImplementedError } from '../errors.js';
import type { Backend, PipelineParts, SdxlPipelineConfig } from '../interfaces/backend.js';
import type { GenerateResult, OutputType } from './generate-options.js';
import { loadPipelineParts, rejectParts } from './load-parts.js';
import { PipelineBase } from './pipeline-base.js';
import type { PipelineLimits } from './pipeline-limits.js';
import type { SdxlGenerateOptions } from './sdxl-options.js';

/** diffusers' defaults of the SDXL pipeline config (SDXL base 1.0's `model_index.json`). */
const DEFAULT_SDXL_CONFIG: SdxlPipelineConfig = Object.freeze({
  requiresAestheticsScore: false,
  forceZerosForEmptyPrompt: true,
});

/**
 * The SDXL pipeline: text-to-image, img2img (`image`), inpainting (`image` + `maskImage`), the refiner
 * hand-off (`denoisingEnd` / `denoisingStart`) and SDXL-Turbo, with the semantics of diffusers'
 * `StableDiffusionXLPipeline`, `StableDiffusionXLImg2ImgPipeline` and `StableDiffusionXLInpaintPipeline`.
 *
 * ```ts
 * const pipe = await StableDiffusionXLPipeline.fromPretrained('./sdxl', { backend });
 * const { images } = await pipe.generate({ prompt: 'a red circle', seed: 42, numInferenceSteps: 30 });
 * ```
 */
export class StableDiffusionXLPipeline extends PipelineBase {
  /** The pipeline config (`requires_aesthetics_score`, `force_zeros_for_empty_prompt`) this pipeline uses. */
  readonly config: Readonly<SdxlPipelineConfig>;

  /**
   * Builds a pipeline from parts; see {@link StableDiffusionXLPipeline.fromPretrained} to load a model.
   *
   * @param config - The model's pipeline config; defaults: SDXL base's (`requiresAestheticsScore: false`,
   *   `forceZerosForEmptyPrompt: true`).
   */
  constructor(parts: PipelineParts, config?: Partial<SdxlPipelineConfig>) {
    super(parts, 'pass { denoiser, codec, scheduler } (and promptEncoder to use text prompts)');
    this.config = Object.freeze({ ...DEFAULT_SDXL_CONFIG, ...config });
  }

  /**
   * Loads an SDXL model (base, refiner or Turbo) with a backend (`backend.load(source, rest)`); the
   * pipeline config comes from the loaded parts (`parts.sdxl`).
   *
   * @throws {@link ModelMismatchError} when the model is not SDXL (use StableDiffusionPipeline, or
   *   DiffusionPipeline.fromPretrained to pick the class from the model).
   */
  static async fromPretrained<O extends object>(
    source: string,
    options: { backend: Backend<O>; limits?: Partial<PipelineLimits> } & O,
  ): Promise<StableDiffusionXLPipeline> {
    const { parts, limits } = await loadPipelineParts('StableDiffusionXLPipeline', source, options);
    if (!parts.sdxl) {
      const right = parts.lowResScheduler
        ? 'StableDiffusionUpscalePipeline'
        : parts.denoiser.grounding
          ? 'StableDiffusionGLIGENPipeline'
          : 'StableDiffusionPipeline';
      return rejectParts(
        parts,
        new ModelMismatchError(
          `${source} is not an SDXL model (its model_index.json names no SDXL pipeline and it has no text_encoder_2). Fix: load it with ${right}.fromPretrained, or DiffusionPipeline.fromPretrained to pick the class from the model.`,
        ),
      );
    }
    const config = parts.sdxl;
    return PipelineBase.adoptParts(parts, () => new StableDiffusionXLPipeline({ ...parts, limits }, config));
  }

  /**
   * Generates images; see {@link SdxlGenerateOptions}. The type of `images` follows `outputType`.
   */
  generate<O extends OutputType = 'image'>(
    options: SdxlGenerateOptions & { outputType?: O },
  ): Promise<GenerateResult<O>>;
  async generate(_options: SdxlGenerateOptions): Promise<GenerateResult<OutputType>> {
    throw new NotImplementedError('StableDiffusionXLPipeline.generate is being written (issue 18).');
  }
}
