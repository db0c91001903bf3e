import { InvalidArgumentError, ShapeMismatchError } from '../errors.js';
import type { LatentCodec } from '../interfaces/latent-codec.js';
import { checkDecodedImage } from '../pipeline/non-finite.js';
import { Tensor } from '../tensor.js';
import { denormalizeImage } from './image-range.js';
import { type RgbaImage, tensorToRgba } from './rgba-image.js';

/** One row of a latent→RGB matrix: how much one latent channel adds to R, G and B. */
export type LatentRgbFactors = readonly (readonly [number, number, number])[];

/**
 * SD 1.x's latent→RGB factors: each row maps one latent channel (diffusion space, i.e. after the VAE
 * scaling factor) to R, G, B in about [-1, 1]. The values are the widely used ones from ComfyUI's SD1.5
 * latent format. For SD 2.x they are close enough for a preview; for other VAEs (the shipped shapes
 * model's) they give wrong colours: use {@link decodeLatentsToRgb} there.
 */
export const SD1_LATENT_RGB_FACTORS: LatentRgbFactors = [
  [0.3512, 0.2297, 0.3227],
  [0.325, 0.4974, 0.235],
  [-0.2829, 0.1762, 0.2721],
  [-0.212, -0.2616, -0.7177],
];

function checkLatentsShape(latents: Tensor): [number, number, number, number] {
  if (!(latents instanceof Tensor) || latents.shape.length !== 4) {
    throw new ShapeMismatchError({
      name: 'latents',
      value: latents,
      expected: 'a Tensor of shape [N, C, h, w]',
      fix: 'pass StepInfo.latents from onStep, or the latents of outputType "latent"',
    });
  }
  return latents.shape as [number, number, number, number];
}

/**
 * A cheap step preview of latents `[N, C, h, w]`: every latent pixel mapped to RGB with a C×3 matrix,
 * no VAE, in microseconds. The images are at latent resolution (h × w); scale them up for display.
 * Use it from `onStep` (`StepInfo.latents`) in Node as in a worker.
 */
export function approximateLatentsToRgb(
  latents: Tensor,
  factors: LatentRgbFactors = SD1_LATENT_RGB_FACTORS,
): RgbaImage[] {
  const [n, c, h, w] = checkLatentsShape(latents);
  if (
    !Array.isArray(factors) ||
    factors.length !== c ||
    factors.some((row) => !Array.isArray(row) || row.length !== 3 || !row.every(Number.isFinite))
  ) {
    throw new InvalidArgumentError({
      name: 'preview factors',
      value: Array.isArray(factors) ? factors.length : factors,
      expected: `${c} rows of [R, G, B] (finite numbers), one per latent channel`,
      fix: 'pass one [R, G, B] row per latent channel, or use decodeLatentsToRgb for other VAEs',
    });
  }
  const plane = h * w;
  const images: RgbaImage[] = [];
  for (let b = 0; b < n; b++) {
    const data = new Uint8ClampedArray(plane * 4);
    for (let p = 0; p < plane; p++) {
      let r = 0;
      let g = 0;
      let bl = 0;
      for (let ch = 0; ch < c; ch++) {
        const v = latents.data[(b * c + ch) * plane + p]!;
        const f = factors[ch]!;
        r += v * f[0];
        g += v * f[1];
        bl += v * f[2];
      }
      // [-1, 1] → [0, 255]; Uint8ClampedArray clamps.
      data[p * 4] = (r + 1) * 127.5;
      data[p * 4 + 1] = (g + 1) * 127.5;
      data[p * 4 + 2] = (bl + 1) * 127.5;
      data[p * 4 + 3] = 255;
    }
    images.push({ width: w, height: h, data });
  }
  return images;
}

/**
 * An exact step preview: the latents decoded by the model's VAE (`codec.decode`) and converted to RGBA
 * at full size, as the pipeline converts its result. As costly as decoding the result: cheap for small
 * models, seconds for 512² SD on WebAssembly. Non-finite decoder output rejects with a
 * `NonFiniteOutputError`, as in `generate()`.
 */
export async function decodeLatentsToRgb(codec: LatentCodec, latents: Tensor): Promise<RgbaImage[]> {
  checkLatentsShape(latents);
  if (typeof codec?.decode !== 'function') {
    throw new InvalidArgumentError({
      name: 'codec',
      value: codec,
      expected: 'a LatentCodec with decode(latents)',
      fix: "pass the pipeline's codec (pipe.codec)",
    });
  }
  return tensorToRgba(denormalizeImage(checkDecodedImage(await codec.decode(latents))));
}
