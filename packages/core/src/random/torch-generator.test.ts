import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { InvalidArgumentError, LatentkitError } from '../errors.js';
import { fma32, logCephes32, type SinCos, sincosCephes32 } from './float32-math.js';
import { Mt19937 } from './mt19937.js';
import { RANDN_WASM_LAYOUT } from './randn-wasm.generated.js';
import { fillNormalWasm, type RandnWasmKernel, randnWasmKernel, setRandnWasmEnabled } from './randn-wasm.js';
import { boxMullerBlocks, TorchGenerator } from './torch-generator.js';

interface RandnCase {
  seed: number;
  shape: number[];
  numel: number;
  data?: number[];
  first64?: number[];
  last64?: number[];
  sum?: number;
  sum_sq?: number;
}
interface Fixture {
  randn: RandnCase[];
  successive_seed42_randn1_randn17_randn1: { shape: number[]; data: number[] }[];
  rand_seed42_20: { shape: number[]; data: number[] };
  mt19937_seed42_first16_uint32: number[];
}

const fixture: Fixture = JSON.parse(
  readFileSync(new URL('../../test-fixtures/torch-randn.json', import.meta.url), 'utf8'),
);

/** Compares values against torch's (stored as shortest round-trip decimals of float32 values). */
class Tally {
  total = 0;
  exact = 0;
  maxAbsDiff = 0;
  add(expected: readonly number[], actual: Float32Array, offset = 0): void {
    expected.forEach((value, k) => {
      const diff = Math.abs(Math.fround(value) - actual[offset + k]!);
      this.total++;
      if (Object.is(Math.fround(value), actual[offset + k]!)) this.exact++; // same float32, sign of zero included
      this.maxAbsDiff = Math.max(this.maxAbsDiff, diff);
    });
  }
}

describe('Mt19937', () => {
  it('produces the reference first output for the default seed 5489', () => {
    expect(new Mt19937(5489).nextUint32()).toBe(3499211612);
  });

  it("matches torch's first 16 words for seed 42", () => {
    const mt = new Mt19937(42);
    const words = Array.from({ length: 16 }, () => mt.nextUint32());
    expect(words).toEqual(fixture.mt19937_seed42_first16_uint32);
  });

  it('keeps matching across the 624-word twist boundary (re-seeding restarts the sequence)', () => {
    const mt = new Mt19937(7);
    const first = Array.from({ length: 1300 }, () => mt.nextUint32());
    mt.seed(7);
    const again = Array.from({ length: 1300 }, () => mt.nextUint32());
    expect(again).toEqual(first);
    expect(first.every((w) => Number.isInteger(w) && w >= 0 && w < 2 ** 32)).toBe(true);
  });
});

describe.each([
  ['WebAssembly', true],
  ['JavaScript', false],
])('TorchGenerator against torch 1.13 reference values (%s path)', (_path, wasm) => {
  afterEach(() => setRandnWasmEnabled(true));

  it('reproduces every randn value in the fixture bit for bit', () => {
    setRandnWasmEnabled(wasm);
    expect(randnWasmKernel() !== null).toBe(wasm);
    const tally = new Tally();
    for (const c of fixture.randn) {
      const t = new TorchGenerator(c.seed).randn(c.shape);
      expect(t.shape).toEqual(c.shape);
      expect(t.data.length).toBe(c.numel);
      if (c.data) {
        tally.add(c.data, t.data);
      } else {
        tally.add(c.first64!, t.data);
        tally.add(c.last64!, t.data, c.numel - 64);
        let sum = 0;
        let sumSq = 0;
        for (const v of t.data) {
          sum += v;
          sumSq += v * v;
        }
        // The sums were accumulated in another order in Python; they agree to rounding noise.
        expect(Math.abs(sum - c.sum!)).toBeLessThan(1e-9);
        expect(Math.abs(sumSq - c.sum_sq!) / c.sum_sq!).toBeLessThan(1e-12);
      }
    }
    expect(tally.total).toBe(850);
    expect(tally.maxAbsDiff).toBeLessThanOrEqual(2e-6);
    expect(tally.exact).toBe(tally.total);
  });

  it('reproduces randn(1), randn(17), randn(1) on one generator (seed 42)', () => {
    setRandnWasmEnabled(wasm);
    const g = new TorchGenerator(42);
    const tally = new Tally();
    for (const call of fixture.successive_seed42_randn1_randn17_randn1) {
      tally.add(call.data, g.randn(call.shape).data);
    }
    expect(tally.total).toBe(19);
    expect(tally.exact).toBe(tally.total);
  });

  it('reproduces torch.rand values bit for bit (seed 42)', () => {
    const t = new TorchGenerator(42).rand(fixture.rand_seed42_20.shape);
    const tally = new Tally();
    tally.add(fixture.rand_seed42_20.data, t.data);
    expect(tally.total).toBe(20);
    expect(tally.exact).toBe(tally.total);
  });
});

