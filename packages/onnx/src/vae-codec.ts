import {
  type Generator,
  type LatentCodec,
  ModelInvalidError,
  NonFiniteOutputError,
  NotImplementedError,
  ShapeMismatchError,
  Tensor,
} from '@latentkit/core';
import type { InferenceSession } from 'onnxruntime-common';
import {
  findOutput,
  floatFeed,
  floatType,
  type OrtValueInfo,
  requireInput,
  runSession,
  sessionOutputs,
  toTensor,
} from './ort-io.js';
import type { SessionFactory, SessionRequest } from './session-factory.js';

/** A VAE session and where it came from. */
export interface VaeSession {
  /** The session. */
  session: InferenceSession;
  /** Its component and model file (for messages). */
  request: SessionRequest;
}

/** Options of {@link VaeCodec}. */
export interface VaeCodecOptions {
  /** `vae_decoder/model.onnx`. */
  decoder: VaeSession;
  /** `vae_encoder/model.onnx`, if the model has one (img2img and inpainting need it). */
  encoder?: VaeSession;
  /** `scaling_factor` of the VAE config (default 0.18215). */
  scalingFactor?: number;
  /** `shift_factor` of the VAE config (default 0). */
  shiftFactor?: number;
  /** `latent_channels` (default 4). */
  latentChannels?: number;
  /** `2^(len(block_out_channels) − 1)` (default 8). */
  downscale?: number;
  /**
   * When set, a decode whose output holds NaN or ±Infinity is refused with a `NonFiniteOutputError` that
   * says this (the loader sets it for a float16 SDXL VAE kept despite `force_upcast`).
   */
  nonFiniteHint?: string;
}

/**
 * The VAE of an ONNX model as a {@link LatentCodec}. `decode` divides by `scaling_factor` (and adds
 * `shift_factor`) and runs `vae_decoder` (`latent_sample` → `sample`). `encode` runs `vae_encoder`
 * (`sample` → `latent_sample`, or `latent_parameters` = mean ‖ logvar, which it samples with the generator as
 * diffusers' `DiagonalGaussianDistribution.sample` does), then applies `(x − shift_factor) · scaling_factor`.
 */
export class VaeCodec implements LatentCodec {
  /** Latent channels (4). */
  readonly latentChannels: number;
  /** Image pixels per latent pixel (8). */
  readonly downscale: number;
  /** The VAE's `scaling_factor`. */
  readonly scalingFactor: number;
  /** The VAE's `shift_factor` (0 for SD 1.x/2.x). */
  readonly shiftFactor: number;
  readonly #decoder: VaeSession;
  readonly #encoder: VaeSession | undefined;
  readonly #factory: SessionFactory;
  readonly #decoderInput: OrtValueInfo;
  readonly #decoderOutput: string;
  readonly #encoderInput: OrtValueInfo | undefined;
  readonly #encoderOutput: { name: string; parameters: boolean } | undefined;
  readonly #nonFiniteHint: string | undefined;

  /**
   * @param factory - Makes the runtime's tensors.
   * @param options - The sessions and the VAE config values.
   */
  constructor(factory: SessionFactory, options: VaeCodecOptions) {
    this.#factory = factory;
    this.#decoder = options.decoder;
    this.#encoder = options.encoder;
    this.scalingFactor = options.scalingFactor ?? 0.18215;
    this.shiftFactor = options.shiftFactor ?? 0;
    this.latentChannels = options.latentChannels ?? 4;
    this.downscale = options.downscale ?? 8;
    this.#nonFiniteHint = options.nonFiniteHint;
    const dec = options.decoder;
    this.#decoderInput = requireInput(dec.session, 'latent_sample', dec.request.modelPath);
    this.#decoderOutput = findOutput(dec.session, 'sample')?.name ?? sessionOutputs(dec.session)[0]!.name;
    const enc = options.encoder;
    if (enc) {
      this.#encoderInput = requireInput(enc.session, 'sample', enc.request.modelPath);
      if (findOutput(enc.session, 'latent_parameters')) {
        this.#encoderOutput = { name: 'latent_parameters', parameters: true };
      } else if (findOutput(enc.session, 'latent_sample')) {
        this.#encoderOutput = { name: 'latent_sample', parameters: false };
      } else {
        throw new ModelInvalidError(
          `${enc.request.modelPath} has neither a "latent_sample" nor a "latent_parameters" output (its outputs: ${enc.session.outputNames.join(', ')}).`,
        );
      }
    }
  }

  /** Whether the model has a VAE encoder (img2img and inpainting need one). */
  get canEncode(): boolean {
    return this.#encoder !== undefined;
  }

