import { InvalidArgumentError, ShapeMismatchError } from '../errors.js';
import { denormalizeImage, normalizeImage } from '../image/image-range.js';
import { tensorToRgba } from '../image/rgba-image.js';
import type { Backend, PipelineParts } from '../interfaces/backend.js';
import type { Conditioning } from '../interfaces/conditioning.js';
import type { Denoiser } from '../interfaces/denoiser.js';
import type { LatentCodec } from '../interfaces/latent-codec.js';
import type { PromptEncoder } from '../interfaces/prompt-encoder.js';
import type { Scheduler } from '../interfaces/scheduler.js';
import type { Generator } from '../random/generator.js';
import { TorchGenerator } from '../random/torch-generator.js';
import { Tensor } from '../tensor.js';
import { applyGuidance, rescaleNoiseCfg } from './classifier-free-guidance.js';
import {
  concatConditioning,
  conditioningBatch,
  repeatConditioning,
  splitConditioning,
} from './conditioning-batch.js';
import type { GenerateOptions, GenerateResult, OutputType } from './generate-options.js';
import { GeneratorList } from './generator-list.js';
import { strengthSchedule } from './img2img.js';
import { binarizeMask, blendKnownLatents, maskedImage, resizeNearest } from './inpaint-mask.js';
import { checkDecodedImage, checkInitialLatents, checkStepLatents } from './non-finite.js';
import { mergePipelineLimits, type PipelineLimits, resolvePipelineLimits } from './pipeline-limits.js';
import { checkLatents, encodeImages, expandBatch, initialLatents } from './prepare-latents.js';
import { resolveParameters } from './resolved-parameters.js';
import { leaseScheduler } from './scheduler-lease.js';
import { checkNegativeMatches, type ValidatedOptions, validateGenerateOptions } from './validate-options.js';

/** What the denoising loop starts from. */
interface LoopStart {
  latents: Tensor;
  timesteps: number[];
  /** 9-channel inpainting: `[mask, maskedImageLatents]` concatenated to every denoiser input (CFG-doubled). */
  extraChannels?: Tensor[];
  /** 4-channel inpainting: the known latents, the noise that re-noises them, and the latent-size mask. */
  blend?: { imageLatents: Tensor; noise: Tensor; mask: Tensor };
}

