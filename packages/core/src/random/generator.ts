import type { Tensor } from '../tensor.js';

/**
 * A source of random tensors. Each call advances the generator's state, so a sequence of calls on one
 * generator gives a reproducible sequence of tensors.
 */
export interface Generator {
  /** Standard normal samples (mean 0, standard deviation 1) in a tensor of the given shape. */
  randn(shape: readonly number[]): Tensor;
  /** Uniform samples in [0, 1) in a tensor of the given shape. */
  rand(shape: readonly number[]): Tensor;
}
