import { ModelMismatchError } from '../errors.js';
import type { Backend, PipelineParts } from '../interfaces/backend.js';
import { checkGroundingRow, groundingBatch } from '../layout/grounding-batch.js';
import { checkGroundingSpec, type LayoutConditioner, LayoutEncoder } from '../layout/layout-encoder.js';
import { groundedCalls } from '../layout/scheduled-sampling.js';
import { runDenoisingLoop } from './denoising-loop.js';
import type { GenerateResult, OutputType } from './generate-options.js';
import type { GligenGenerateOptions } from './gligen-options.js';
import { loadPipelineParts, rejectParts, sdxlModelError } from './load-parts.js';
import { PipelineBase } from './pipeline-base.js';
import { withSchedulerLease } from './pipeline-call.js';
import type { PipelineLimits } from './pipeline-limits.js';
import { initialLatents } from './prepare-latents.js';
import { GLIGEN_LAYOUT_NAMES, validateGligenOptions } from './validate-gligen-options.js';

/** The parts of a GLIGEN pipeline: a pipeline's parts (with a grounded denoiser) and, optionally, the layout conditioner. */
export type GligenPipelineParts = PipelineParts & {
  /**
   * What turns a layout into grounding tensors. Default: a {@link LayoutEncoder} over the prompt encoder
   * and the denoiser's grounding spec. Replace it to encode layouts your own way.
   */
  layoutEncoder?: LayoutConditioner;
};

/**
 * Layout-to-image with a grounded (GLIGEN) UNet, with the semantics of diffusers'
 * `StableDiffusionGLIGENPipeline` (text-box grounding, `masterful/gligen-1-4-generation-text-box`): each
 * object's phrase is encoded to the text encoder's pooled embedding, boxes, embeddings and masks are
 * zero-padded to the UNet's 30 slots, under guidance the unconditional rows' masks are 0, and grounding is
 * on for the first `trunc(beta · timesteps.length)` denoiser calls, then off. It runs the same denoising
 * loop as {@link StableDiffusionPipeline}; text-to-image only.
 *
 * ```ts
 * const pipe = await StableDiffusionGLIGENPipeline.fromPretrained('./layout-model', { backend });
 * const { images } = await pipe.generate({
 *   prompt: 'two shapes on a white background',
 *   layout: [{ phrase: 'a red circle', box: [0.05, 0.05, 0.45, 0.45] }, { phrase: 'a blue square', box: [0.55, 0.55, 0.95, 0.95] }],
 *   seed: 1,
 * });
 * ```
 */
export class StableDiffusionGLIGENPipeline extends PipelineBase {
  /** Turns a call's layout into one row of grounding tensors (see {@link LayoutEncoder}). */
  readonly layoutEncoder: LayoutConditioner;

  /**
   * Builds the pipeline from parts; see {@link StableDiffusionGLIGENPipeline.fromPretrained} to load a model.
   *
   * @throws {@link ModelMismatchError} when the denoiser is not grounded (no `denoiser.grounding`).
   */
  constructor(parts: GligenPipelineParts) {
    super(
      parts,
      'pass { denoiser, codec, scheduler } with a grounded denoiser (and promptEncoder to use text prompts and phrases)',
    );
    const spec = checkGroundingSpec(parts.denoiser.grounding);
    this.layoutEncoder =
      parts.layoutEncoder ?? new LayoutEncoder(parts.promptEncoder, spec, GLIGEN_LAYOUT_NAMES);
  }

  /**
   * Loads a grounded model with a backend (`backend.load(source, rest)`), e.g. a diffusers ONNX folder of a
   * GLIGEN model (`unet/config.json` `"attention_type": "gated"`) with `@latentkit/backend-node`. Call
   * {@link PipelineBase.dispose} to release its sessions.
   *
   * @throws {@link ModelMismatchError} when the model is SDXL (use StableDiffusionXLPipeline), or when the model's denoiser is not grounded (an ordinary text-to-image
   *   model or an upscaler); its sessions are released first.
   */
  static async fromPretrained<O extends object>(
    source: string,
    options: { backend: Backend<O>; limits?: Partial<PipelineLimits> } & O,
  ): Promise<StableDiffusionGLIGENPipeline> {
    const { parts, limits } = await loadPipelineParts('StableDiffusionGLIGENPipeline', source, options);
    if (parts.sdxl) return rejectParts(parts, sdxlModelError(source, 'StableDiffusionGLIGENPipeline'));
    if (!parts.denoiser?.grounding || parts.lowResScheduler) {
      return rejectParts(
        parts,
        new ModelMismatchError(
          `${source} is not a grounded (GLIGEN) model: its UNet takes no gligen_* inputs${parts.lowResScheduler ? ' (it is an x4 upscaler)' : ''}. Fix: load a GLIGEN export (unet/config.json "attention_type": "gated", model_index.json StableDiffusionGLIGENPipeline), e.g. the shapes layout model in @latentkit/model-shapes, or load this model with ${parts.lowResScheduler ? 'StableDiffusionUpscalePipeline' : 'StableDiffusionPipeline'}.fromPretrained.`,
        ),
      );
    }
    return PipelineBase.adoptParts(parts, () => new StableDiffusionGLIGENPipeline({ ...parts, limits }));
  }

  /**
   * Generates images with objects in the layout's boxes. Every option is checked before any work; see
   * {@link GligenGenerateOptions}. In diffusers' order: the prompts are encoded, the phrases encoded to
   * pooled embeddings (one `encodePooled` call), the row of grounding tensors grown to the denoiser's batch
   * (every prompt × image; under guidance `[uncond; cond]` with the unconditional masks 0), the latents
   * drawn, then the shared denoising loop with grounding on for the first `trunc(beta · timesteps.length)`
   * calls, and the decode. `parameters.layout` records the phrases, boxes and beta.
   */
  generate<O extends OutputType = 'image'>(
    options: GligenGenerateOptions & { outputType?: O },
  ): Promise<GenerateResult<O>>;
  async generate(options: GligenGenerateOptions): Promise<GenerateResult<OutputType>> {
    const v = validateGligenOptions(options, this);
    return this.withLoraTags(v, () => this.#generate(v));
  }

  async #generate(v: ReturnType<typeof validateGligenOptions>): Promise<GenerateResult<OutputType>> {
    const { shared, generator, parameters, conditioning } = await this.startCall(v);
    const signal = v.signal;

    const spec = checkGroundingSpec(this.denoiser.grounding);
    const row = checkGroundingRow(await this.layoutEncoder.encode(v.layoutInput), spec);
    signal?.throwIfAborted();
    const tensors = groundingBatch(row, v.totalImages, v.doClassifierFreeGuidance);

    const latents = await withSchedulerLease(shared, signal, async (scheduler) => {
      scheduler.setTimesteps(v.numInferenceSteps);
      const shape = [v.totalImages, this.codec.latentChannels, v.latentHeight, v.latentWidth];
      const start = initialLatents(shape, scheduler.initNoiseSigma, generator, v.latents);
      const timesteps = [...scheduler.timesteps];
      return runDenoisingLoop({
        denoiser: this.denoiser,
        scheduler,
        latents: start.latents,
        timesteps,
        conditioning,
        doClassifierFreeGuidance: v.doClassifierFreeGuidance,
        guidanceScale: v.guidanceScale,
        guidanceRescale: v.guidanceRescale,
        eta: v.eta,
        generator,
        grounding: { tensors, activeCalls: groundedCalls(v.layout.scheduledSamplingBeta, timesteps.length) },
        signal,
        onStep: v.onStep,
      });
    });

    return this.finishCall(v, latents, parameters);
  }
}
