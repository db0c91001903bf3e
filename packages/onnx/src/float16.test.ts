import { describe, expect, it } from 'vitest';
import { float16ToFloat32, float32ToFloat16, fromFloat16Bits, toFloat16Bits } from './float16.js';

// Known IEEE 754 binary16 bit patterns.
const KNOWN: [number, number][] = [
  [0, 0x0000],
  [-0, 0x8000],
  [1, 0x3c00],
  [-2, 0xc000],
  [0.5, 0x3800],
  [65504, 0x7bff], // largest finite
  [2 ** -14, 0x0400], // smallest normal
  [2 ** -24, 0x0001], // smallest subnormal
  [1023 * 2 ** -24, 0x03ff], // largest subnormal
  [0.333251953125, 0x3555], // 1/3 rounded
  [Number.POSITIVE_INFINITY, 0x7c00],
  [Number.NEGATIVE_INFINITY, 0xfc00],
];

describe('float16', () => {
  it('encodes and decodes known bit patterns', () => {
    for (const [value, bits] of KNOWN) {
      expect(toFloat16Bits(value), `${value}`).toBe(bits);
      expect(Object.is(fromFloat16Bits(bits), value), `${bits.toString(16)}`).toBe(true);
    }
  });

  it('rounds to nearest, ties to even', () => {
    // 1 + 2^-11 is halfway between 1 (0x3c00, even) and 1 + 2^-10 (0x3c01): rounds down to even
    expect(toFloat16Bits(1 + 2 ** -11)).toBe(0x3c00);
    // 1 + 3·2^-11 is halfway between 0x3c01 (odd) and 0x3c02: rounds up to even
    expect(toFloat16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02);
    // just above halfway rounds up
    expect(toFloat16Bits(1 + 2 ** -11 + 2 ** -20)).toBe(0x3c01);
    expect(toFloat16Bits(1 / 3)).toBe(0x3555);
    expect(toFloat16Bits(0.1)).toBe(0x2e66);
  });

  it('handles subnormals, underflow and overflow', () => {
    expect(toFloat16Bits(2 ** -25)).toBe(0x0000); // halfway to the smallest subnormal: ties to even (0)
    expect(toFloat16Bits(2 ** -25 * 1.0001)).toBe(0x0001);
    expect(toFloat16Bits(3 * 2 ** -25)).toBe(0x0002); // 1.5 units: ties to even (2)
    expect(toFloat16Bits(1e-10)).toBe(0x0000);
    expect(toFloat16Bits(-1e-10)).toBe(0x8000);
    expect(toFloat16Bits(65519)).toBe(0x7bff); // below the rounding boundary to Inf
    expect(toFloat16Bits(65520)).toBe(0x7c00); // rounds to Inf
    expect(toFloat16Bits(1e6)).toBe(0x7c00);
    // the largest subnormal rounds up into the smallest normal
    expect(toFloat16Bits(2 ** -14 - 2 ** -26)).toBe(0x0400);
  });

  it('keeps NaN', () => {
    expect(toFloat16Bits(Number.NaN) & 0x7c00).toBe(0x7c00);
    expect(toFloat16Bits(Number.NaN) & 0x3ff).not.toBe(0);
    expect(Number.isNaN(fromFloat16Bits(0x7e00))).toBe(true);
  });

  it('converts arrays both ways, and every half value round-trips exactly', () => {
    const all = new Uint16Array(65536).map((_, i) => i);
    const floats = float16ToFloat32(all);
    const back = float32ToFloat16(floats);
    for (let i = 0; i < 65536; i++) {
      if (Number.isNaN(floats[i]!)) continue;
      if (back[i] !== i) throw new Error(`bits ${i.toString(16)} → ${floats[i]} → ${back[i]!.toString(16)}`);
    }
    expect(Array.from(float32ToFloat16(new Float32Array([1, -2, 0.5])))).toEqual([0x3c00, 0xc000, 0x3800]);
  });

  it('converts a subarray view without touching the rest of the buffer', () => {
    const buf = new Float32Array([9, 1, 2, 9]);
    expect(Array.from(float32ToFloat16(buf.subarray(1, 3)))).toEqual([0x3c00, 0x4000]);
  });
});
