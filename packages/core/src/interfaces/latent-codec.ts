import type { Generator } from '../random/generator.js';
import type { Tensor } from '../tensor.js';

/** Maps images to diffusion-space latents and back (a VAE, with its scaling factor applied). */
export interface LatentCodec {
  /** Channels of the latents (4 for SD). */
  readonly latentChannels: number;
  /** Image pixels per latent pixel along each axis (8 for SD). */
  readonly downscale: number;
  /**
   * Image `[B, 3, H, W]` in [−1, 1] → latents `[B, latentChannels, H/downscale, W/downscale]`, scaled.
   * Optional: decode-only codecs (the x4 upscaler's VAE, a model shipped without `vae_encoder`) leave it
   * out, and img2img / inpainting then fail with an `InvalidArgumentError` before any work.
   */
  encode?(image: Tensor, options?: { generator?: Generator }): Promise<Tensor>;
  /**
   * `false` when `encode` exists but cannot run (an ONNX model folder without `vae_encoder/`, a tiled
   * wrapper around a decode-only codec); img2img and inpainting then fail before any work. Default: can
   * encode when `encode` is there.
   */
  readonly canEncode?: boolean;
  /** Scaled latents → image `[B, 3, H, W]` in [−1, 1]. */
  decode(latents: Tensor): Promise<Tensor>;
}
