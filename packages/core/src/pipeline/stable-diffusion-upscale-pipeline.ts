import { InvalidArgumentError, ModelMismatchError } from '../errors.js';
import { normalizeImage } from '../image/image-range.js';
import type { Backend, PipelineParts } from '../interfaces/backend.js';
import type { Scheduler } from '../interfaces/scheduler.js';
import type { Generator } from '../random/generator.js';
import { Tensor } from '../tensor.js';
import { runDenoisingLoop } from './denoising-loop.js';
import type { GenerateResult, OutputType } from './generate-options.js';
import { loadPipelineParts, rejectParts, sdxlModelError } from './load-parts.js';
import { checkFinite } from './non-finite.js';
import { PipelineBase } from './pipeline-base.js';
import { withSchedulerLease } from './pipeline-call.js';
import type { PipelineLimits } from './pipeline-limits.js';
import { initialLatents } from './prepare-latents.js';
import { UPSCALE_DEFAULTS, type UpscaleGenerateOptions } from './upscale-options.js';
import { type ValidatedUpscaleOptions, validateUpscaleOptions } from './validate-upscale-options.js';

/** The settings of an upscaler model, beside its parts. */
export interface UpscalePipelineConfig {
  /**
   * The largest `noiseLevel` the model was trained with (`max_noise_level` in its `model_index.json`):
   * the UNet's class embedding has one entry per level. Default 350.
   */
  maxNoiseLevel?: number;
}

/** The parts of the x4 upscaler: a pipeline's parts and the low-res scheduler. */
export type UpscalePipelineParts = PipelineParts & {
  /** The scheduler that noises the low-res image to `noiseLevel` (a DDPM; only its `addNoise` is used). */
  lowResScheduler: Scheduler;
};

/**
 * The Stable Diffusion x4 upscaler (`stabilityai/stable-diffusion-x4-upscaler`), with the semantics of
 * diffusers' `StableDiffusionUpscalePipeline`: the low-res image is noised by `lowResScheduler` to
 * `noiseLevel` and concatenated to the latents (a 7-channel UNet input), the noise level goes to the UNet
 * as `classLabels`, and the VAE decodes the low-res-sized latents to 4× the pixels. It runs the same
 * denoising loop as {@link StableDiffusionPipeline}.
 *
 * ```ts
 * const up = await StableDiffusionUpscalePipeline.fromPretrained('./sd-x4-upscaler', { backend: nodeBackend });
 * const { images } = await up.generate({ prompt: 'a red circle', image: small, seed: 1, numInferenceSteps: 20 });
 * ```
 */
export class StableDiffusionUpscalePipeline extends PipelineBase {
  /** The scheduler that noises the low-res image (its `addNoise` at timestep `noiseLevel`). */
  readonly lowResScheduler: Scheduler;
  /** The largest accepted `noiseLevel`. */
  readonly maxNoiseLevel: number;

  /** Builds the pipeline from parts; see {@link StableDiffusionUpscalePipeline.fromPretrained} to load a model. */
  constructor(parts: UpscalePipelineParts, config: UpscalePipelineConfig = {}) {
    const fix =
      'pass { denoiser, codec, scheduler, lowResScheduler } (and promptEncoder to use text prompts)';
    super(parts, fix);
    if (typeof parts.lowResScheduler?.addNoise !== 'function') {
      throw new InvalidArgumentError({
        name: 'parts.lowResScheduler',
        value: parts.lowResScheduler,
        expected: "a Scheduler with addNoise (the x4 upscaler's DDPMScheduler)",
        fix: "pass e.g. lowResScheduler: DDPMScheduler.fromConfig(low_res_scheduler/scheduler_config.json's contents)",
      });
    }
    if (typeof config !== 'object' || config === null) {
      throw new InvalidArgumentError({
        name: 'config',
        value: config,
        expected: 'an object such as { maxNoiseLevel: 350 }',
      });
    }
    for (const key of Object.keys(config)) {
      if (key !== 'maxNoiseLevel') {
        throw new InvalidArgumentError({
          name: `config key ${JSON.stringify(key)}`,
          value: (config as Record<string, unknown>)[key],
          expected: 'maxNoiseLevel (the only setting of the upscaler)',
          fix: 'remove the key',
        });
      }
    }
    const max = config.maxNoiseLevel ?? UPSCALE_DEFAULTS.maxNoiseLevel;
    const trainSteps = parts.lowResScheduler.config?.['num_train_timesteps'];
    const limit = typeof trainSteps === 'number' ? trainSteps - 1 : Number.POSITIVE_INFINITY;
    if (typeof max !== 'number' || !Number.isInteger(max) || max < 0 || max > limit) {
      throw new InvalidArgumentError({
        name: 'maxNoiseLevel',
        value: max,
        expected: `an integer in [0, ${Number.isFinite(limit) ? limit : '∞'}]${Number.isFinite(limit) ? " (a timestep of the low-res scheduler's num_train_timesteps)" : ''}`,
        fix: "use the model's max_noise_level (350 for stable-diffusion-x4-upscaler)",
      });
    }
    this.lowResScheduler = parts.lowResScheduler;
    this.maxNoiseLevel = max;
  }

