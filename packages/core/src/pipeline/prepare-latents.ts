import { NotImplementedError, ShapeMismatchError } from '../errors.js';
import type { LatentCodec } from '../interfaces/latent-codec.js';
import type { Generator } from '../random/generator.js';
import { Tensor } from '../tensor.js';

/**
 * Grows a batch of `b` items to `totalImages = prompts · perPrompt` items: as is when b = totalImages,
 * repeated when b = 1, and each item repeated `perPrompt` times in a row when b = prompts (so item i goes
 * with prompt i). Validation makes sure b is one of these.
 */
export function expandBatch(t: Tensor, prompts: number, perPrompt: number): Tensor {
  const b = t.shape[0]!;
  const total = prompts * perPrompt;
  if (b === total) return t;
  if (b === 1) return t.repeatInterleave(total);
  if (b === prompts) return t.repeatInterleave(perPrompt);
  throw new ShapeMismatchError({ name: 'batch', value: b, expected: `1, ${prompts} or ${total}` });
}

/**
 * Initial latents for text-to-image: `noise · initNoiseSigma`, the noise drawn as `randn([N, C, h, w])`
 * unless given. The multiplication rounds to float32 (diffusers multiplies a float32 tensor).
 */
export function initialLatents(
  shape: readonly number[],
  initNoiseSigma: number,
  generator: Generator,
  given?: Tensor,
): { latents: Tensor; noise: Tensor } {
  const noise = given ?? generator.randn(shape);
  return { latents: noise.mul(initNoiseSigma), noise };
}

/** Checks a codec's latents are `[batch, latentChannels, h, w]`, so a wrong codec fails here, clearly. */
export function checkLatents(what: string, t: Tensor, expected: readonly number[]): Tensor {
  if (t.shape.join() !== expected.join()) {
    throw new ShapeMismatchError({
      name: what,
      value: t.shape,
      expected: `shape [${expected.join(', ')}]`,
      fix: 'check that the denoiser and codec belong to the same model',
    });
  }
  return t;
}

/**
 * Encodes images `[B, 3, H, W]` in [−1, 1] to latents. With one generator per item (diffusers' list of
 * generators), item i is encoded alone with generator i; else the whole batch in one call.
 */
export async function encodeImages(
  codec: LatentCodec,
  images: Tensor,
  generator: Generator | readonly Generator[],
): Promise<Tensor> {
  const encode = requireEncode(codec);
  const [b, , h, w] = images.shape as [number, number, number, number];
  const shape = [b, codec.latentChannels, h / codec.downscale, w / codec.downscale];
  if (!Array.isArray(generator)) {
    return checkLatents(
      'codec.encode output',
      await encode(images, { generator: generator as Generator }),
      shape,
    );
  }
  const parts: Tensor[] = [];
  for (let i = 0; i < b; i++) {
    const one = await encode(images.slice(i, i + 1), {
      generator: (generator as readonly Generator[])[i]!,
    });
    parts.push(checkLatents('codec.encode output', one, [1, ...shape.slice(1)]));
  }
  return Tensor.cat(parts);
}

/**
 * The codec's `encode`, bound to it: img2img and inpainting need it. A decode-only codec (no `encode`, or
 * `canEncode` false: the x4 upscaler's VAE, a model folder without `vae_encoder/model.onnx`) fails with a
 * {@link NotImplementedError} (`NOT_IMPLEMENTED`) that says so; validation calls this before any work.
 */
export function requireEncode(codec: LatentCodec): NonNullable<LatentCodec['encode']> {
  const missing = typeof codec.encode !== 'function';
  if (missing || codec.canEncode === false) {
    throw new NotImplementedError(
      `The codec cannot encode images (${missing ? 'it has no encode()' : 'its canEncode is false'}: a decode-only VAE such as the x4 upscaler's, or a model folder without vae_encoder/model.onnx), and img2img and inpainting start from the encoded image. Fix: load the model with its VAE encoder (vae_encoder/model.onnx), or drop image (and maskImage) for text-to-image.`,
    );
  }
  return codec.encode!.bind(codec);
}
