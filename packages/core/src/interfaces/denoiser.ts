import type { Tensor } from '../tensor.js';
import type { Conditioning } from './conditioning.js';

/** One denoiser call. Under classifier-free guidance the batch is `[uncond…; cond…]`. */
export interface DenoiserInput {
  /** Noisy latents `[B, inChannels, h, w]`, already scaled by `scheduler.scaleModelInput`. */
  sample: Tensor;
  /** The current timestep, as the scheduler holds it. */
  timestep: number;
  /** Conditioning with the same batch size B as `sample`. */
  conditioning: Conditioning;
  /** Guidance embedding for guidance-distilled models (LCM), `[B, D]`. */
  timestepCond?: Tensor;
  /**
   * Class labels `[B]` for UNets with a class embedding: the x4 upscaler's noise level, one per row
   * (diffusers' `class_labels`).
   */
  classLabels?: Tensor;
}

/** The noise predictor (a UNet). */
export interface Denoiser {
  /** 4 for text-to-image UNets, 9 for inpainting UNets (latents ‖ mask ‖ masked-image latents). */
  readonly inChannels: number;
  /** The latent size the model was trained at (`unet.config.sample_size`), if known: sets the default image size. */
  readonly sampleSize?: number;
  /**
   * Latent height and width must be multiples of this: 2^(number of down-sampling stages), i.e.
   * `2 ** (block_out_channels.length - 1)` for diffusers' UNet2DConditionModel (8 for SD 1.5, so images
   * are multiples of 64 px). Default 1 (any size).
   */
  readonly sizeMultiple?: number;
  /** Predicts the model output (ε, v or x₀ as the scheduler's `prediction_type` says) `[B, 4, h, w]`. */
  predict(input: DenoiserInput): Promise<Tensor>;
}
