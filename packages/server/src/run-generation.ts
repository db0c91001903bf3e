import { encodePng, generationParametersFrom } from '@latentkit/backend-node';
import {
  decodeLatentsToRgb,
  formatGenerationParameters,
  type GenerateOptions,
  type GenerationParameters,
  type RgbaImage,
  StableDiffusionPipeline,
  StableDiffusionXLPipeline,
  type Tensor,
  TorchGenerator,
} from '@latentkit/core';
import { a1111SamplerName, createScheduler } from '@latentkit/schedulers';
import type { GenerationProgress, GenerationRequest, GenerationResult } from './generation-request.js';
import { base64Bytes, decodeImageField } from './init-image.js';

/** The pipelines the server can serve: text-to-image, img2img and inpainting models (SD 1.x/2.x, SDXL). */
export type ServablePipeline = StableDiffusionPipeline | StableDiffusionXLPipeline;

/** Whether `pipe` is a pipeline the server can serve. */
export function isServablePipeline(pipe: unknown): pipe is ServablePipeline {
  return pipe instanceof StableDiffusionPipeline || pipe instanceof StableDiffusionXLPipeline;
}

/**
 * The reason an interrupt aborts a job with (A1111's `/sdapi/v1/interrupt`): the job stops at the next
 * step and returns the images decoded from the latents it has, as A1111 does. Any other abort reason
 * (the client went away, the job was removed) cancels the job: it rejects with that reason.
 */
export class InterruptRequest extends Error {
  constructor() {
    super('interrupted by /sdapi/v1/interrupt');
    this.name = 'InterruptRequest';
  }
}

/** Options of {@link runGeneration}. */
export interface RunGenerationOptions {
  /** The model's name, written as `Model:` in each image's infotext. */
  modelName: string;
  /** Aborting cancels the job (rejects with the reason), or interrupts it when the reason is an {@link InterruptRequest}. */
  signal?: AbortSignal;
  /** Called (and awaited) after each step. */
  onProgress?: (progress: GenerationProgress) => void | Promise<void>;
  /** For jobs with `livePreview`: decode a preview of the first image every this many steps (0: none). Default 0. */
  previewEverySteps?: number;
}

/** A request's image (base64 PNG: requests are JSON so that they can travel through Redis) as RGBA. */
function decodeBase64Png(name: string, base64: string): RgbaImage {
  return decodeImageField(name, base64Bytes(name, base64));
}

function isInterrupt(signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true && signal.reason instanceof InterruptRequest;
}

/**
 * Runs one {@link GenerationRequest} on a loaded pipeline: the one code path of the in-process queue and of
 * the BullMQ workers. Image i is made by its own `TorchGenerator(seeds[i])`, in calls of `batchSize`
 * images, so each image equals what `pipe.generate({ seed: seeds[i], … })` makes alone (same batch size).
 * The pipeline's scheduler is set for the call when `request.sampler` names one (the call keeps the
 * scheduler it started with, so concurrent calls do not disturb each other).
 */
export async function runGeneration(
  pipe: ServablePipeline,
  request: GenerationRequest,
  options: RunGenerationOptions,
): Promise<GenerationResult> {
  const started = performance.now();
  const { signal } = options;
  const baseScheduler = pipe.scheduler;
  const scheduler =
    request.sampler === undefined ? baseScheduler : createScheduler(request.sampler, baseScheduler.config);
  const className = scheduler.config['_class_name'];
  const samplerName = a1111SamplerName(
    typeof className === 'string' ? className : scheduler.constructor.name,
    scheduler.config,
  );
  const initImage =
    request.initImage === undefined ? undefined : decodeBase64Png('init_images[0]', request.initImage);
  const mask = request.mask === undefined ? undefined : decodeBase64Png('mask', request.mask);
  const batches = Math.ceil(request.seeds.length / request.batchSize);
  const previewEvery = request.livePreview ? (options.previewEverySteps ?? 0) : 0;

  const result: GenerationResult = {
    images: [],
    seeds: [],
    infotexts: [],
    sampler: samplerName,
    interrupted: false,
    seconds: 0,
  };
  let stepsBefore = 0;
  for (let b = 0; b < batches && !result.interrupted; b++) {
    const seeds = request.seeds.slice(b * request.batchSize, (b + 1) * request.batchSize);
    let lastLatents: Tensor | undefined;
    let totalSteps = request.steps;
    const generateOptions: GenerateOptions = {
      prompt: request.prompt,
      negativePrompt: request.negativePrompt,
      width: request.width,
      height: request.height,
      numInferenceSteps: request.steps,
      guidanceScale: request.guidanceScale,
      numImagesPerPrompt: seeds.length,
      generator: seeds.map((seed) => new TorchGenerator(seed)),
      onStep: async (info) => {
        lastLatents = info.latents;
        totalSteps = info.totalSteps;
        const progress: GenerationProgress = {
          step: stepsBefore + info.step + 1,
          totalSteps: stepsBefore + info.totalSteps * (batches - b),
        };
        // Every `previewEvery` steps, but not after the last step: nobody sees that one.
        const done = info.step + 1;
        if (previewEvery > 0 && done % previewEvery === 0 && done < info.totalSteps) {
          const [first] = await decodeLatentsToRgb(pipe.codec, info.latents);
          progress.preview = Buffer.from(encodePng(first!)).toString('base64');
        }
        await options.onProgress?.(progress);
      },
    };
    if (signal) generateOptions.signal = signal;
    if (request.clipSkip !== undefined) generateOptions.clipSkip = request.clipSkip;
    if (request.eta !== undefined) generateOptions.eta = request.eta;
    if (initImage) {
      generateOptions.image = initImage;
      if (request.strength !== undefined) generateOptions.strength = request.strength;
      if (mask) generateOptions.maskImage = mask;
    }
    // Set and start synchronously: the call takes the scheduler it finds when generate() is called.
    pipe.scheduler = scheduler;
    const call = pipe.generate(generateOptions);
    pipe.scheduler = baseScheduler;
    try {
      const { images, parameters } = await call;
      (images as RgbaImage[]).forEach((image, i) => {
        const params = generationParametersFrom(parameters, { imageIndex: i, model: options.modelName });
        addImage(result, image, params);
      });
    } catch (error) {
      if (!isInterrupt(signal)) throw error;
      result.interrupted = true;
      // A1111 returns what it has: the latents after the last finished step, decoded.
      if (lastLatents) {
        const images = await decodeLatentsToRgb(pipe.codec, lastLatents);
        images.forEach((image, i) => {
          addImage(result, image, {
            prompt: request.prompt,
            negativePrompt: request.negativePrompt,
            steps: request.steps,
            sampler: samplerName,
            cfgScale: request.guidanceScale,
            seed: seeds[i]!,
            width: image.width,
            height: image.height,
            model: options.modelName,
            ...(request.strength !== undefined && initImage ? { denoisingStrength: request.strength } : {}),
          });
        });
      }
    }
    stepsBefore += totalSteps;
  }
  result.seconds = (performance.now() - started) / 1000;
  return result;
}

function addImage(result: GenerationResult, image: RgbaImage, params: GenerationParameters): void {
  result.images.push(Buffer.from(encodePng(image, { parameters: params })).toString('base64'));
  result.seeds.push(Number(params.seed));
  result.infotexts.push(formatGenerationParameters(params));
}
