import { InvalidArgumentError as CommanderArgumentError } from 'commander';

/** Commander parsers for numeric flags: they reject junk with a message naming what was expected. */

/** An integer ≥ `min`. */
export function integerAtLeast(min: number): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isInteger(n) || n < min) {
      throw new CommanderArgumentError(`expected an integer ≥ ${min}.`);
    }
    return n;
  };
}

/** A finite number, optionally within [min, max]. */
export function numberIn(
  min = Number.NEGATIVE_INFINITY,
  max = Number.POSITIVE_INFINITY,
): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n) || n < min || n > max) {
      const range = Number.isFinite(min) && Number.isFinite(max) ? ` in [${min}, ${max}]` : '';
      throw new CommanderArgumentError(`expected a number${range}.`);
    }
    return n;
  };
}

const MAX_SEED = 2n ** 64n - 1n;

/** A seed: an integer in [0, 2^64 − 1] (torch's range); a `bigint` past 2^53. */
export function parseSeed(value: string): number | bigint {
  if (!/^\d+$/.test(value.trim())) throw new CommanderArgumentError('expected an integer in [0, 2^64 − 1].');
  const big = BigInt(value.trim());
  if (big > MAX_SEED) throw new CommanderArgumentError('expected an integer in [0, 2^64 − 1].');
  return big <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(big) : big;
}

/** A finite number ≥ `min`. */
export function numberAtLeast(min: number): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n) || n < min) {
      throw new CommanderArgumentError(`expected a number ≥ ${min}.`);
    }
    return n;
  };
}
