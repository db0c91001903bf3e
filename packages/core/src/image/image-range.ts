import type { Tensor } from '../tensor.js';

/** Image in [0, 1] → [−1, 1] as diffusers' `VaeImageProcessor.normalize`: `2x − 1`, each op rounded to float32. */
export function normalizeImage(image: Tensor): Tensor {
  return image.mul(2).sub(1);
}

/** Decoder output in [−1, 1] → [0, 1] as diffusers' `VaeImageProcessor` postprocess: `clamp(x·0.5 + 0.5, 0, 1)`. */
export function denormalizeImage(image: Tensor): Tensor {
  return image.mul(0.5).add(0.5).clamp(0, 1);
}
