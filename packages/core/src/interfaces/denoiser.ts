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
  /**
   * Grounding inputs of GLIGEN UNets (layout-to-image), at the denoiser's batch. Only for denoisers with
   * {@link Denoiser.grounding}. `enabled: false` must give exactly the plain UNet's output.
   */
  gligen?: GroundingInput;
}

/**
 * What a grounded (GLIGEN) UNet receives on each call: the objects of a layout padded to
 * `grounding.maxObjects` slots (diffusers' `cross_attention_kwargs["gligen"]`).
 */
export interface GroundingInput {
  /** Boxes `[B, maxObjects, 4]` as `[x0, y0, x1, y1]` fractions of width and height, origin top left; 0 on padding. */
  boxes: Tensor;
  /** The phrases' pooled text embeddings `[B, maxObjects, embeddingDim]`; 0 on padding. */
  positiveEmbeddings: Tensor;
  /** `[B, maxObjects]`: 1 for a slot that holds an object, 0 for padding (and, under CFG, the unconditional rows). */
  masks: Tensor;
  /** Whether the gated self-attention layers run on this call (scheduled sampling turns them off). */
  enabled: boolean;
}

/** What a grounded (GLIGEN) denoiser accepts, so the pipeline can build and check its grounding inputs. */
export interface GroundingSpec {
  /** Object slots per row (30 for GLIGEN: the layout is zero-padded to it). */
  readonly maxObjects: number;
  /** The width D of a phrase embedding: the text encoder's pooled output size (768 for SD 1.x). */
  readonly embeddingDim: number;
}

/**
 * What an SDXL UNet (diffusers' `addition_embed_type: "text_time"`) takes besides the hidden states: the
 * pooled text embedding (`conditioning.textEmbeds`) and the micro-conditioning time ids (`conditioning.timeIds`).
 */
export interface MicroConditioningSpec {
  /** The width of `conditioning.textEmbeds` (1280 for SDXL base and refiner), if the model fixes it. */
  readonly textEmbedsDim: number | undefined;
  /**
   * Values per `conditioning.timeIds` row, if the model fixes it: 6 (SDXL base: original size, crop top-left,
   * target size) or 5 (the refiner, `requires_aesthetics_score`: original size, crop top-left, aesthetic score).
   */
  readonly timeIdCount: number | undefined;
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
  /**
   * Present on SDXL UNets: `predict` then needs `conditioning.textEmbeds` `[B, textEmbedsDim]` and
   * `conditioning.timeIds` `[B, timeIdCount]` on every call.
   */
  readonly microConditioning?: MicroConditioningSpec;
  /** Present on grounded (GLIGEN) UNets: they take {@link DenoiserInput.gligen}. */
  readonly grounding?: GroundingSpec;
  /** Predicts the model output (ε, v or x₀ as the scheduler's `prediction_type` says) `[B, 4, h, w]`. */
  predict(input: DenoiserInput): Promise<Tensor>;
}
