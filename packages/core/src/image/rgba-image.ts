import { InvalidArgumentError, ShapeMismatchError } from '../errors.js';
import { Tensor } from '../tensor.js';

/** An 8-bit RGBA image, laid out like the browser's `ImageData`. */
export interface RgbaImage {
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
  /** `width · height · 4` bytes, row-major, RGBA. */
  data: Uint8ClampedArray;
}

/** True when `value` looks like an {@link RgbaImage} (and is not a Tensor). */
export function isRgbaImage(value: unknown): value is RgbaImage {
  return (
    typeof value === 'object' &&
    value !== null &&
    'width' in value &&
    'height' in value &&
    'data' in value &&
    (value as RgbaImage).data instanceof Uint8ClampedArray
  );
}

function checkImage(image: RgbaImage, name: string): void {
  if (
    !Number.isInteger(image.width) ||
    !Number.isInteger(image.height) ||
    image.width < 1 ||
    image.height < 1
  ) {
    throw new InvalidArgumentError({
      name: `${name}.width×height`,
      value: [image.width, image.height],
      expected: 'positive integers',
    });
  }
  if (image.data.length !== image.width * image.height * 4) {
    throw new ShapeMismatchError({
      name: `${name}.data.length`,
      value: image.data.length,
      expected: `width·height·4 = ${image.width * image.height * 4} bytes (RGBA)`,
    });
  }
}

/**
 * RGBA images (all the same size) → tensor `[N, 3, H, W]` with values in [0, 1]; alpha is dropped.
 * Each value is `byte / 255`, as diffusers' `VaeImageProcessor` does.
 */
export function rgbaToTensor(images: RgbaImage | readonly RgbaImage[], name = 'image'): Tensor {
  const list = Array.isArray(images) ? (images as readonly RgbaImage[]) : [images as RgbaImage];
  if (list.length === 0) throw new InvalidArgumentError(`${name}: expected at least one image.`);
  const { width, height } = list[0]!;
  const plane = width * height;
  const out = new Float32Array(list.length * 3 * plane);
  list.forEach((img, n) => {
    checkImage(img, name);
    if (img.width !== width || img.height !== height) {
      throw new ShapeMismatchError({
        name: `${name}[${n}] size`,
        value: [img.width, img.height],
        expected: `${width}×${height} like ${name}[0]`,
      });
    }
    for (let p = 0; p < plane; p++) {
      for (let c = 0; c < 3; c++) out[(n * 3 + c) * plane + p] = img.data[p * 4 + c]! / 255;
    }
  });
  return new Tensor(out, [list.length, 3, height, width]);
}

/**
 * Tensor `[N, C, H, W]` in [0, 1] (C = 1 or 3) → RGBA images, rounding to the nearest byte as
 * diffusers' `numpy_to_pil` does (`round(x · 255)`); alpha is 255.
 */
export function tensorToRgba(tensor: Tensor): RgbaImage[] {
  if (tensor.shape.length !== 4 || (tensor.shape[1] !== 3 && tensor.shape[1] !== 1)) {
    throw new ShapeMismatchError({
      name: 'tensor',
      value: tensor.shape,
      expected: 'shape [N, 3 or 1, H, W]',
    });
  }
  const [n, c, height, width] = tensor.shape as [number, number, number, number];
  const plane = width * height;
  const src = tensor.data;
  const fround = Math.fround;
  const images: RgbaImage[] = [];
  for (let b = 0; b < n; b++) {
    const data = new Uint8ClampedArray(plane * 4);
    // One channel at a time, reading a plane in order. numpy's `(x * 255).round()` on float32: the product
    // rounds to float32, then to the nearest integer with halves to even — which is exactly how a
    // Uint8ClampedArray stores a number (ToUint8Clamp rounds half to even; NaN is stored as 0).
    for (let k = 0; k < 3; k++) {
      const offset = (b * c + (c === 1 ? 0 : k)) * plane;
      for (let p = 0, q = k; p < plane; p++, q += 4) {
        data[q] = fround(Math.min(1, Math.max(0, src[offset + p]!)) * 255);
      }
    }
    for (let q = 3; q < data.length; q += 4) data[q] = 255;
    images.push({ width, height, data });
  }
  return images;
}