  /** Diffusion-space latents `[B, C, h, w]` → image `[B, 3, h·8, w·8]` in [−1, 1]. */
  async decode(latents: Tensor): Promise<Tensor> {
    if (latents.shape.length !== 4 || latents.shape[1] !== this.latentChannels) {
      throw new ShapeMismatchError({
        name: 'latents',
        value: latents.shape,
        expected: `[B, ${this.latentChannels}, h, w]`,
      });
    }
    // diffusers: latents / scaling_factor (+ shift_factor)
    let x = latents.div(this.scalingFactor);
    if (this.shiftFactor !== 0) x = x.add(this.shiftFactor);
    const { session, request } = this.#decoder;
    const feeds = {
      latent_sample: floatFeed(
        this.#factory,
        x.data,
        x.shape,
        floatType(this.#decoderInput, 'vae_decoder input'),
      ),
    };
    const results = await runSession(session, feeds, request.component);
    const image = toTensor(
      results[this.#decoderOutput],
      `${request.component} output ${this.#decoderOutput}`,
    );
    const bad = this.#nonFiniteHint === undefined ? -1 : image.data.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) {
      throw new NonFiniteOutputError(
        `Non-finite values in the VAE decoder's output (the first, at flat index ${bad}, is ${image.data[bad]}). Likely cause: ${this.#nonFiniteHint}. Fix: load the float32 VAE, or the fp16-fix VAE.`,
      );
    }
    return image;
  }

  /**
   * Image `[B, 3, H, W]` in [−1, 1] → diffusion-space latents. With a `latent_parameters` encoder the
   * posterior is sampled with `options.generator` (`mean + std · randn(mean.shape)`); without a generator
   * its mean is used.
   */
  async encode(image: Tensor, options: { generator?: Generator } = {}): Promise<Tensor> {
    if (!this.#encoder || !this.#encoderOutput || !this.#encoderInput) {
      throw new NotImplementedError(
        `This model has no vae_encoder/model.onnx, so it cannot encode images (img2img, inpainting). Fix: export the model with its VAE encoder.`,
      );
    }
    if (image.shape.length !== 4 || image.shape[1] !== 3) {
      throw new ShapeMismatchError({ name: 'image', value: image.shape, expected: '[B, 3, H, W]' });
    }
    const { session, request } = this.#encoder;
    const feeds = {
      sample: floatFeed(
        this.#factory,
        image.data,
        image.shape,
        floatType(this.#encoderInput, 'vae_encoder input'),
      ),
    };
    const results = await runSession(session, feeds, request.component);
    const out = toTensor(
      results[this.#encoderOutput.name],
      `${request.component} output ${this.#encoderOutput.name}`,
    );
    const x = this.#encoderOutput.parameters ? samplePosterior(out, options.generator) : out;
    // diffusers: (x − shift_factor) · scaling_factor
    return (this.shiftFactor !== 0 ? x.sub(this.shiftFactor) : x).mul(this.scalingFactor);
  }

  /** Releases the sessions. */
  async dispose(): Promise<void> {
    await this.#decoder.session.release?.();
    await this.#encoder?.session.release?.();
  }
}

/**
 * diffusers' `DiagonalGaussianDistribution(parameters).sample(generator)`: mean, logvar = chunk(parameters, 2,
 * dim=1); logvar clamped to [−30, 20]; std = exp(0.5·logvar); mean + std · randn(mean.shape).
 */
export function samplePosterior(parameters: Tensor, generator?: Generator): Tensor {
  const [b, c2, h, w] = parameters.shape as [number, number, number, number];
  if (parameters.shape.length !== 4 || c2 % 2 !== 0) {
    throw new ShapeMismatchError({
      name: 'latent_parameters',
      value: parameters.shape,
      expected: '[B, 2·C, h, w] (mean ‖ logvar)',
    });
  }
  const c = c2 / 2;
  const plane = c * h * w;
  const mean = new Float32Array(b * plane);
  const logvar = new Float32Array(b * plane);
  for (let i = 0; i < b; i++) {
    mean.set(parameters.data.subarray(i * 2 * plane, i * 2 * plane + plane), i * plane);
    logvar.set(parameters.data.subarray(i * 2 * plane + plane, (i + 1) * 2 * plane), i * plane);
  }
  const meanT = new Tensor(mean, [b, c, h, w]);
  if (!generator) return meanT;
  const std = new Tensor(logvar, [b, c, h, w]).clamp(-30, 20).mul(0.5).map(Math.exp);
  const noise = generator.randn([b, c, h, w]);
  return meanT.add(std.mul(noise));
}
