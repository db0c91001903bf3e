import { normalizeImage } from '../image/image-range.js';
import type { Conditioning } from '../interfaces/conditioning.js';
import type { Denoiser } from '../interfaces/denoiser.js';
import type { LatentCodec } from '../interfaces/latent-codec.js';
import type { Scheduler } from '../interfaces/scheduler.js';
import type { Generator } from '../random/generator.js';
import { Tensor } from '../tensor.js';
import { denoisingStartSchedule } from './denoising-fraction.js';
import { type KnownLatentsBlend, runDenoisingLoop } from './denoising-loop.js';
import { strengthSchedule } from './img2img.js';
import { binarizeMask, maskedImage, resizeNearest } from './inpaint-mask.js';
import { encodeImages, expandBatch, initialLatents } from './prepare-latents.js';
import type { CommonOptions, ValidatedOptions } from './validate-options.js';

/** What the denoising loop starts from. */
export interface LoopStart {
  /** The start latents `[N, latentChannels, h, w]`. */
  latents: Tensor;
  /** The timesteps to run, in order. */
  timesteps: number[];
  /** 9-channel inpainting: `[mask, maskedImageLatents]` concatenated to every denoiser input (CFG-doubled). */
  extraChannels?: Tensor[];
  /** 4-channel inpainting: the known latents, the noise that re-noises them, and the latent-size mask. */
  blend?: KnownLatentsBlend;
}

/** What {@link startLoop} reads of a call: its validated options, and SDXL's `denoisingStart`. */
export type LoopStartOptions = Pick<
  ValidatedOptions,
  | 'mode'
  | 'totalImages'
  | 'batchSize'
  | 'numImagesPerPrompt'
  | 'latentHeight'
  | 'latentWidth'
  | 'numInferenceSteps'
  | 'strength'
  | 'doClassifierFreeGuidance'
  | 'latents'
  | 'image'
  | 'imageLatents'
  | 'mask'
  | 'generators'
> & {
  /**
   * SDXL img2img / inpainting: start at this fraction of the schedule instead of at `strength`
   * ({@link denoisingStartSchedule}); the start latents are then not noised.
   */
  denoisingStart?: number | undefined;
};

/**
 * Where every pipeline's denoising loop starts (StableDiffusionPipeline and StableDiffusionXLPipeline
 * alike), drawing from the generator in diffusers' order. Call after `scheduler.setTimesteps`.
 * - txt2img: noise · initNoiseSigma over the whole schedule.
 * - img2img: encode the image (unless it is given as latents), then the noise, `addNoise` at the first
 *   timestep of the strength's schedule; with `denoisingStart`, no noise: the image latents as they are.
 * - inpainting: encode the image (4-channel denoisers, strength < 1, or `denoisingStart`; not when it is
 *   given as latents), the noise (drawn with `denoisingStart` too, as diffusers: it re-noises the known
 *   region), then the masked image (always, for pixel images).
 */
