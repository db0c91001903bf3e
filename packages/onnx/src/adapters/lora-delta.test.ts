import { Tensor } from '@latentkit/core';
import { describe, expect, it } from 'vitest';
import { loraDelta, mergeDeltas } from './lora-delta.js';
import type { LoraLayer } from './lora-file.js';
import type { LoraTarget } from './lora-targets.js';

const layer = (down: Tensor, up: Tensor, alpha?: number): LoraLayer => ({
  component: 'unet',
  key: 'k.lora_down.weight',
  module: 'k',
  down,
  up,
  ...(alpha !== undefined ? { alpha } : {}),
});

// up [3, 2] = [[1, 2], [0, -1], [3, 1]], down [2, 2] = [[1, 0], [2, 5]]
// up · down = [[1+4, 0+10], [0-2, 0-5], [3+2, 0+5]] = [[5, 10], [-2, -5], [5, 5]]  (out 3, in 2)
const up = new Tensor(Float32Array.from([1, 2, 0, -1, 3, 1]), [3, 2]);
const down = new Tensor(Float32Array.from([1, 0, 2, 5]), [2, 2]);

describe('loraDelta', () => {
  it('linear [out, in]: (alpha / rank) · up · down', () => {
    const target: LoraTarget = { initializer: 'w', layout: 'linear', dims: [3, 2] };
    // alpha 1, rank 2 → factor 0.5
    expect([...loraDelta(layer(down, up, 1), target)]).toEqual([2.5, 5, -1, -2.5, 2.5, 2.5]);
  });

  it('no alpha: alpha = rank, factor 1', () => {
    const target: LoraTarget = { initializer: 'w', layout: 'linear', dims: [3, 2] };
    expect([...loraDelta(layer(down, up), target)]).toEqual([5, 10, -2, -5, 5, 5]);
  });

  it('matmul [in, out]: the transpose', () => {
    const target: LoraTarget = { initializer: 'w', layout: 'matmul', dims: [2, 3] };
    expect([...loraDelta(layer(down, up, 4), target)]).toEqual([10, -4, 10, 20, -10, 10]);
  });

  it('conv [out, in, kh, kw]: up [out, r, 1, 1] · down [r, in·kh·kw], reshaped', () => {
    // out 1, rank 1, in 2, 1×2 kernel: up [[2]], down [[[[1, 2]], [[3, 4]]]]
    const convUp = new Tensor(Float32Array.from([2]), [1, 1, 1, 1]);
    const convDown = new Tensor(Float32Array.from([1, 2, 3, 4]), [1, 2, 1, 2]);
    const target: LoraTarget = { initializer: 'w', layout: 'conv', dims: [1, 2, 1, 2] };
    expect([...loraDelta(layer(convDown, convUp), target)]).toEqual([2, 4, 6, 8]);
  });

  it('a 2-D LoRA on a 1×1 conv, and a 4-D [r, in, 1, 1] LoRA on a Linear, give the same values', () => {
    const asConv: LoraTarget = { initializer: 'w', layout: 'conv', dims: [3, 2, 1, 1] };
    const down4 = new Tensor(down.data, [2, 2, 1, 1]);
    const asLinear: LoraTarget = { initializer: 'w', layout: 'linear', dims: [3, 2] };
    expect([...loraDelta(layer(down, up), asConv)]).toEqual([5, 10, -2, -5, 5, 5]);
    expect([...loraDelta(layer(down4, new Tensor(up.data, [3, 2, 1, 1])), asLinear)]).toEqual([
      5, 10, -2, -5, 5, 5,
    ]);
  });
});

describe('mergeDeltas', () => {
  it('W + Σ scale · ΔW, without changing W', () => {
    const base = Float32Array.from([1, 2, 3]);
    const merged = mergeDeltas(base, [
      { delta: Float32Array.from([1, 0, -1]), scale: 0.5 },
      { delta: Float32Array.from([2, 2, 2]), scale: -1 },
    ]);
    expect([...merged]).toEqual([1 + 0.5 - 2, 2 - 2, 3 - 0.5 - 2]);
    expect([...base]).toEqual([1, 2, 3]);
  });

  it('no deltas, or scale 0: a copy of W', () => {
    const base = Float32Array.from([1, -2]);
    const a = mergeDeltas(base, []);
    const b = mergeDeltas(base, [{ delta: Float32Array.from([5, 5]), scale: 0 }]);
    expect([...a]).toEqual([1, -2]);
    expect([...b]).toEqual([1, -2]);
    expect(a).not.toBe(base);
  });
});
