import { ShapeMismatchError } from '../errors.js';
import type { RgbaImage } from '../image/rgba-image.js';
import { Tensor } from '../tensor.js';

/**
 * RGBA mask → tensor `[1, 1, H, W]` of its luminance in [0, 1], as diffusers' mask processor sees a PIL
 * image: `convert("L")` (PIL's integer ITU-R 601 weights, `(19595·R + 38470·G + 7471·B + 32768) >> 16`), then
 * `/ 255`. Alpha is ignored.
 */
export function rgbaToMask(image: RgbaImage): Tensor {
  const plane = image.width * image.height;
  if (image.data.length !== plane * 4) {
    throw new ShapeMismatchError({
      name: 'maskImage.data.length',
      value: image.data.length,
      expected: `width·height·4 = ${plane * 4} bytes (RGBA)`,
    });
  }
  const out = new Float32Array(plane);
  const d = image.data;
  for (let p = 0; p < plane; p++) {
    const l = (19595 * d[p * 4]! + 38470 * d[p * 4 + 1]! + 7471 * d[p * 4 + 2]! + 32768) >> 16;
    out[p] = l / 255;
  }
  return new Tensor(out, [1, 1, image.height, image.width]);
}

/** diffusers' `binarize`: values < 0.5 become 0, the rest 1 (1 = repaint). */
export function binarizeMask(mask: Tensor): Tensor {
  return mask.map((v) => (v < 0.5 ? 0 : 1));
}

/**
 * Nearest-neighbour resize of `[B, C, H, W]` to `[B, C, height, width]`, as torch's
 * `F.interpolate(mode="nearest")`: source index `min(floor(dst · (in/out)), in − 1)` with a float32 scale.
 * For an integer downscale this picks the top-left pixel of each block.
 */
export function resizeNearest(t: Tensor, height: number, width: number): Tensor {
  const [b, c, inH, inW] = t.shape as [number, number, number, number];
  const scaleY = Math.fround(inH / height);
  const scaleX = Math.fround(inW / width);
  const srcX = Array.from({ length: width }, (_, x) =>
    Math.min(Math.floor(Math.fround(x * scaleX)), inW - 1),
  );
  const out = new Float32Array(b * c * height * width);
  let o = 0;
  for (let plane = 0; plane < b * c; plane++) {
    const base = plane * inH * inW;
    for (let y = 0; y < height; y++) {
      const row = base + Math.min(Math.floor(Math.fround(y * scaleY)), inH - 1) * inW;
      for (let x = 0; x < width; x++) out[o++] = t.data[row + srcX[x]!]!;
    }
  }
  return new Tensor(out, [b, c, height, width]);
}

/**
 * The image with the repaint region blanked: `image · (mask < 0.5)` (diffusers' `masked_image`), the mask
 * `[B, 1, H, W]` broadcast over the channels of `image` `[B, C, H, W]` (in [−1, 1], so blank is 0 = grey).
 */
export function maskedImage(image: Tensor, binaryMask: Tensor): Tensor {
  const [b, c, h, w] = image.shape as [number, number, number, number];
  const plane = h * w;
  const out = new Float32Array(image.size);
  for (let n = 0; n < b; n++) {
    for (let ch = 0; ch < c; ch++) {
      const src = (n * c + ch) * plane;
      for (let p = 0; p < plane; p++)
        out[src + p] = binaryMask.data[n * plane + p]! < 0.5 ? image.data[src + p]! : 0;
    }
  }
  return new Tensor(out, image.shape);
}

/**
 * 4-channel inpainting's blend after each step: `(1 − m)·known + m·latents`, the latent-size mask
 * `[N, 1, h, w]` broadcast over the channels, each op rounded to float32 as torch does.
 */
export function blendKnownLatents(known: Tensor, latents: Tensor, latentMask: Tensor): Tensor {
  const [n, c, h, w] = latents.shape as [number, number, number, number];
  const plane = h * w;
  const out = new Float32Array(latents.size);
  for (let b = 0; b < n; b++) {
    for (let ch = 0; ch < c; ch++) {
      const base = (b * c + ch) * plane;
      for (let p = 0; p < plane; p++) {
        const m = latentMask.data[b * plane + p]!;
        const keep = Math.fround(Math.fround(1 - m) * known.data[base + p]!);
        out[base + p] = keep + Math.fround(m * latents.data[base + p]!);
      }
    }
  }
  return new Tensor(out, latents.shape);
}
