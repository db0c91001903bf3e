/**
 * Decoding of the reference case files that diffusers wrote (tests/fixtures/pipeline-cases.json,
 * tests/fixtures/reference/upscale-cases.json): their tensors and how the tests compare with them.
 */
import { Tensor } from '@latentkit/core';
import { expect } from 'vitest';

/** A tensor as the case files hold it: numpy's shape and its values in row-major order. */
export interface JsonTensor {
  shape: number[];
  data: number[];
}

export const tensor = (t: JsonTensor) => new Tensor(Float32Array.from(t.data), t.shape);

/** Max |a − b| with b rounded to float32 (the JSON holds float32 values in their shortest decimal form). */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - Math.fround(b[i]!)));
  return m;
}

/** NHWC (the JSON's numpy output) → NCHW (our tensor layout). */
export function nhwcToNchw(t: JsonTensor): Float32Array {
  const [n, h, w, c] = t.shape as [number, number, number, number];
  const out = new Float32Array(n * c * h * w);
  for (let b = 0; b < n; b++)
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++)
        for (let ch = 0; ch < c; ch++)
          out[((b * c + ch) * h + y) * w + x] = t.data[((b * h + y) * w + x) * c + ch]!;
  return out;
}
