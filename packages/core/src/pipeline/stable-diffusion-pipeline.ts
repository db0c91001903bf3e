import { ModelMismatchError } from '../errors.js';
import type { Backend, PipelineParts } from '../interfaces/backend.js';
import type { GenerateOptions, GenerateResult, OutputType } from './generate-options.js';
import { loadPipelineParts, rejectParts, sdxlModelError } from './load-parts.js';
import { denoiseFromStart, startLoop } from './loop-start.js';
import { PipelineBase } from './pipeline-base.js';
import { withSchedulerLease } from './pipeline-call.js';
import type { PipelineLimits } from './pipeline-limits.js';
import { type ValidatedOptions, validateGenerateOptions } from './validate-options.js';

/**
 * The Stable Diffusion pipeline: text-to-image, img2img (`image`) and inpainting (`image` + `maskImage`),
 * with diffusers' semantics — the same inputs and seed give the numbers `StableDiffusionPipeline`,
 * `StableDiffusionImg2ImgPipeline` and `StableDiffusionInpaintPipeline` give.
 *
 * ```ts
 * const pipe = await StableDiffusionPipeline.fromPretrained('./model', { backend });
 * const { images } = await pipe.generate({ prompt: 'a red circle', seed: 42, numInferenceSteps: 20 });
 * ```
 */
export class StableDiffusionPipeline extends PipelineBase {
  /** Builds a pipeline from parts; see {@link StableDiffusionPipeline.fromPretrained} to load a model. */
  constructor(parts: PipelineParts) {
    super(parts, 'pass { denoiser, codec, scheduler } (and promptEncoder to use text prompts)');
  }

  /**
   * Loads a model with a backend (`backend.load(source, rest)`), e.g. a diffusers ONNX folder with
   * `@latentkit/backend-node`. The backend's own options go next to `backend`. Call
   * {@link PipelineBase.dispose} to release its sessions.
   *
   * @throws {@link ModelMismatchError} when the model is an x4 upscaler (use StableDiffusionUpscalePipeline)
   *   or SDXL (use StableDiffusionXLPipeline).
   */
  static async fromPretrained<O extends object>(
    source: string,
    options: { backend: Backend<O>; limits?: Partial<PipelineLimits> } & O,
  ): Promise<StableDiffusionPipeline> {
    const { parts, limits } = await loadPipelineParts('StableDiffusionPipeline', source, options);
    if (parts.lowResScheduler) {
      // An x4 upscaler folder: its 7-channel UNet and decode-only VAE cannot run text-to-image.
      return rejectParts(
        parts,
        new ModelMismatchError(
          `${source} is an x4 upscaler model (it has a low-res scheduler and a 7-channel UNet), not a text-to-image model. Fix: load it with StableDiffusionUpscalePipeline.fromPretrained.`,
        ),
      );
    }
    if (parts.sdxl) return rejectParts(parts, sdxlModelError(source, 'StableDiffusionPipeline'));
    return PipelineBase.adoptParts(parts, () => new StableDiffusionPipeline({ ...parts, limits }));
  }

  /**
   * Generates images. Every option is checked before any work; see {@link GenerateOptions}. The type of
   * `images` follows `outputType`: `RgbaImage[]` by default, a `Tensor` for `'tensor'` and `'latent'`;
   * `parameters` holds the resolved settings and each image's prompt and seed.
   *
   * Calls may run at the same time on one pipeline: each runs on its own `scheduler.clone()`, so it gives
   * exactly the images it gives alone (a scheduler without `clone` is shared, and the calls using it run
   * their denoising loops one at a time). The latents are checked after every step and the decoded image
   * before conversion: NaN or ±Infinity rejects with a `NonFiniteOutputError` naming the step.
   */
  generate<O extends OutputType = 'image'>(
    options: GenerateOptions & { outputType?: O },
  ): Promise<GenerateResult<O>>;
  async generate(options: GenerateOptions): Promise<GenerateResult<OutputType>> {
    const v = validateGenerateOptions(options, this);
    return this.withLoraTags(v, () => this.#generate(v));
  }

  async #generate(v: ValidatedOptions): Promise<GenerateResult<OutputType>> {
    // The scheduler of this call is the one set when it starts; swapping `pipe.scheduler` later affects
    // later calls only.
    const { shared, generator, parameters, conditioning } = await this.startCall(v);
    const signal = v.signal;

    // Each call runs on a scheduler state of its own (a clone), or waits its turn for a clone-less one.
    const latents = await withSchedulerLease(shared, signal, async (scheduler) => {
      scheduler.setTimesteps(v.numInferenceSteps);
      const start = await startLoop(this, v, scheduler, generator);
      return denoiseFromStart(this.denoiser, v, scheduler, generator, start, conditioning);
    });

    return this.finishCall(v, latents, parameters);
  }
}
