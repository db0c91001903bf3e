import { ShapeMismatchError } from '../errors.js';
import type { Conditioning } from '../interfaces/conditioning.js';
import type { Denoiser, DenoiserInput } from '../interfaces/denoiser.js';
import type { Scheduler } from '../interfaces/scheduler.js';
import type { GroundingTensors } from '../layout/grounding-batch.js';
import type { Generator } from '../random/generator.js';
import { Tensor } from '../tensor.js';
import { applyGuidance, rescaleNoiseCfg } from './classifier-free-guidance.js';
import type { StepInfo } from './generate-options.js';
import { blendKnownLatents } from './inpaint-mask.js';
import { checkInitialLatents, checkStepLatents } from './non-finite.js';

/**
 * 4-channel inpainting: after each step the known region is put back, noised to the next step's level
 * (clean after the last step).
 */
export interface KnownLatentsBlend {
  /** The VAE latents of the init image. */
  imageLatents: Tensor;
  /** The noise that re-noises them (the noise the start latents were drawn with). */
  noise: Tensor;
  /** The latent-size mask (1 = repaint, 0 = keep). */
  mask: Tensor;
}

/** Everything one run of the shared denoising loop needs. */
export interface DenoisingLoopInput {
  /** The noise predictor. */
  denoiser: Denoiser;
  /** The call's own scheduler, its timesteps already set. */
  scheduler: Scheduler;
  /** The starting latents `[N, C, h, w]`; checked to be finite before the first step. */
  latents: Tensor;
  /** The timesteps to run, in order. */
  timesteps: readonly number[];
  /** The denoiser's conditioning, batch `[uncond…; cond…]` under guidance. */
  conditioning: Conditioning;
  /** Whether the denoiser batch holds the latents twice (uncond, cond) and guidance is applied. */
  doClassifierFreeGuidance: boolean;
  /** The guidance scale g of `u + g·(c − u)`. */
  guidanceScale: number;
  /** Guidance rescale φ (0 = off). */
  guidanceRescale: number;
  /** DDIM's η, passed to `scheduler.step`. */
  eta: number;
  /** The random source of stochastic schedulers' per-step noise. */
  generator: Generator;
  /**
   * Channels concatenated after the scaled latents on every denoiser call, already at the denoiser's batch
   * (CFG-doubled): the inpainting UNet's `[mask, maskedImageLatents]`, the x4 upscaler's noised low-res
   * image. As diffusers, they are concatenated after `scaleModelInput`, so they are never scaled.
   */
  extraChannels?: readonly Tensor[];
  /** `classLabels` for every denoiser call (the x4 upscaler's noise level, one per denoiser row). */
  classLabels?: Tensor;
  /** 4-channel inpainting: put the known region back after each step. */
  blend?: KnownLatentsBlend;
  /**
   * Grounded (GLIGEN) denoisers: the grounding tensors at the denoiser's batch, and how many leading
   * denoiser calls are grounded (scheduled sampling). Call i gets `gligen: { …tensors, enabled: i < activeCalls }`.
   */
  grounding?: { tensors: GroundingTensors; activeCalls: number };
  /** Cancels the loop before any denoiser call. */
  signal?: AbortSignal | undefined;
  /** Called (and awaited) after each step. */
  onStep?: ((info: StepInfo) => void | Promise<void>) | undefined;
}

/**
 * The one denoising loop every pipeline runs: per timestep `scaleModelInput` (of `[latents; latents]`
 * under guidance) → extra channels concatenated → one batched `denoiser.predict` (with `classLabels` and
 * the grounding inputs when given) → guidance (and rescale) → `scheduler.step` → (4-channel inpainting: blend the known region) →
 * a check that the latents stayed finite → `onStep`. Returns the final latents.
 *
 * @throws {@link ShapeMismatchError} when the denoiser returns a prediction of the wrong shape, and
 *   {@link NonFiniteOutputError} when the latents stop being finite.
 */
export async function runDenoisingLoop(input: DenoisingLoopInput): Promise<Tensor> {
  const { denoiser, scheduler, timesteps, conditioning, signal, blend } = input;
  const cfg = input.doClassifierFreeGuidance;
  let latents = checkInitialLatents(input.latents);
  const predictionShape = [cfg ? 2 * latents.shape[0]! : latents.shape[0]!, ...latents.shape.slice(1)];
  for (let i = 0; i < timesteps.length; i++) {
    const t = timesteps[i]!;
    signal?.throwIfAborted();
    let sample = cfg ? Tensor.cat([latents, latents]) : latents;
    sample = scheduler.scaleModelInput(sample, t);
    if (input.extraChannels) sample = Tensor.cat([sample, ...input.extraChannels], 1);
    const call: DenoiserInput = { sample, timestep: t, conditioning };
    if (input.classLabels) call.classLabels = input.classLabels;
    if (input.grounding)
      call.gligen = { ...input.grounding.tensors, enabled: i < input.grounding.activeCalls };
    let prediction = checkPrediction(await denoiser.predict(call), predictionShape);
    if (cfg) {
      const { guided, cond } = applyGuidance(prediction, input.guidanceScale);
      prediction = input.guidanceRescale > 0 ? rescaleNoiseCfg(guided, cond, input.guidanceRescale) : guided;
    }
    latents = scheduler.step(prediction, t, latents, {
      generator: input.generator,
      eta: input.eta,
    }).prevSample;
    if (blend) {
      const known =
        i < timesteps.length - 1
          ? scheduler.addNoise(blend.imageLatents, blend.noise, timesteps[i + 1]!)
          : blend.imageLatents;
      latents = blendKnownLatents(known, latents, blend.mask);
    }
    checkStepLatents(latents, i, timesteps.length, t, input.guidanceScale);
    await input.onStep?.({ step: i, totalSteps: timesteps.length, timestep: t, latents });
  }
  return latents;
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