function randomSeed(): number {
  return Math.floor(Math.random() * Number.MAX_SAFE_INTEGER);
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
export class StableDiffusionPipeline {
  /** Turns prompts into conditioning; optional when callers pass `promptEmbeds`. */
  readonly promptEncoder: PromptEncoder | undefined;
  /** The noise predictor (UNet). */
  readonly denoiser: Denoiser;
  /** The VAE: latents ↔ images. */
  readonly codec: LatentCodec;
  /** The scheduler; swappable between calls (e.g. `DPMSolverMultistepScheduler.fromConfig(pipe.scheduler.config)`). */
  scheduler: Scheduler;
  /** Upper bounds checked before each call allocates anything; assign to raise them (docs/performance.md). */
  limits: PipelineLimits;
  #disposeParts: (() => Promise<void>) | undefined;
  #disposed = false;

  /** Builds a pipeline from parts; see {@link StableDiffusionPipeline.fromPretrained} to load a model. */
  constructor(parts: PipelineParts) {
    for (const key of ['denoiser', 'codec', 'scheduler'] as const) {
      if (typeof parts?.[key] !== 'object' || parts[key] === null) {
        throw new InvalidArgumentError({
          name: `parts.${key}`,
          value: parts?.[key],
          expected: `a ${key === 'codec' ? 'LatentCodec' : key === 'denoiser' ? 'Denoiser' : 'Scheduler'}`,
          fix: 'pass { denoiser, codec, scheduler } (and promptEncoder to use text prompts)',
        });
      }
    }
    this.promptEncoder = parts.promptEncoder;
    this.denoiser = parts.denoiser;
    this.codec = parts.codec;
    this.scheduler = parts.scheduler;
    this.limits = resolvePipelineLimits(parts.limits);
  }

  /**
   * Loads a model with a backend (`backend.load(source, rest)`), e.g. a diffusers ONNX folder with
   * `@latentkit/backend-node`. The backend's own options go next to `backend`. Call
   * {@link StableDiffusionPipeline.dispose} to release its sessions.
   */
  static async fromPretrained<O extends object>(
    source: string,
    options: { backend: Backend<O>; limits?: Partial<PipelineLimits> } & O,
  ): Promise<StableDiffusionPipeline> {
    if (typeof source !== 'string' || source === '') {
      throw new InvalidArgumentError({
        name: 'source',
        value: source,
        expected: 'a model folder path or URL (a non-empty string)',
        fix: "pass e.g. StableDiffusionPipeline.fromPretrained('./model', { backend: nodeBackend })",
      });
    }
    if (typeof options !== 'object' || options === null) {
      throw new InvalidArgumentError({
        name: 'options',
        value: options,
        expected: 'an options object with a backend, e.g. { backend: nodeBackend }',
        fix: "pass { backend: nodeBackend } from '@latentkit/backend-node' (Node) or { backend: webBackend } from '@latentkit/backend-web' (browser)",
      });
    }
    const { backend, ...rest } = options;
    if (typeof backend?.load !== 'function') {
      throw new InvalidArgumentError({
        name: 'options.backend',
        value: backend,
        expected: 'a Backend with load(source, options)',
        fix: "pass e.g. { backend: nodeBackend } from '@latentkit/backend-node'",
      });
    }
    // A bad limit fails before the (slow) load; the limits given here win over the backend's.
    if (options.limits !== undefined) resolvePipelineLimits(options.limits);
    const parts = await backend.load(source, rest as unknown as O);
    const pipeline = new StableDiffusionPipeline({
      ...parts,
      limits: mergePipelineLimits(parts.limits, options.limits),
    });
    pipeline.#disposeParts = parts.dispose?.bind(parts);
    return pipeline;
  }

  /** Releases what the backend holds (runtime sessions). Safe to call more than once. */
  async dispose(): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    await this.#disposeParts?.();
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
    // The scheduler of this call is the one set when it starts; swapping `pipe.scheduler` later affects
    // later calls only.
    const shared = this.scheduler;
    const signal = v.signal;
    signal?.throwIfAborted();
    const seed = v.generator || v.generators ? undefined : (v.seed ?? randomSeed());
    // diffusers' randn_tensor with a list of generators: item i from generator i, in every draw.
    const generator: Generator = v.generators
      ? new GeneratorList(v.generators)
      : (v.generator ?? new TorchGenerator(seed!));
    const parameters = resolveParameters(v, shared, seed);

    const conditioning = await this.#conditioning(v);
    signal?.throwIfAborted();

    // Each call runs on a scheduler state of its own (a clone), or waits its turn for a clone-less one.
    const lease = await leaseScheduler(shared, signal);
    let latents: Tensor;
    try {
      latents = await this.#denoise(v, lease.scheduler, generator, conditioning);
    } finally {
      lease.release();
    }

    if (v.outputType === 'latent') return { images: latents, parameters };
    signal?.throwIfAborted();
    const decoded = await this.codec.decode(latents);
    const image = denormalizeImage(
      checkDecodedImage(checkLatents('codec.decode output', decoded, [v.totalImages, 3, v.height, v.width])),
    );
    return { images: v.outputType === 'tensor' ? image : tensorToRgba(image), parameters };
  }

  /**
   * The denoising loop on the call's own scheduler: the starting latents, then per timestep one denoiser
   * call (CFG-batched), guidance, the scheduler step and a check that the latents stayed finite.
   */
  async #denoise(
    v: ValidatedOptions,
    scheduler: Scheduler,
    generator: Generator,
    conditioning: Conditioning,
  ): Promise<Tensor> {
    const signal = v.signal;
    const encodeGenerator: Generator | readonly Generator[] = v.generators ?? generator;
    scheduler.setTimesteps(v.numInferenceSteps);
    const start =
      v.mode === 'txt2img'
        ? this.#startText(v, scheduler, generator)
        : await this.#startFromImage(v, scheduler, generator, encodeGenerator);

    let latents = checkInitialLatents(start.latents);
    const { timesteps } = start;
    const latentShape = [v.totalImages, this.codec.latentChannels, v.latentHeight, v.latentWidth];
    const batchIn = v.doClassifierFreeGuidance ? 2 * v.totalImages : v.totalImages;
    for (let i = 0; i < timesteps.length; i++) {
      const t = timesteps[i]!;
      signal?.throwIfAborted();
      let sample = v.doClassifierFreeGuidance ? Tensor.cat([latents, latents]) : latents;
      sample = scheduler.scaleModelInput(sample, t);
      // The mask channels are concatenated after scaling, as diffusers does: they are never scaled.
      if (start.extraChannels) sample = Tensor.cat([sample, ...start.extraChannels], 1);
      let prediction = await this.denoiser.predict({ sample, timestep: t, conditioning });
      prediction = checkPrediction(prediction, [batchIn, ...latentShape.slice(1)]);
      if (v.doClassifierFreeGuidance) {
        const { guided, cond } = applyGuidance(prediction, v.guidanceScale);
        prediction = v.guidanceRescale > 0 ? rescaleNoiseCfg(guided, cond, v.guidanceRescale) : guided;
      }
      latents = scheduler.step(prediction, t, latents, { generator, eta: v.eta }).prevSample;
      if (start.blend) {
        // 4-channel inpainting: put the known region back, noised to the next step's level (clean at the end).
        const { imageLatents, noise, mask } = start.blend;
        const known =
          i < timesteps.length - 1
            ? scheduler.addNoise(imageLatents, noise, timesteps[i + 1]!)
            : imageLatents;
        latents = blendKnownLatents(known, latents, mask);
      }
      checkStepLatents(latents, i, timesteps.length, t, v.guidanceScale);
      await v.onStep?.({ step: i, totalSteps: timesteps.length, timestep: t, latents });
    }
    return latents;
  }

  /**
   * The denoiser's conditioning: each prompt's row repeated `numImagesPerPrompt` times in a row, and under
   * guidance `[uncond; cond]`, uncond first.
   */
  async #conditioning(v: ValidatedOptions): Promise<Conditioning> {
    let cond = v.promptEmbeds;
    let uncond = v.negativePromptEmbeds;
    const texts = [...(v.negativePrompts ?? []), ...(v.prompts ?? [])];
    if (texts.length > 0) {
      // One encoder call for negative and positive prompts: a batched run, and encoders that pad
      // long prompts pad both alike.
      const encoded = await this.promptEncoder!.encode(
        texts,
        v.clipSkip === undefined ? undefined : { clipSkip: v.clipSkip },
      );
      const rows = conditioningBatch(encoded);
      if (rows !== texts.length) {
        throw new ShapeMismatchError({
          name: 'promptEncoder.encode output batch',
          value: rows,
          expected: `${texts.length}, one row per prompt`,
          fix: 'make the prompt encoder return one row of encoderHiddenStates per prompt',
        });
      }
      const nNeg = v.negativePrompts?.length ?? 0;
      const [neg, pos] = splitConditioning(encoded, nNeg);
      if (v.prompts) cond = pos;
      if (v.negativePrompts) uncond = neg;
    }
    if (!cond)
      throw new InvalidArgumentError({
        name: 'prompt',
        value: undefined,
        expected: 'a prompt or promptEmbeds',
      });
    const repeatedCond = repeatConditioning(cond, v.numImagesPerPrompt);
    if (!v.doClassifierFreeGuidance) return repeatedCond;
    checkNegativeMatches(cond, uncond!);
    return concatConditioning([repeatConditioning(uncond!, v.numImagesPerPrompt), repeatedCond]);
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

/** A denoiser output must be `[batch, latentChannels, h, w]`; anything else fails here, clearly. */
function checkPrediction(prediction: Tensor, expected: readonly number[]): Tensor {
  if (!(prediction instanceof Tensor) || prediction.shape.join() !== expected.join()) {
    throw new ShapeMismatchError({
      name: 'denoiser.predict output',
      value: prediction instanceof Tensor ? prediction.shape : prediction,
      expected: `a Tensor of shape [${expected.join(', ')}] (the sample's batch and size, latent channels)`,
      fix: 'check that the denoiser and codec belong to the same model and that the denoiser returns one prediction per input',
    });
  }
  return prediction;
}
