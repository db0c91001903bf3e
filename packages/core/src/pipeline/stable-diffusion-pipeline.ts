import { ModelMismatchError } from '../errors.js';
import { normalizeImage } from '../image/image-range.js';
import type { Backend, PipelineParts } from '../interfaces/backend.js';
import type { Scheduler } from '../interfaces/scheduler.js';
import type { Generator } from '../random/generator.js';
import { Tensor } from '../tensor.js';
import { type KnownLatentsBlend, runDenoisingLoop } from './denoising-loop.js';
import type { GenerateOptions, GenerateResult, OutputType } from './generate-options.js';
import { strengthSchedule } from './img2img.js';
import { binarizeMask, maskedImage, resizeNearest } from './inpaint-mask.js';
import { loadPipelineParts, rejectParts } from './load-parts.js';
import { PipelineBase } from './pipeline-base.js';
import { withSchedulerLease } from './pipeline-call.js';
import type { PipelineLimits } from './pipeline-limits.js';
import { encodeImages, expandBatch, initialLatents } from './prepare-latents.js';
import { type ValidatedOptions, validateGenerateOptions } from './validate-options.js';

/** What the denoising loop starts from. */
interface LoopStart {
  latents: Tensor;
  timesteps: number[];
  /** 9-channel inpainting: `[mask, maskedImageLatents]` concatenated to every denoiser input (CFG-doubled). */
  extraChannels?: Tensor[];
  /** 4-channel inpainting: the known latents, the noise that re-noises them, and the latent-size mask. */
  blend?: KnownLatentsBlend;
}

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
   * @throws {@link ModelMismatchError} when the model is an x4 upscaler (use StableDiffusionUpscalePipeline).
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
      const start =
        v.mode === 'txt2img'
          ? this.#startText(v, scheduler, generator)
          : await this.#startFromImage(v, scheduler, generator, v.generators ?? generator);
      return runDenoisingLoop({
        denoiser: this.denoiser,
        scheduler,
        latents: start.latents,
        timesteps: start.timesteps,
        conditioning,
        doClassifierFreeGuidance: v.doClassifierFreeGuidance,
        guidanceScale: v.guidanceScale,
        guidanceRescale: v.guidanceRescale,
        eta: v.eta,
        generator,
        ...(start.extraChannels ? { extraChannels: start.extraChannels } : {}),
        ...(start.blend ? { blend: start.blend } : {}),
        signal,
        onStep: v.onStep,
      });
    });

    return this.finishCall(v, latents, parameters);
  }

  /** Text-to-image: noise · initNoiseSigma over the whole schedule. */
  #startText(v: ValidatedOptions, scheduler: Scheduler, generator: Generator): LoopStart {
    const shape = [v.totalImages, this.codec.latentChannels, v.latentHeight, v.latentWidth];
    const { latents } = initialLatents(shape, scheduler.initNoiseSigma, generator, v.latents);
    return { latents, timesteps: [...scheduler.timesteps] };
  }

  /**
   * img2img and inpainting, drawing from the generator in diffusers' order. img2img: encode the image,
   * then the noise. Inpainting: encode the image (4-channel denoisers, or strength < 1), the noise, then
   * the masked image.
   */
  async #startFromImage(
    v: ValidatedOptions,
    scheduler: Scheduler,
    generator: Generator,
    encodeGenerator: Generator | readonly Generator[],
  ): Promise<LoopStart> {
    const { timesteps } = strengthSchedule(scheduler, v.numInferenceSteps, v.strength);
    const image = normalizeImage(v.image!);
    const codec = this.codec;
    const shape = [v.totalImages, codec.latentChannels, v.latentHeight, v.latentWidth];

    if (v.mode === 'img2img') {
      // diffusers' img2img: with a list of generators the image is first grown to one per generator.
      const imageLatents = Array.isArray(encodeGenerator)
        ? await encodeImages(codec, expandBatch(image, v.batchSize, v.numImagesPerPrompt), encodeGenerator)
        : expandBatch(await encodeImages(codec, image, encodeGenerator), v.batchSize, v.numImagesPerPrompt);
      const noise = generator.randn(imageLatents.shape);
      return { latents: scheduler.addNoise(imageLatents, noise, timesteps[0]!), timesteps };
    }

    // Inpainting (diffusers' StableDiffusionInpaintPipeline).
    const binary = binarizeMask(v.mask!);
    const fullMask = binary.shape[0] === image.shape[0] ? binary : binary.repeatInterleave(image.shape[0]!);
    const masked = maskedImage(image, fullMask);
    const blending = this.denoiser.inChannels === codec.latentChannels;
    const strengthIsMax = v.strength === 1;
    let imageLatents: Tensor | undefined;
    if (blending || (!v.latents && !strengthIsMax)) {
      imageLatents = expandBatch(
        await encodeImages(codec, image, encodeGenerator),
        v.batchSize,
        v.numImagesPerPrompt,
      );
    }
    let latents: Tensor;
    let noise: Tensor;
    if (v.latents || strengthIsMax) {
      ({ latents, noise } = initialLatents(shape, scheduler.initNoiseSigma, generator, v.latents));
    } else {
      noise = generator.randn(shape);
      latents = scheduler.addNoise(imageLatents!, noise, timesteps[0]!);
    }
    const latentMask = expandBatch(
      resizeNearest(fullMask, v.latentHeight, v.latentWidth),
      v.batchSize,
      v.numImagesPerPrompt,
    );
    // diffusers encodes the masked image for 4-channel UNets too, unused; we do the same so that the
    // generator is at the same state when the scheduler draws its per-step noise.
    const maskedLatents = expandBatch(
      await encodeImages(codec, masked, encodeGenerator),
      v.batchSize,
      v.numImagesPerPrompt,
    );
    if (blending)
      return { latents, timesteps, blend: { imageLatents: imageLatents!, noise, mask: latentMask } };
    const double = (t: Tensor) => (v.doClassifierFreeGuidance ? Tensor.cat([t, t]) : t);
    return { latents, timesteps, extraChannels: [double(latentMask), double(maskedLatents)] };
  }
}
