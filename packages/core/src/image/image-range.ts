import { Tensor } from '../tensor.js';

/** Image in [0, 1] → [−1, 1] as diffusers' `VaeImageProcessor.normalize`: `2x − 1`, each op rounded to float32. */
export function normalizeImage(image: Tensor): Tensor {
  return image.mul(2).sub(1);
}

/**
 * Decoder output in [−1, 1] → [0, 1] as diffusers' `VaeImageProcessor` postprocess: `clamp(x·0.5 + 0.5, 0, 1)`,
 * each op rounded to float32, in one pass (the same values as the three tensor ops in turn; NaN stays NaN).
 */
export function denormalizeImage(image: Tensor): Tensor {
  const src = image.data;
  const out = new Float32Array(src.length);
  const fround = Math.fround;
  for (let i = 0; i < src.length; i++) out[i] = Math.min(1, Math.max(0, fround(src[i]! * 0.5) + 0.5));
  return new Tensor(out, image.shape);
}