/** The float32 bits of each value, for exact comparisons that also tell −0 from 0. */
const bits = (a: Float32Array): Uint32Array => new Uint32Array(a.buffer, a.byteOffset, a.length);

/** Counts the positions where two float32 arrays differ in bits. */
function differing(a: Float32Array, b: Float32Array): number {
  const x = bits(a);
  const y = bits(b);
  let count = 0;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) count++;
  return count;
}

describe('randn: the WebAssembly path gives the same bits as the JavaScript path', () => {
  afterEach(() => setRandnWasmEnabled(true));

  /** Draws a sequence of calls on one generator with the WebAssembly path on or off. */
  function draw(wasm: boolean, seed: number, calls: (g: TorchGenerator) => Float32Array[]): Float32Array[] {
    setRandnWasmEnabled(wasm);
    try {
      return calls(new TorchGenerator(seed));
    } finally {
      setRandnWasmEnabled(true);
    }
  }

  it('compiles in Node (WebAssembly SIMD is there)', () => {
    expect(randnWasmKernel()).not.toBeNull();
  });

  it('for every float32 uniform: log and sincos of all 2^24 values of u, lane for lane', () => {
    // A lane's log depends only on u[j] and its sincos only on u[j+8]: putting every value of the 2^-24
    // grid in both halves covers every input either function can get.
    const kernel = randnWasmKernel()!;
    const { input, output, list, chunk } = RANDN_WASM_LAYOUT;
    const blocks = chunk / 16;
    const js = new Float32Array(chunk);
    const wasmOut = kernel.floats.subarray(output / 4, output / 4 + chunk);
    let mismatches = 0;
    let flaggedBlocks = 0;
    let mismatchesOutsideFlagged = 0;
    for (let first = 0; first < 2 ** 24; first += 8 * blocks) {
      for (let b = 0; b < blocks; b++) {
        for (let j = 0; j < 8; j++) {
          const u = (first + 8 * b + j) * 2 ** -24;
          js[16 * b + j] = u;
          js[16 * b + 8 + j] = u;
        }
      }
      kernel.floats.set(js, input / 4);
      const flagged = kernel.exports.normal(input, output, blocks, list);
      const flaggedSet = new Set(kernel.words.subarray(list / 4, list / 4 + flagged));
      flaggedBlocks += flagged;
      for (let b = 0; b < blocks; b += 64) boxMullerBlocks(js, 16 * b, 64);
      const x = bits(js);
      const y = bits(wasmOut);
      for (let i = 0; i < chunk; i++) {
        if (x[i] !== y[i]) {
          mismatches++;
          if (!flaggedSet.has(i >> 4)) mismatchesOutsideFlagged++;
        }
      }
    }
    // Flagged blocks are recomputed in JavaScript, so only unflagged mismatches could reach randn; there
    // are none, and (measured) none in the flagged blocks either: the flag is a cautious superset.
    expect(mismatchesOutsideFlagged).toBe(0);
    expect(mismatches).toBe(0);
    expect(flaggedBlocks).toBeLessThan(1000); // 72 of 2^21 blocks when this was written
  }, 60_000);

  it('for whole randn calls: shapes with and without a tail, across chunks and twists, state carried', () => {
    const calls = (g: TorchGenerator): Float32Array[] => [
      g.randn([16]).data,
      g.randn([17]).data,
      g.randn([2, 4, 64, 64]).data,
      g.randn([3]).data, // double-precision path between vectorised calls
      g.randn([8192 * 3 + 5]).data,
      g.rand([7]).data,
      g.randn([1, 4, 13, 17]).data,
      g.randn([2, 4, 128, 128]).data,
    ];
    for (const seed of [0, 42, 2 ** 32 - 1]) {
      const js = draw(false, seed, calls);
      const wasm = draw(true, seed, calls);
      expect(wasm.map((a) => a.length)).toEqual(js.map((a) => a.length));
      for (let c = 0; c < js.length; c++) expect(differing(wasm[c]!, js[c]!)).toBe(0);
    }
  });

  it('recomputes flagged blocks with the JavaScript path (every block flagged: same bits)', () => {
    const kernel = randnWasmKernel()!;
    const { list } = RANDN_WASM_LAYOUT;
    // A kernel whose normal() runs, then reports every block as flagged.
    const flagAll: RandnWasmKernel = {
      ...kernel,
      exports: {
        memory: kernel.exports.memory,
        uniform: kernel.exports.uniform,
        normal: (input, output, blocks, listAt) => {
          kernel.exports.normal(input, output, blocks, listAt);
          for (let b = 0; b < blocks; b++) kernel.words[list / 4 + b] = b;
          return blocks;
        },
      },
    };
    // Poison the kernel's output, so a block not recomputed would show.
    const poisoned: RandnWasmKernel = {
      ...flagAll,
      exports: {
        ...flagAll.exports,
        normal: (input, output, blocks, listAt) => {
          const n = flagAll.exports.normal(input, output, blocks, listAt);
          kernel.floats.fill(Number.NaN, output / 4, output / 4 + 16 * blocks);
          return n;
        },
      },
    };
    const engineOf = (g: TorchGenerator): Mt19937 => (g as unknown as { engine: Mt19937 }).engine;
    const expected = draw(false, 7, (g) => [g.randn([8192 + 40]).data]);
    const g = new TorchGenerator(7);
    const out = new Float32Array(8192 + 40);
    fillNormalWasm(poisoned, engineOf(g), out, boxMullerBlocks);
    expect(differing(out, expected[0]!)).toBe(0);
  });

  it('is built from tools/wasm-randn/build.mjs (the generated file is up to date)', () => {
    const tool = fileURLToPath(new URL('../../../../tools/wasm-randn/build.mjs', import.meta.url));
    expect(() => execFileSync(process.execPath, [tool, '--check'], { stdio: 'pipe' })).not.toThrow();
  });
});

