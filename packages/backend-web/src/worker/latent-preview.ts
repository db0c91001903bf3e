import { InvalidArgumentError, type RgbaImage, ShapeMismatchError, type Tensor } from '@latentkit/core';

/**
 * SD 1.x's latent→RGB factors: each row maps one latent channel (diffusion space, i.e. after the VAE
 * scaling factor) to R, G, B in about [-1, 1]. The values are the widely used ones from ComfyUI's SD1.5
 * latent format. For SD 2.x they are close enough for a preview; for other VAEs (the shipped shapes
 * model's) they give wrong colours: use `decode` previews there.
 */
export const SD1_LATENT_RGB_FACTORS: readonly (readonly [number, number, number])[] = [
  [0.3512, 0.2297, 0.3227],
  [0.325, 0.4974, 0.235],
  [-0.2829, 0.1762, 0.2721],
  [-0.212, -0.2616, -0.7177],
];

/**
 * A cheap preview of latents `[N, C, h, w]`: every latent pixel mapped to RGB with a C×3 matrix, no VAE.
 * The images are at latent resolution (h × w); scale them up for display.
 */
export function approximateLatentsToRgb(
  latents: Tensor,
  factors: readonly (readonly [number, number, number])[] = SD1_LATENT_RGB_FACTORS,
): RgbaImage[] {
  const [n, c, h, w] = latents.shape;
  if (
    latents.shape.length !== 4 ||
    n === undefined ||
    c === undefined ||
    h === undefined ||
    w === undefined
  ) {
    throw new ShapeMismatchError({ name: 'latents', value: latents, expected: 'shape [N, C, h, w]' });
  }
  if (factors.length !== c || factors.some((row) => row.length !== 3)) {
    throw new InvalidArgumentError({
      name: 'preview factors',
      value: factors.length,
      expected: `${c} rows of [R, G, B], one per latent channel`,
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
