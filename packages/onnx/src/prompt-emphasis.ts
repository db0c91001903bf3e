import { InvalidArgumentError, type Tensor } from '@latentkit/core';

/**
 * A1111's "Original" emphasis on one chunk `[1, T, D]` of one text encoder: multiply each token's hidden
 * state by its weight, then rescale so the mean is what it was. All weights 1 leave the chunk as it is.
 * SDXL applies it to each text encoder's chunk separately, as A1111 does per embedder.
 *
 * @param z - One chunk's hidden states `[1, T, D]`.
 * @param weights - T weights.
 * @throws {@link @latentkit/core!InvalidArgumentError} when the weights cancel the chunk's mean (the
 *   rescale factor is not finite).
 */
export function applyEmphasis(z: Tensor, weights: readonly number[]): Tensor {
  if (weights.every((w) => w === 1)) return z;
  const d = z.shape[2]!;
  const originalMean = Math.fround(z.mean());
  const scaled = z.map((v, i) => v * Math.fround(weights[Math.floor(i / d)]!));
  const newMean = Math.fround(scaled.mean());
  const factor = Math.fround(originalMean / newMean);
  if (!Number.isFinite(factor)) {
    // weights that cancel the chunk's mean (e.g. negative ones) cannot be rescaled: 0/0 or x/0 is not a number
    throw new InvalidArgumentError({
      name: 'prompt weights',
      value: [...new Set(weights)],
      expected: `weights that keep the mean of the chunk's hidden states away from 0 (the rescale factor ${originalMean} / ${newMean} is not finite)`,
      fix: 'use positive weights, or smaller negative ones',
    });
  }
  return scaled.mul(factor);
}