describe('TorchGenerator behaviour', () => {
  it('is deterministic: the same seed gives the same values', () => {
    const a = new TorchGenerator(1234);
    const b = new TorchGenerator(1234);
    for (const shape of [[3], [1, 4, 8, 8], [5, 7], [2]]) {
      expect(a.randn(shape).data).toEqual(b.randn(shape).data);
      expect(a.rand(shape).data).toEqual(b.rand(shape).data);
    }
    expect(new TorchGenerator(1).randn([64]).data).not.toEqual(new TorchGenerator(2).randn([64]).data);
  });

  it('carries state across calls', () => {
    const g = new TorchGenerator(0);
    const first = g.randn([32]).data;
    const second = g.randn([32]).data;
    expect(second).not.toEqual(first);
    // With 16 | n the vectorised path uses exactly n words, so two randn(16) calls equal one randn(32).
    const h = new TorchGenerator(0);
    const halves = [...h.randn([16]).data, ...h.randn([16]).data];
    expect(Float32Array.from(halves)).toEqual(first);
  });

  it('redraws 16 uniforms for the tail when numel % 16 != 0 (n + 16 words used)', () => {
    const g = new TorchGenerator(5);
    const r17 = g.randn([17]).data;
    const next = g.rand([1]).data[0];
    const words = new TorchGenerator(5).rand([17 + 16 + 1]).data;
    expect(next).toBe(words[33]);
    // The first output comes from the first full block, unaffected by the tail.
    expect(r17[0]).toBe(new TorchGenerator(5).randn([16]).data[0]);
  });

  it('draws fewer than 16 normals one by one in double precision, caching the sine half', () => {
    const seven = new TorchGenerator(3).randn([7]).data;
    const g = new TorchGenerator(3);
    const oneByOne = Array.from({ length: 7 }, () => g.randn([1]).data[0]!);
    expect(Float32Array.from(oneByOne)).toEqual(seven);

    // Pairs: [cos, sin] of one Box–Muller draw, so randn(1) then randn(1) equals randn(2).
    const pair = new TorchGenerator(3).randn([2]).data;
    expect(seven[0]).toBe(pair[0]);
    expect(seven[1]).toBe(pair[1]);
  });

  it('keeps the cached normal across randn calls of 16 or more elements', () => {
    const g = new TorchGenerator(42);
    const a = g.randn([1]).data[0];
    g.randn([17]);
    const b = g.randn([1]).data[0];
    const pair = new TorchGenerator(42).randn([2]).data;
    expect(a).toBe(pair[0]);
    expect(b).toBe(pair[1]);
    // rand neither reads nor clears the cache either.
    const h = new TorchGenerator(42);
    h.randn([1]);
    h.rand([3]);
    expect(h.randn([1]).data[0]).toBe(pair[1]);
  });

  it('manualSeed re-seeds and clears the cached normal', () => {
    const g = new TorchGenerator(42);
    const first = g.randn([1]).data[0];
    expect(g.manualSeed(42)).toBe(g);
    expect(g.randn([1]).data[0]).toBe(first);
    g.manualSeed(0);
    expect(g.randn([16]).data).toEqual(new TorchGenerator(0).randn([16]).data);
  });

  it('uses only the low 32 bits of the seed, as torch does', () => {
    const zero = new TorchGenerator(0).randn([20]).data;
    expect(new TorchGenerator(2n ** 33n).randn([20]).data).toEqual(zero);
    expect(new TorchGenerator(0n).randn([20]).data).toEqual(zero);
    expect(new TorchGenerator(2 ** 32).randn([20]).data).toEqual(zero);
    expect(new TorchGenerator(2n ** 33n).initialSeed()).toBe(2n ** 33n);
  });

  it('takes negative seeds modulo 2^64, as torch does', () => {
    const g = new TorchGenerator(-1);
    expect(g.initialSeed()).toBe(2n ** 64n - 1n);
    expect(g.rand([8]).data).toEqual(new TorchGenerator(2 ** 32 - 1).rand([8]).data);
    expect(new TorchGenerator(-(2n ** 63n)).initialSeed()).toBe(2n ** 63n);
  });

  it('returns tensors of the requested shape, including scalars and empty shapes', () => {
    const g = new TorchGenerator(9);
    expect(g.randn([2, 3, 4]).shape).toEqual([2, 3, 4]);
    const scalar = g.randn([]);
    expect(scalar.shape).toEqual([]);
    expect(scalar.data.length).toBe(1);
    const before = new TorchGenerator(9);
    const after = new TorchGenerator(9);
    expect(after.randn([0, 4]).data.length).toBe(0);
    expect(after.rand([3, 0]).data.length).toBe(0);
    expect(after.randn([16]).data).toEqual(before.randn([16]).data); // empty draws consume nothing
  });

  it('gives rand values in [0, 1) on the 2^-24 grid', () => {
    const data = new TorchGenerator(11).rand([1000]).data;
    for (const v of data) {
      expect(v).toBeGreaterThanOrEqual(0);
      expect(v).toBeLessThan(1);
      expect(Number.isInteger(v * 2 ** 24)).toBe(true);
    }
  });

  it('gives randn values with roughly standard normal moments', () => {
    const data = new TorchGenerator(123).randn([1, 4, 64, 64]).data;
    let sum = 0;
    let sumSq = 0;
    for (const v of data) {
      expect(Number.isFinite(v)).toBe(true);
      sum += v;
      sumSq += v * v;
    }
    expect(Math.abs(sum / data.length)).toBeLessThan(0.05);
    expect(Math.abs(sumSq / data.length - 1)).toBeLessThan(0.05);
  });
});