  /**
   * Loads an x4 upscaler model with a backend (`backend.load(source, rest)`), e.g. the diffusers ONNX
   * folder of `stable-diffusion-x4-upscaler` with `@latentkit/backend-node`. The backend's parts must
   * include `lowResScheduler` (and may give `maxNoiseLevel`). Call {@link PipelineBase.dispose} to
   * release its sessions.
   *
   * @throws {@link ModelMismatchError} when the model is SDXL (use StableDiffusionXLPipeline), or when the model is not an upscaler (no low-res scheduler).
   */
  static async fromPretrained<O extends object>(
    source: string,
    options: { backend: Backend<O>; limits?: Partial<PipelineLimits> } & O,
  ): Promise<StableDiffusionUpscalePipeline> {
    const { parts, limits } = await loadPipelineParts('StableDiffusionUpscalePipeline', source, options);
    if (parts.sdxl) return rejectParts(parts, sdxlModelError(source, 'StableDiffusionUpscalePipeline'));
    const { lowResScheduler, maxNoiseLevel } = parts;
    if (!lowResScheduler) {
      return rejectParts(
        parts,
        new ModelMismatchError(
          `${source} is not an x4 upscaler model: its parts have no lowResScheduler (an upscaler folder has low_res_scheduler/scheduler_config.json and a 7-channel UNet). Fix: load it with StableDiffusionPipeline.fromPretrained, or pass a stable-diffusion-x4-upscaler export.`,
        ),
      );
    }
    return PipelineBase.adoptParts(
      parts,
      () =>
        new StableDiffusionUpscalePipeline(
          { ...parts, lowResScheduler, limits },
          maxNoiseLevel === undefined ? {} : { maxNoiseLevel },
        ),
    );
  }

  /**
   * Upscales `image` 4× (the codec's `downscale`). Every option is checked before any work; see
   * {@link UpscaleGenerateOptions}. In diffusers' order: the image is normalized to [−1, 1], noised with
   * the first draw (`lowResScheduler.addNoise` at `noiseLevel`), repeated for guidance and images per
   * prompt (`torch.cat([image] * k)`), the latents drawn at the low-res size (second draw), then the shared
   * denoising loop with the image as 3 extra channels and `classLabels` = `noiseLevel` for every row, and
   * the decode. `parameters.mode` is `'upscale'`, its width and height the output size.
   */
  generate<O extends OutputType = 'image'>(
    options: UpscaleGenerateOptions & { outputType?: O },
  ): Promise<GenerateResult<O>>;
  async generate(options: UpscaleGenerateOptions): Promise<GenerateResult<OutputType>> {
    const v = validateUpscaleOptions(options, this, this.maxNoiseLevel);
    return this.withLoraTags(v, () => this.#generate(v));
  }

  async #generate(v: ValidatedUpscaleOptions): Promise<GenerateResult<OutputType>> {
    const { shared, generator, parameters, conditioning } = await this.startCall(v);
    const signal = v.signal;

    const lowRes = this.#noisedImage(v, generator);
    const copies = (v.doClassifierFreeGuidance ? 2 : 1) * v.numImagesPerPrompt;
    const extra = copies === 1 ? lowRes : Tensor.cat(Array.from({ length: copies }, () => lowRes));
    const classLabels = Tensor.full([extra.shape[0]!], v.noiseLevel);

    const latents = await withSchedulerLease(shared, signal, async (scheduler) => {
      scheduler.setTimesteps(v.numInferenceSteps);
      const shape = [v.totalImages, this.codec.latentChannels, v.latentHeight, v.latentWidth];
      const start = initialLatents(shape, scheduler.initNoiseSigma, generator, v.latents);
      return runDenoisingLoop({
        denoiser: this.denoiser,
        scheduler,
        latents: start.latents,
        timesteps: [...scheduler.timesteps],
        conditioning,
        doClassifierFreeGuidance: v.doClassifierFreeGuidance,
        guidanceScale: v.guidanceScale,
        guidanceRescale: 0,
        eta: v.eta,
        generator,
        extraChannels: [extra],
        classLabels,
        signal,
        onStep: v.onStep,
      });
    });

    return this.finishCall(v, latents, parameters);
  }

  /**
   * The low-res image in [−1, 1], noised to `noiseLevel` with the call's first draw: `randn(image.shape)`
   * from the generator, or with a list, image i from generator i (diffusers' `randn_tensor`).
   */
  #noisedImage(v: ValidatedUpscaleOptions, generator: Generator): Tensor {
    const image = normalizeImage(v.image);
    const item = [1, ...image.shape.slice(1)];
    const noise = v.generators
      ? Tensor.cat(v.generators.slice(0, image.shape[0]!).map((g) => g.randn(item)))
      : generator.randn(image.shape);
    const noised = this.lowResScheduler.addNoise(image, noise, v.noiseLevel);
    return checkFinite(noised, {
      where: 'the noised low-res image (lowResScheduler.addNoise)',
      causes: 'a low-res scheduler config whose betas give non-finite noise levels',
      fix: "check the model's low_res_scheduler/scheduler_config.json (the x4 upscaler's is a scaled_linear DDPM, 0.0001–0.02)",
    });
  }
}
