import { describe, expect, it } from 'vitest';
import { TorchGenerator } from '../random/torch-generator.js';
import { Tensor } from '../tensor.js';
import { applyGuidance, rescaleNoiseCfg } from './classifier-free-guidance.js';

describe('applyGuidance', () => {
  it('u + g·(c − u) with uncond first, rounded per op', () => {
    const pred = new Tensor(Float32Array.from([1, 2, 3, 5]), [2, 2]);
    const { guided, cond } = applyGuidance(pred, 7.5);
    // u = [1, 2], c = [3, 5]: [1 + 7.5·2, 2 + 7.5·3]
    expect(Array.from(guided.data)).toEqual([16, 24.5]);
    expect(Array.from(cond.data)).toEqual([3, 5]);
  });
  it("one pass gives bit for bit the chain of tensor ops chunk → sub → mul → add (torch's per-op rounding)", () => {
    const pred = new TorchGenerator(7).randn([4, 4, 16, 16]);
    for (const g of [7.5, 1.3, 0.1, 12.34567]) {
      const [u, c] = pred.chunk(2) as [Tensor, Tensor];
      const chain = u.add(c.sub(u).mul(g));
      const { guided, cond } = applyGuidance(pred, g);
      expect(guided.shape).toEqual([2, 4, 16, 16]);
      expect(cond.shape).toEqual([2, 4, 16, 16]);
      expect(Buffer.from(guided.data.buffer).equals(Buffer.from(chain.data.buffer))).toBe(true);
      expect(Array.from(cond.data)).toEqual(Array.from(c.data));
    }
  });
  it('refuses an odd batch', () => {
    expect(() => applyGuidance(new Tensor(new Float32Array(3), [3, 1]), 7.5)).toThrow(
      /batch.*multiple of 2/s,
    );
  });
});

describe('rescaleNoiseCfg (diffusers rescale_noise_cfg)', () => {
  it('matches hand-computed numbers: unbiased std per item over all other dims', () => {
    // Item 0: cond [1,2,3,4] has std √(5/3) = 1.29099…; guided [2,4,6,8] has std 2.58198…; ratio 0.5, so the
    // rescaled guided is [1,2,3,4], and φ = 0.7 gives 0.7·[1,2,3,4] + 0.3·[2,4,6,8] = [1.3, 2.6, 3.9, 5.2].
    // Item 1: cond [0,0,0,3] (std 1.5), guided [1,1,1,4] (std 1.5): ratio 1, unchanged.
    const cond = new Tensor(Float32Array.from([1, 2, 3, 4, 0, 0, 0, 3]), [2, 1, 2, 2]);
    const guided = new Tensor(Float32Array.from([2, 4, 6, 8, 1, 1, 1, 4]), [2, 1, 2, 2]);
    const out = rescaleNoiseCfg(guided, cond, 0.7);
    const f = Math.fround;
    const mix = (r: number, g: number) => f(f(f(0.7) * r) + f(f(0.3) * g));
    expect(Array.from(out.data)).toEqual([mix(1, 2), mix(2, 4), mix(3, 6), mix(4, 8), 1, 1, 1, 4]);
    expect(out.data[0]).toBeCloseTo(1.3, 6);
    expect(out.data[3]).toBeCloseTo(5.2, 6);
  });
  it('φ = 0 returns the guided prediction; φ = 1 fully rescales', () => {
    const cond = new Tensor(Float32Array.from([1, 2, 3, 4]), [1, 4]);
    const guided = new Tensor(Float32Array.from([2, 4, 6, 8]), [1, 4]);
    expect(rescaleNoiseCfg(guided, cond, 0)).toBe(guided);
    expect(Array.from(rescaleNoiseCfg(guided, cond, 1).data)).toEqual([1, 2, 3, 4]);
  });
});
