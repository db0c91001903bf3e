import { InvalidArgumentError, ModelMismatchError, ShapeMismatchError } from '../errors.js';
import type { Backend, PipelineParts, SdxlPipelineConfig } from '../interfaces/backend.js';
import type { Conditioning } from '../interfaces/conditioning.js';
import type { Tensor } from '../tensor.js';
import { truncateAtDenoisingEnd } from './denoising-fraction.js';
import type { GenerateResult, OutputType, ResolvedSdxlParameters } from './generate-options.js';
import { loadPipelineParts, rejectParts } from './load-parts.js';
import { denoiseFromStart, startLoop } from './loop-start.js';
import { PipelineBase } from './pipeline-base.js';
import { withSchedulerLease } from './pipeline-call.js';
import type { PipelineLimits } from './pipeline-limits.js';
import type { SdxlGenerateOptions } from './sdxl-options.js';
import { sdxlTimeIds } from './sdxl-time-ids.js';
import { type ValidatedSdxlOptions, validateSdxlOptions } from './validate-sdxl-options.js';

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
   * Generates images; see {@link SdxlGenerateOptions}. The type of `images` follows `outputType`:
   * `RgbaImage[]` by default, a `Tensor` for `'tensor'` and `'latent'` (the refiner's `image`).
   *
   * The denoiser gets `conditioning { encoderHiddenStates, textEmbeds, timeIds }` on every call, batch
   * `[uncond…; cond…]` under guidance (time ids as diffusers builds them, quirks included: docs/sdxl.md).
   * Calls may run at the same time on one pipeline, each on its own scheduler state, as
   * StableDiffusionPipeline's. Every option is checked before any work.
   */
  generate<O extends OutputType = 'image'>(
    options: SdxlGenerateOptions & { outputType?: O },
  ): Promise<GenerateResult<O>>;
  async generate(options: SdxlGenerateOptions): Promise<GenerateResult<OutputType>> {
    const v = validateSdxlOptions(options, this, this.config);
    const { timeIds, positive, negative } = sdxlTimeIds(v.micro, {
      mode: v.mode,
      requiresAestheticsScore: this.config.requiresAestheticsScore,
      totalImages: v.totalImages,
      doClassifierFreeGuidance: v.doClassifierFreeGuidance,
    });
    v.sdxl = resolvedSdxl(v, this.config.requiresAestheticsScore, positive, negative);
    return this.withLoraTags(v, () => this.#generate(v, timeIds));
  }

  async #generate(v: ValidatedSdxlOptions, timeIds: Tensor): Promise<GenerateResult<OutputType>> {
    const { shared, generator, parameters, conditioning } = await this.startCall(v);
    checkPooled(conditioning, this.denoiser.microConditioning?.textEmbedsDim);
    // diffusers ignores strength when denoising_start is given; so does the record of the call.
    if (v.denoisingStart !== undefined) delete parameters.strength;
    const signal = v.signal;
    const latents = await withSchedulerLease(shared, signal, async (scheduler) => {
      scheduler.setTimesteps(v.numInferenceSteps);
      // diffusers' SDXL txt2img starts the scheduler at index 0 explicitly.
      if (v.mode === 'txt2img') scheduler.setBeginIndex?.(0);
      const start = await startLoop(this, v, scheduler, generator);
      const timesteps =
        v.denoisingEnd === undefined
          ? start.timesteps
          : truncateAtDenoisingEnd(scheduler, start.timesteps, v.denoisingEnd);
      return denoiseFromStart(
        this.denoiser,
        v,
        scheduler,
        generator,
        start,
        { ...conditioning, timeIds },
        timesteps,
      );
    });
    return this.finishCall(v, latents, parameters);
  }
}

/** The `sdxl` block of the resolved parameters. */
function resolvedSdxl(
  v: ValidatedSdxlOptions,
  refiner: boolean,
  positive: number[],
  negative: number[],
): ResolvedSdxlParameters {
  const m = v.micro;
  const out: ResolvedSdxlParameters = {
    originalSize: m.originalSize,
    cropsCoordsTopLeft: m.cropsCoordsTopLeft,
    targetSize: m.targetSize,
    timeIds: { positive, negative },
  };
  if (m.negativeOriginalSize) out.negativeOriginalSize = m.negativeOriginalSize;
  if (m.negativeCropsCoordsTopLeft) out.negativeCropsCoordsTopLeft = m.negativeCropsCoordsTopLeft;
  if (m.negativeTargetSize) out.negativeTargetSize = m.negativeTargetSize;
  if (refiner && v.mode !== 'txt2img') {
    out.aestheticScore = m.aestheticScore;
    out.negativeAestheticScore = m.negativeAestheticScore;
  }
  if (v.denoisingEnd !== undefined) out.denoisingEnd = v.denoisingEnd;
  if (v.denoisingStart !== undefined) out.denoisingStart = v.denoisingStart;
  return out;
}

/**
 * An SDXL UNet needs the pooled embeddings, of the width it takes: a prompt encoder that returns none (an
 * SD 1.x encoder) or another width is the wrong one.
 */
function checkPooled(c: Conditioning, textEmbedsDim: number | undefined): void {
  if (!c.textEmbeds) {
    throw new InvalidArgumentError({
      name: 'promptEncoder.encode output textEmbeds',
      value: undefined,
      expected:
        'the pooled text embeddings [B, P] of the second text encoder (an SDXL prompt encoder returns them)',
      fix: "load the model's SDXL prompt encoder (text_encoder + text_encoder_2), or pass promptEmbeds with textEmbeds",
    });
  }
  const width = c.textEmbeds.shape[1];
  if (textEmbedsDim !== undefined && width !== textEmbedsDim) {
    throw new ShapeMismatchError({
      name: 'textEmbeds width',
      value: width,
      expected: `${textEmbedsDim}, the denoiser's text_embeds width (denoiser.microConditioning.textEmbedsDim)`,
      fix: 'use the prompt encoder of the same model as the denoiser (text_encoder_2 projection_dim)',
    });
  }
}
