import type { LatentCodec, Tensor } from '@latentkit/core';
import type { SessionFactory } from './session-factory.js';
import { VaeCodec, type VaeCodecOptions } from './vae-codec.js';

/** Options of {@link VaeDecoderCodec}: those of {@link VaeCodec} without an encoder. */
export type VaeDecoderCodecOptions = Omit<VaeCodecOptions, 'encoder'>;

/**
 * A decode-only {@link LatentCodec} over `vae_decoder/model.onnx`: the x4 upscaler's VAE, which decodes latents
 * at the low-res size to 4× the pixels (`downscale` 4, `scaling_factor` 0.08333) and never encodes. It has
 * no `encode` method, so a pipeline that would need one (img2img, inpainting) can tell before it starts.
 * `decode` is {@link VaeCodec}'s: latents / `scaling_factor` (+ `shift_factor`) through the decoder.
 */
export class VaeDecoderCodec implements LatentCodec {
  /** Latent channels (4). */
  readonly latentChannels: number;
  /** Image pixels per latent pixel (4 for the x4 upscaler). */
  readonly downscale: number;
  /** The VAE's `scaling_factor` (0.08333 for the x4 upscaler). */
  readonly scalingFactor: number;
  /** The VAE's `shift_factor` (0). */
  readonly shiftFactor: number;
  readonly #vae: VaeCodec;

  /**
   * @param factory - Makes the runtime's tensors.
   * @param options - The decoder session and the VAE config values.
   */
  constructor(factory: SessionFactory, options: VaeDecoderCodecOptions) {
    this.#vae = new VaeCodec(factory, options);
    this.latentChannels = this.#vae.latentChannels;
    this.downscale = this.#vae.downscale;
    this.scalingFactor = this.#vae.scalingFactor;
    this.shiftFactor = this.#vae.shiftFactor;
  }

  /** Diffusion-space latents `[B, C, h, w]` → image `[B, 3, h·downscale, w·downscale]` in [−1, 1]. */
  decode(latents: Tensor): Promise<Tensor> {
    return this.#vae.decode(latents);
  }

  /** Releases the decoder session. */
  dispose(): Promise<void> {
    return this.#vae.dispose();
  }
}
