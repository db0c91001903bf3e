import { describe, expect, it } from 'vitest';
import { TorchGenerator } from '../random/torch-generator.js';
import { GeneratorList } from './generator-list.js';

describe('GeneratorList (randn_tensor with a list of generators)', () => {
  it('item i of each draw comes from generator i, and each generator keeps its state', () => {
    const list = new GeneratorList([new TorchGenerator(1), new TorchGenerator(2)]);
    const a = list.randn([2, 3]);
    const b = list.randn([2, 3]);
    const g1 = new TorchGenerator(1);
    const g2 = new TorchGenerator(2);
    expect(Array.from(a.data)).toEqual([...g1.randn([1, 3]).data, ...g2.randn([1, 3]).data]);
    expect(Array.from(b.data)).toEqual([...g1.randn([1, 3]).data, ...g2.randn([1, 3]).data]);
  });
  it('rejects a draw whose batch is not the number of generators', () => {
    const list = new GeneratorList([new TorchGenerator(1), new TorchGenerator(2)]);
    expect(() => list.rand([3, 1])).toThrow(/number of generators \(2\)/);
  });
});
