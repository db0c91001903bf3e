import { InvalidArgumentError } from '../errors.js';
import { Tensor } from '../tensor.js';
import { logCephes32Lanes, sincosCephes32Lanes } from './float32-math.js';
import type { Generator } from './generator.js';
import { Mt19937 } from './mt19937.js';
import { fillNormalWasm, randnWasmKernel } from './randn-wasm.js';

/** 2^-53: scales a 53-bit integer to a float64 uniform in [0, 1). */
const DOUBLE_UNIT = 2 ** -53;
/** Blocks of 16 transformed per pass of the lane kernels (their scratch stays in the L1 cache). */
const BLOCKS_PER_PASS = 64;
/** 2π rounded to float32, as torch's kernel broadcasts it. */
const TWO_PI_F32 = Math.fround(2 * Math.PI);
/** The smallest and one past the largest seed torch accepts (int64 min, uint64 max + 1). */
const MIN_SEED = -(2n ** 63n);
const SEED_LIMIT = 2n ** 64n;
const UINT64_MASK = 2n ** 64n - 1n;

/**
 * Reduces a seed to the unsigned 64-bit value torch stores, validating it as torch does:
 * integers in [−2^63, 2^64) are accepted, and negative ones are taken as their two's complement
 * (`manual_seed(-1)` is `manual_seed(2^64 − 1)`). A `number` seed must be a safe integer; pass a
 * `bigint` for seeds beyond 2^53.
 */
function toUint64Seed(seed: number | bigint): bigint {
  let value: bigint;
  if (typeof seed === 'bigint') {
    value = seed;
  } else if (typeof seed === 'number' && Number.isSafeInteger(seed)) {
    value = BigInt(seed);
  } else {
    throw new InvalidArgumentError({
      name: 'seed',
      value: seed,
      expected: 'an integer (a number no larger in magnitude than 2^53 − 1, or a bigint)',
      fix: 'pass a whole number such as 42, or a bigint such as 12345678901234567890n',
    });
  }
  if (value < MIN_SEED || value >= SEED_LIMIT) {
    throw new InvalidArgumentError({
      name: 'seed',
      value: seed,
      expected: 'an integer in [-2^63, 2^64), the range torch accepts',
    });
  }
  return value & UINT64_MASK;
}

/** Validates a shape and returns its number of elements. */
function numelOf(shape: readonly number[]): number {
  if (!Array.isArray(shape)) {
    throw new InvalidArgumentError({ name: 'shape', value: shape, expected: 'an array of dimensions' });
  }
  let n = 1;
  for (const d of shape) {
    if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) {
      throw new InvalidArgumentError({
        name: 'shape',
        value: shape,
        expected: 'non-negative integer dimensions',
      });
    }
    n *= d;
  }
  if (!Number.isSafeInteger(n)) {
    throw new InvalidArgumentError({ name: 'shape', value: shape, expected: 'fewer than 2^53 elements' });
  }
  return n;
}

/**
 * A random generator that reproduces torch's CPU generator: the same seed and the same sequence of calls
 * give the same float32 values as
 * `torch.randn(shape, generator=torch.Generator().manual_seed(seed))` and `torch.rand(...)`
 * (checked bit for bit against torch 1.13 with its AVX2 kernels).
 *
 * How torch draws, and so how this class draws:
 * - the engine is MT19937 seeded with `init_genrand(seed mod 2^32)`;
 * - `rand`: one 32-bit word per element, `(w & 0xFFFFFF) · 2^-24`;
 * - `randn` with 16 or more elements: all elements' float32 uniforms first, then Box–Muller on blocks of
 *   16 (`u1 = 1 − u[j]`, `u2 = u[j+8]`, j < 8) in float32 arithmetic with the Cephes approximations of
 *   log, sin and cos; when the count is not a multiple of 16, 16 more uniforms are drawn and the last 16
 *   outputs are recomputed from them;
 * - `randn` with fewer than 16 elements: one at a time, in double precision, with Box–Muller on two
 *   float64 uniforms (two words each) whose sine half is kept for the next such draw. That cached value
 *   survives `randn` calls of 16 or more elements, and is cleared by {@link manualSeed}.
 */
export class TorchGenerator implements Generator {
  private readonly engine: Mt19937;
  private seedValue: bigint;
  /** torch's `next_double_normal_sample`: the unused half of the last double-precision Box–Muller pair. */
  private cachedNormal: number | null = null;

  /**
   * @param seed - an integer in [−2^63, 2^64), as `torch.Generator().manual_seed(seed)` takes.
   *   Only its low 32 bits seed the engine (so `2n ** 33n` gives the same numbers as `0`); negative seeds
   *   are taken modulo 2^64, as torch does.
   */
  constructor(seed: number | bigint) {
    this.seedValue = toUint64Seed(seed);
    this.engine = new Mt19937(Number(this.seedValue & 0xffffffffn));
  }

  /** Re-seeds the generator and clears the cached normal, like torch's `manual_seed`. Returns `this`. */
  manualSeed(seed: number | bigint): this {
    this.seedValue = toUint64Seed(seed);
    this.engine.seed(Number(this.seedValue & 0xffffffffn));
    this.cachedNormal = null;
    return this;
  }

