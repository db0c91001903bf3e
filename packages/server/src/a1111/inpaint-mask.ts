import type { RgbaImage } from '@latentkit/core';

/**
 * A1111's mask preparation (`StableDiffusionProcessingImg2Img.init`), on 8-bit grey values: an RGBA mask
 * with any transparency is its alpha thresholded at 128, otherwise its luminance (PIL's `convert("L")`);
 * `inpainting_mask_invert` swaps black and white; `mask_blur_x` / `mask_blur_y` blur it with OpenCV's
 * Gaussian (kernel `2·int(2.5σ + 0.5) + 1`, border reflect-101), horizontally then vertically. White =
 * repaint. Returned as an opaque grey RGBA image of the mask's size.
 */
export function a1111Mask(
  mask: RgbaImage,
  options: { invert: boolean; blurX: number; blurY: number },
): RgbaImage {
  const { width, height, data } = mask;
  const plane = width * height;
  let grey: Float64Array = new Float64Array(plane);
  let transparent = false;
  for (let p = 0; p < plane; p++) if (data[p * 4 + 3] !== 255) transparent = true;
  for (let p = 0; p < plane; p++) {
    const l = transparent
      ? data[p * 4 + 3]! > 128
        ? 255
        : 0
      : (19595 * data[p * 4]! + 38470 * data[p * 4 + 1]! + 7471 * data[p * 4 + 2]! + 32768) >> 16;
    grey[p] = options.invert ? 255 - l : l;
  }
  if (options.blurX > 0) grey = blur(grey, width, height, options.blurX, 'x');
  if (options.blurY > 0) grey = blur(grey, width, height, options.blurY, 'y');
  const out = new Uint8ClampedArray(plane * 4);
  for (let p = 0; p < plane; p++) {
    const v = Math.round(grey[p]!);
    out[p * 4] = v;
    out[p * 4 + 1] = v;
    out[p * 4 + 2] = v;
    out[p * 4 + 3] = 255;
  }
  return { width, height, data: out };
}

/** OpenCV's `getGaussianKernel(size, sigma)`, normalised. */
function gaussianKernel(sigma: number): Float64Array {
  const size = 2 * Math.floor(2.5 * sigma + 0.5) + 1;
  const k = new Float64Array(size);
  const half = (size - 1) / 2;
  let sum = 0;
  for (let i = 0; i < size; i++) {
    k[i] = Math.exp(-((i - half) ** 2) / (2 * sigma * sigma));
    sum += k[i]!;
  }
  for (let i = 0; i < size; i++) k[i]! /= sum;
  return k;
}

/** Reflect-101 index into [0, n) (OpenCV's default border: `gfedcb|abcdefgh|gfedcba`). */
function reflect101(i: number, n: number): number {
  if (n === 1) return 0;
  const period = 2 * (n - 1);
  let j = ((i % period) + period) % period;
  if (j >= n) j = period - j;
  return j;
}

function blur(
  src: Float64Array,
  width: number,
  height: number,
  sigma: number,
  axis: 'x' | 'y',
): Float64Array {
  const k = gaussianKernel(sigma);
  const half = (k.length - 1) / 2;
  const out = new Float64Array(src.length);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let acc = 0;
      for (let i = 0; i < k.length; i++) {
        const o = i - half;
        const sx = axis === 'x' ? reflect101(x + o, width) : x;
        const sy = axis === 'y' ? reflect101(y + o, height) : y;
        acc += k[i]! * src[sy * width + sx]!;
      }
      // OpenCV rounds each pass of an 8-bit image.
      out[y * width + x] = Math.min(255, Math.max(0, Math.round(acc)));
    }
  }
  return out;
}

/** A1111 flattens a transparent init image onto its background colour (white by default) before use. */
export function flattenOnWhite(image: RgbaImage): RgbaImage {
  let opaque = true;
  for (let i = 3; i < image.data.length; i += 4) if (image.data[i] !== 255) opaque = false;
  if (opaque) return image;
  const out = new Uint8ClampedArray(image.data.length);
  for (let i = 0; i < image.data.length; i += 4) {
    const a = image.data[i + 3]! / 255;
    for (let c = 0; c < 3; c++) out[i + c] = Math.round(image.data[i + c]! * a + 255 * (1 - a));
    out[i + 3] = 255;
  }
  return { width: image.width, height: image.height, data: out };
}
