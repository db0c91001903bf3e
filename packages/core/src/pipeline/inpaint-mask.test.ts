import { describe, expect, it } from 'vitest';
import { Tensor } from '../tensor.js';
import { binarizeMask, blendKnownLatents, maskedImage, resizeNearest, rgbaToMask } from './inpaint-mask.js';

describe('inpaint mask helpers', () => {
  it('rgbaToMask: PIL luminance (19595R + 38470G + 7471B + 32768) >> 16, over 255', () => {
    const data = new Uint8ClampedArray([255, 255, 255, 0, 255, 0, 0, 255, 0, 255, 0, 255, 0, 0, 255, 255]);
    const m = rgbaToMask({ width: 4, height: 1, data });
    expect(m.shape).toEqual([1, 1, 1, 4]);
    expect(Array.from(m.data)).toEqual([255 / 255, 76 / 255, 150 / 255, 29 / 255].map(Math.fround));
  });
  it('binarizeMask: < 0.5 → 0, ≥ 0.5 → 1', () => {
    const m = binarizeMask(new Tensor(Float32Array.from([0, 0.4999, 0.5, 1]), [1, 1, 2, 2]));
    expect(Array.from(m.data)).toEqual([0, 0, 1, 1]);
  });
  it('resizeNearest picks floor(dst · in/out): the top-left pixel of each 2×2 block', () => {
    const t = new Tensor(
      Float32Array.from({ length: 16 }, (_, i) => i),
      [1, 1, 4, 4],
    );
    expect(Array.from(resizeNearest(t, 2, 2).data)).toEqual([0, 2, 8, 10]);
    // Non-integer ratio 3 → 2: indices floor(0·1.5) = 0, floor(1·1.5) = 1.
    const u = new Tensor(
      Float32Array.from({ length: 9 }, (_, i) => i),
      [1, 1, 3, 3],
    );
    expect(Array.from(resizeNearest(u, 2, 2).data)).toEqual([0, 1, 3, 4]);
  });
  it('maskedImage blanks the repaint region in every channel', () => {
    const image = new Tensor(Float32Array.from([0.5, -0.5, 0.25, -0.25]), [1, 2, 1, 2]);
    const mask = new Tensor(Float32Array.from([1, 0]), [1, 1, 1, 2]);
    expect(Array.from(maskedImage(image, mask).data)).toEqual([0, -0.5, 0, -0.25]);
  });
  it('blendKnownLatents: (1 − m)·known + m·latents, mask broadcast over channels', () => {
    const known = new Tensor(Float32Array.from([1, 2, 3, 4]), [1, 2, 1, 2]);
    const latents = new Tensor(Float32Array.from([10, 20, 30, 40]), [1, 2, 1, 2]);
    const mask = new Tensor(Float32Array.from([1, 0]), [1, 1, 1, 2]);
    expect(Array.from(blendKnownLatents(known, latents, mask).data)).toEqual([10, 2, 30, 4]);
  });
});
