import { describe, expect, it } from 'vitest';
import { TorchGenerator } from '../random/torch-generator.js';
import { Tensor } from '../tensor.js';
import { denormalizeImage, normalizeImage } from './image-range.js';

describe('denormalizeImage', () => {
  it('one pass gives bit for bit the tensor ops x·0.5 → +0.5 → clamp(0, 1), NaN kept', () => {
    const noise = new TorchGenerator(11).randn([1, 3, 32, 32]).mul(1.3);
    const data = Float32Array.from(noise.data);
    data.set([Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -1, 1, 1e-45, -1e-45], 0);
    const x = new Tensor(data, noise.shape);
    const chain = x.mul(0.5).add(0.5).clamp(0, 1);
    const out = denormalizeImage(x);
    expect(out.shape).toEqual([1, 3, 32, 32]);
    expect(Number.isNaN(out.data[0])).toBe(true);
    expect(Array.from(out.data.subarray(1, 5))).toEqual([1, 0, 0, 1]);
    expect(Buffer.from(out.data.buffer).equals(Buffer.from(chain.data.buffer))).toBe(true);
  });

  it('inverts normalizeImage on [0, 1]', () => {
    const x = new Tensor(Float32Array.from([0, 0.25, 0.5, 1]), [1, 1, 2, 2]);
    expect(Array.from(denormalizeImage(normalizeImage(x)).data)).toEqual([0, 0.25, 0.5, 1]);
  });
});