export async function startLoop(
  parts: { denoiser: Denoiser; codec: LatentCodec },
  v: LoopStartOptions,
  scheduler: Scheduler,
  generator: Generator,
): Promise<LoopStart> {
  const { codec, denoiser } = parts;
  const shape = [v.totalImages, codec.latentChannels, v.latentHeight, v.latentWidth];
  if (v.mode === 'txt2img') {
    const { latents } = initialLatents(shape, scheduler.initNoiseSigma, generator, v.latents);
    return { latents, timesteps: [...scheduler.timesteps] };
  }
  const encodeGenerator = v.generators ?? generator;
  const { timesteps } =
    v.denoisingStart !== undefined
      ? denoisingStartSchedule(scheduler, v.denoisingStart)
      : strengthSchedule(scheduler, v.numInferenceSteps, v.strength);
  const image = v.image ? normalizeImage(v.image) : undefined;
  const grow = (t: Tensor) => expandBatch(t, v.batchSize, v.numImagesPerPrompt);
  const addNoise = v.denoisingStart === undefined;

  if (v.mode === 'img2img') {
    let init: Tensor;
    if (v.imageLatents) init = grow(v.imageLatents);
    else if (Array.isArray(encodeGenerator)) {
      // diffusers' img2img: with a list of generators the image is first grown to one per generator.
      init = await encodeImages(codec, grow(image!), encodeGenerator);
    } else init = grow(await encodeImages(codec, image!, encodeGenerator));
    if (!addNoise) return { latents: init, timesteps };
    const noise = generator.randn(init.shape);
    return { latents: scheduler.addNoise(init, noise, timesteps[0]!), timesteps };
  }

  // Inpainting (diffusers' StableDiffusionInpaintPipeline / StableDiffusionXLInpaintPipeline).
  const imageBatch = (image ?? v.imageLatents!).shape[0]!;
  const binary = binarizeMask(v.mask!);
  const fullMask = binary.shape[0] === imageBatch ? binary : binary.repeatInterleave(imageBatch);
  const blending = denoiser.inChannels === codec.latentChannels;
  const strengthIsMax = v.strength === 1;
  let imageLatents: Tensor | undefined;
  if (v.imageLatents) imageLatents = grow(v.imageLatents);
  else if (blending || !addNoise || (!v.latents && !strengthIsMax)) {
    imageLatents = grow(await encodeImages(codec, image!, encodeGenerator));
  }
  let latents: Tensor;
  let noise: Tensor;
  if (!addNoise) {
    noise = generator.randn(shape);
    latents = imageLatents!;
  } else if (v.latents || strengthIsMax) {
    ({ latents, noise } = initialLatents(shape, scheduler.initNoiseSigma, generator, v.latents));
  } else {
    noise = generator.randn(shape);
    latents = scheduler.addNoise(imageLatents!, noise, timesteps[0]!);
  }
  const latentMask = grow(resizeNearest(fullMask, v.latentHeight, v.latentWidth));
  // diffusers encodes the masked image for 4-channel UNets too, unused; we do the same so that the
  // generator is at the same state when the scheduler draws its per-step noise. Latents cannot be masked.
  const maskedLatents = image
    ? grow(await encodeImages(codec, maskedImage(image, fullMask), encodeGenerator))
    : undefined;
  if (blending)
    return { latents, timesteps, blend: { imageLatents: imageLatents!, noise, mask: latentMask } };
  const double = (t: Tensor) => (v.doClassifierFreeGuidance ? Tensor.cat([t, t]) : t);
  return { latents, timesteps, extraChannels: [double(latentMask), double(maskedLatents!)] };
}

/**
 * Runs the one denoising loop from a {@link LoopStart} with the call's guidance, η, generator, signal and
 * `onStep` — what StableDiffusionPipeline and StableDiffusionXLPipeline do after {@link startLoop}.
 *
 * @param timesteps - The timesteps to run; default the start's (SDXL's `denoisingEnd` passes fewer).
 */
export function denoiseFromStart(
  denoiser: Denoiser,
  v: Pick<
    CommonOptions,
    'doClassifierFreeGuidance' | 'guidanceScale' | 'guidanceRescale' | 'eta' | 'signal' | 'onStep'
  >,
  scheduler: Scheduler,
  generator: Generator,
  start: LoopStart,
  conditioning: Conditioning,
  timesteps: readonly number[] = start.timesteps,
): Promise<Tensor> {
  return runDenoisingLoop({
    denoiser,
    scheduler,
    latents: start.latents,
    timesteps,
    conditioning,
    doClassifierFreeGuidance: v.doClassifierFreeGuidance,
    guidanceScale: v.guidanceScale,
    guidanceRescale: v.guidanceRescale,
    eta: v.eta,
    generator,
    ...(start.extraChannels ? { extraChannels: start.extraChannels } : {}),
    ...(start.blend ? { blend: start.blend } : {}),
    signal: v.signal,
    onStep: v.onStep,
  });
}
