import { InvalidArgumentError } from '../errors.js';
import type { Generator } from '../random/generator.js';
import { Tensor } from '../tensor.js';

/**
 * One generator per batch item, seen as a single {@link Generator}: a draw of shape `[N, …]` takes item i
 * (shape `[1, …]`) from generator i and concatenates them — what diffusers' `randn_tensor` does when it is
 * given a list of generators. Schedulers receive this, so their per-step noise follows the same rule.
 */
export class GeneratorList implements Generator {
  /** The generators, one per batch item. */
  readonly generators: readonly Generator[];

  constructor(generators: readonly Generator[]) {
    this.generators = generators;
  }

  private draw(shape: readonly number[], kind: 'randn' | 'rand'): Tensor {
    if (shape[0] !== this.generators.length) {
      throw new InvalidArgumentError({
        name: `${kind} shape`,
        value: shape,
        expected: `a first dimension equal to the number of generators (${this.generators.length})`,
        fix: 'pass one generator per generated image, or a single generator',
      });
    }
    const item = [1, ...shape.slice(1)];
    return Tensor.cat(this.generators.map((g) => g[kind](item)));
  }

  /** Standard normal samples; item i comes from generator i. */
  randn(shape: readonly number[]): Tensor {
    return this.draw(shape, 'randn');
  }

  /** Uniform samples in [0, 1); item i comes from generator i. */
  rand(shape: readonly number[]): Tensor {
    return this.draw(shape, 'rand');
  }
}
