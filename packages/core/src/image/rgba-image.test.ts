import { describe, expect, it } from 'vitest';
import { ShapeMismatchError } from '../errors.js';
import { Tensor } from '../tensor.js';
import { isRgbaImage, rgbaToTensor, tensorToRgba } from './rgba-image.js';

describe('RgbaImage ↔ Tensor', () => {
  it('round-trips bytes through [0, 1] tensors and drops alpha', () => {
    const data = new Uint8ClampedArray([0, 64, 128, 10, 255, 1, 2, 20]);
    const t = rgbaToTensor({ width: 2, height: 1, data });
    expect(t.shape).toEqual([1, 3, 1, 2]);
    expect(Array.from(t.data)).toEqual([0, 255, 64, 1, 128, 2].map((v) => Math.fround(v / 255)));
    const [back] = tensorToRgba(t);
    expect(Array.from(back!.data)).toEqual([0, 64, 128, 255, 255, 1, 2, 255]);
  });

  it('rounds like numpy: float32 product, halves to even, clamped', () => {
    // 0.5·255 = 127.5 → 128 (even); 0.5/255·255 ≈ 0.5 → 0; out-of-range values clamp.
    const t = new Tensor(
      Float32Array.from([0.5, Math.fround(0.5 / 255), -0.2, 1.7, 0.998, 0.002]),
      [1, 1, 2, 3],
    );
    const [img] = tensorToRgba(t);
    const red = [0, 1, 2, 3, 4, 5].map((p) => img!.data[p * 4]);
    expect(red).toEqual([128, Math.fround(Math.fround(0.5 / 255) * 255) > 0.5 ? 1 : 0, 0, 255, 254, 1]);
  });

  it("every float32 around each byte midpoint, NaN and ±∞ give the bytes of numpy's rule, written out", () => {
    // The rule spelled out: clamp, v = fl32(x·255), round half to even (NaN → 0, as a Uint8Array cast).
    const numpyByte = (x: number): number => {
      const v = Math.fround(Math.min(1, Math.max(0, x)) * 255);
      if (Number.isNaN(v)) return 0;
      const floor = Math.floor(v);
      const frac = v - floor;
      return frac > 0.5 || (frac === 0.5 && floor % 2 === 1) ? floor + 1 : floor;
    };
    const values = [
      Number.NaN,
      Number.POSITIVE_INFINITY,
      Number.NEGATIVE_INFINITY,
      -0,
      0,
      1,
      -1e-30,
      1.0000001,
    ];
    const bits = new Float32Array(1);
    const word = new Int32Array(bits.buffer);
    for (let b = 0; b < 256; b++) {
      bits[0] = (b + 0.5) / 255;
      const mid = word[0]!;
      for (let d = -20; d <= 20; d++) {
        word[0] = mid + d;
        values.push(bits[0]!);
      }
    }
    const t = new Tensor(Float32Array.from(values), [1, 1, 1, values.length]);
    const [img] = tensorToRgba(t);
    const got = values.map((_, p) => img!.data[p * 4]);
    expect(got).toEqual(values.map(numpyByte));
    // Grey images: the one channel goes to R, G and B; alpha is 255.
    expect(Array.from(img!.data.subarray(0, 8))).toEqual([0, 0, 0, 255, 255, 255, 255, 255]);
  });

  it('rejects data of the wrong length with a typed error', () => {
    expect(() => rgbaToTensor({ width: 2, height: 2, data: new Uint8ClampedArray(12) })).toThrow(
      ShapeMismatchError,
    );
    expect(isRgbaImage({ width: 1, height: 1, data: new Uint8ClampedArray(4) })).toBe(true);
    expect(isRgbaImage(Tensor.zeros([1, 3, 1, 1]))).toBe(false);
  });
});