describe('TorchGenerator input validation', () => {
  const badSeeds: unknown[] = [1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53, -(2 ** 60), '42', null];
  it.each(badSeeds)('rejects the seed %s', (seed) => {
    expect(() => new TorchGenerator(seed as number)).toThrow(InvalidArgumentError);
    expect(() => new TorchGenerator(0).manualSeed(seed as number)).toThrow(InvalidArgumentError);
  });

  it('rejects bigint seeds outside [-2^63, 2^64)', () => {
    for (const seed of [2n ** 64n, -(2n ** 63n) - 1n]) {
      expect(() => new TorchGenerator(seed)).toThrow(InvalidArgumentError);
    }
    expect(() => new TorchGenerator(2n ** 64n - 1n)).not.toThrow();
  });

  const badShapes: unknown[] = [[-1], [2, 1.5], [Number.NaN], [Number.POSITIVE_INFINITY], ['4'], 4];
  it.each(badShapes)('rejects the shape %j', (shape) => {
    const g = new TorchGenerator(0);
    for (const call of [() => g.randn(shape as number[]), () => g.rand(shape as number[])]) {
      let error: unknown;
      try {
        call();
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(InvalidArgumentError);
      expect(error).toBeInstanceOf(LatentkitError);
      expect((error as LatentkitError).code).toBe('INVALID_ARGUMENT');
    }
  });
});

describe('float32 math emulation', () => {
  it('fma32 rounds once, also where rounding the double sum would round twice', () => {
    const a = 1 + 2 ** -12; // a·a = 1 + 2^-11 + 2^-24: halfway between two float32 values
    // Plain double rounding drops the 2^-60 and then ties to even (down); the true FMA rounds up.
    expect(Math.fround(a * a + 2 ** -60)).toBe(1 + 2 ** -11);
    expect(fma32(a, a, 2 ** -60)).toBe(1 + 2 ** -11 + 2 ** -23);
    expect(fma32(-a, a, -(2 ** -60))).toBe(-(1 + 2 ** -11 + 2 ** -23));
    expect(fma32(a, a, -(2 ** -60))).toBe(1 + 2 ** -11);
    expect(fma32(a, a, 0)).toBe(1 + 2 ** -11); // an exact tie still ties to even
    expect(fma32(1.5, 2, 0.25)).toBe(3.25);
  });

  it('logCephes32 is within a few float32 ulps of log', () => {
    for (let k = 1; k <= 2000; k++) {
      const x = Math.fround(k / 2000);
      const ulp = 2 ** (Math.floor(Math.log2(Math.abs(Math.log(x)) || 1)) - 23);
      expect(Math.abs(logCephes32(x) - Math.log(x))).toBeLessThanOrEqual(4 * Math.max(ulp, 2 ** -30));
    }
    expect(logCephes32(1)).toBe(0);
  });

  it('sincosCephes32 is within a few float32 ulps of sin and cos on [0, 2π)', () => {
    const out: SinCos = [0, 0];
    for (let k = 0; k < 2000; k++) {
      const x = Math.fround((k / 2000) * 2 * Math.PI);
      sincosCephes32(x, out);
      expect(Math.abs(out[0] - Math.sin(x))).toBeLessThan(3e-7);
      expect(Math.abs(out[1] - Math.cos(x))).toBeLessThan(3e-7);
      sincosCephes32(-x, out);
      expect(Math.abs(out[0] + Math.sin(x))).toBeLessThan(3e-7);
    }
  });
});