  /** The seed last set, as the unsigned 64-bit value torch reports from `initial_seed()`. */
  initialSeed(): bigint {
    return this.seedValue;
  }

  /** Uniform float32 samples in [0, 1), like `torch.rand(shape, generator=g)`. */
  rand(shape: readonly number[]): Tensor {
    const out = new Float32Array(numelOf(shape));
    this.engine.fillUniform24(out);
    return new Tensor(out, shape);
  }

  /** Standard normal float32 samples, like `torch.randn(shape, generator=g)`. */
  randn(shape: readonly number[]): Tensor {
    const n = numelOf(shape);
    const out = new Float32Array(n);
    if (n >= 16) {
      this.fillNormalBlocks(out);
    } else {
      for (let i = 0; i < n; i++) out[i] = this.nextDoubleNormal();
    }
    return new Tensor(out, shape);
  }

  /** A float64 uniform in [0, 1) from two words: the low 53 bits of `(w1 << 32) | w2`. */
  private nextDouble(): number {
    const hi = this.engine.nextUint32() & 0x1fffff;
    const lo = this.engine.nextUint32();
    return (hi * 2 ** 32 + lo) * DOUBLE_UNIT;
  }

  /** One double-precision normal, using and refilling the cached half of a Box–Muller pair. */
  private nextDoubleNormal(): number {
    const cached = this.cachedNormal;
    if (cached !== null) {
      this.cachedNormal = null;
      return cached;
    }
    const u1 = this.nextDouble();
    const u2 = this.nextDouble();
    const radius = Math.sqrt(-2 * Math.log(1 - u2));
    const theta = 2 * Math.PI * u1;
    this.cachedNormal = radius * Math.sin(theta);
    return radius * Math.cos(theta);
  }

  /**
   * torch's vectorised `normal_fill`, for `out.length >= 16`: on the WebAssembly kernel where there is
   * one (randn-wasm.ts), else in JavaScript; the two give the same bits.
   */
  private fillNormalBlocks(out: Float32Array): void {
    const kernel = randnWasmKernel();
    if (kernel !== null) {
      fillNormalWasm(kernel, this.engine, out, boxMullerBlocks);
      return;
    }
    const n = out.length;
    this.engine.fillUniform24(out);
    const blocks = Math.floor(n / 16);
    for (let b = 0; b < blocks; b += BLOCKS_PER_PASS) {
      boxMullerBlocks(out, 16 * b, Math.min(BLOCKS_PER_PASS, blocks - b));
    }
    if (n % 16 !== 0) {
      // torch redraws the tail: 16 fresh uniforms, transformed, overwrite the last 16 outputs.
      this.engine.fillUniform24(out, n - 16, n);
      boxMullerBlocks(out, n - 16, 1);
    }
  }
}

/** Per-pass scratch of the Box–Muller transform: 1 − u, the angle, log(1 − u), sin and cos, per lane. */
const LANES = {
  oneMinusU: new Float32Array(BLOCKS_PER_PASS * 8),
  theta: new Float32Array(BLOCKS_PER_PASS * 8),
  log: new Float64Array(BLOCKS_PER_PASS * 8),
  sin: new Float64Array(BLOCKS_PER_PASS * 8),
  cos: new Float64Array(BLOCKS_PER_PASS * 8),
};

/**
 * Turns `count` consecutive blocks of 16 uniforms, from `data[start]` on, into normals in place, in
 * float32 arithmetic as torch's `normal_fill_16_AVX2` does per block: radius `sqrt(−2·log(1 − u[j]))`,
 * angle `fl(2π)·u[j+8]`, and outputs `radius·cos` at j and `radius·sin` at j+8 (j < 8). (torch then
 * applies `x·std + mean` as one FMA, which for std = 1 and mean = 0 returns x unchanged.) The 8·count
 * lanes go through log and sincos together ({@link logCephes32Lanes}).
 * Exported for the WebAssembly path's fallback and for tests.
 * @internal
 */
export function boxMullerBlocks(data: Float32Array, start: number, count: number): void {
  const fround = Math.fround;
  const { oneMinusU, theta, log, sin, cos } = LANES;
  const lanes = 8 * count;
  for (let b = 0, lane = 0; b < count; b++) {
    const base = start + 16 * b;
    for (let j = 0; j < 8; j++, lane++) {
      oneMinusU[lane] = 1 - data[base + j]!;
      theta[lane] = TWO_PI_F32 * data[base + j + 8]!;
    }
  }
  logCephes32Lanes(oneMinusU, log, lanes);
  sincosCephes32Lanes(theta, sin, cos, lanes);
  for (let b = 0, lane = 0; b < count; b++) {
    const base = start + 16 * b;
    for (let j = 0; j < 8; j++, lane++) {
      const radius = fround(Math.sqrt(fround(-2 * log[lane]!)));
      data[base + j] = radius * cos[lane]!;
      data[base + j + 8] = radius * sin[lane]!;
    }
  }
}
