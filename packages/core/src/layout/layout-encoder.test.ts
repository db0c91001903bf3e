import { describe, expect, it } from 'vitest';
import { FakePooledPromptEncoder } from '../pipeline/gligen-test-fakes.js';
import { promptValue } from '../pipeline/test-fakes.js';
import { Tensor } from '../tensor.js';
import { checkGroundingRow, groundingBatch } from './grounding-batch.js';
import { LayoutEncoder } from './layout-encoder.js';
import { groundedCalls } from './scheduled-sampling.js';

const spec = { maxObjects: 5, embeddingDim: 3 };
const fl = Math.fround;

describe('LayoutEncoder', () => {
  it('encodes { phrase, box }[]: pooled phrase rows, boxes as float32 of the numbers given, masks, zero-padded', async () => {
    const encoder = new FakePooledPromptEncoder(3);
    const row = await new LayoutEncoder(encoder, spec).encode([
      { phrase: 'a red circle', box: [0.1, 0.2, 0.3, 0.4] },
      { phrase: 'a blue square', box: [0.5, 0.6, 0.7, 0.8] },
    ]);
    expect(encoder.pooledCalls).toEqual([['a red circle', 'a blue square']]);
    expect(row.boxes.shape).toEqual([1, 5, 4]);
    expect(Array.from(row.boxes.data)).toEqual(
      [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8].map(fl).concat(Array(12).fill(0)),
    );
    expect(Array.from(row.masks.data)).toEqual([1, 1, 0, 0, 0]);
    expect(row.positiveEmbeddings.shape).toEqual([1, 5, 3]);
    const v = (p: string, j: number) => fl(promptValue(p) + 0.01 * j);
    expect(Array.from(row.positiveEmbeddings.data)).toEqual([
      v('a red circle', 0),
      v('a red circle', 1),
      v('a red circle', 2),
      v('a blue square', 0),
      v('a blue square', 1),
      v('a blue square', 2),
      ...Array(9).fill(0),
    ]);
  });

  it('the three forms give the same row; precomputed embeddings need no prompt encoder', async () => {
    const encoder = new FakePooledPromptEncoder(3);
    const objects = [
      { phrase: 'x', box: [0, 0, 0.5, 0.5] as [number, number, number, number] },
      { phrase: 'y', box: [0.5, 0.5, 1, 1] as [number, number, number, number] },
    ];
    const a = await new LayoutEncoder(encoder, spec).encode(objects);
    const b = await new LayoutEncoder(encoder, spec).encode({
      phrases: objects.map((o) => o.phrase),
      boxes: objects.map((o) => o.box),
    });
    const embeds = await encoder.encodePooled(['x', 'y']);
    const c = await new LayoutEncoder(undefined, spec).encode({
      phraseEmbeds: embeds,
      boxes: objects.map((o) => o.box),
    });
    for (const other of [b, c]) {
      expect(Array.from(other.boxes.data)).toEqual(Array.from(a.boxes.data));
      expect(Array.from(other.positiveEmbeddings.data)).toEqual(Array.from(a.positiveEmbeddings.data));
      expect(Array.from(other.masks.data)).toEqual(Array.from(a.masks.data));
    }
  });

  it('exactly maxObjects objects fill every slot', async () => {
    const objects = Array.from({ length: 5 }, (_, i) => ({
      phrase: `o${i}`,
      box: [i / 10, 0, i / 10 + 0.1, 0.5] as [number, number, number, number],
    }));
    const row = await new LayoutEncoder(new FakePooledPromptEncoder(3), spec).encode(objects);
    expect(Array.from(row.masks.data)).toEqual([1, 1, 1, 1, 1]);
  });

  it('does not reorder, normalise or clamp the boxes (diffusers passes them as given)', async () => {
    const boxes: [number, number, number, number][] = [
      [0.6, 0.6, 0.9, 0.9],
      [0, 0, 1, 1],
    ];
    const row = await new LayoutEncoder(new FakePooledPromptEncoder(3), spec).encode({
      phrases: ['b', 'a'],
      boxes,
    });
    expect(Array.from(row.boxes.data.subarray(0, 8))).toEqual(boxes.flat().map(fl));
  });
});

describe('groundingBatch', () => {
  const row = {
    boxes: new Tensor(Float32Array.from([0.1, 0.2, 0.3, 0.4, 0, 0, 0, 0]), [1, 2, 4]),
    positiveEmbeddings: new Tensor(Float32Array.from([1, 2, 3, 0, 0, 0]), [1, 2, 3]),
    masks: new Tensor(Float32Array.from([1, 0]), [1, 2]),
  };

  it('repeats the row for every prompt × image', () => {
    const b = groundingBatch(row, 3, false);
    expect(b.boxes.shape).toEqual([3, 2, 4]);
    expect(b.positiveEmbeddings.shape).toEqual([3, 2, 3]);
    expect(Array.from(b.masks.data)).toEqual([1, 0, 1, 0, 1, 0]);
  });

  it('under CFG: [uncond; cond], the uncond half keeps boxes and embeddings but has masks 0', () => {
    const b = groundingBatch(row, 2, true);
    expect(b.boxes.shape).toEqual([4, 2, 4]);
    expect(Array.from(b.masks.data)).toEqual([0, 0, 0, 0, 1, 0, 1, 0]);
    expect(Array.from(b.boxes.data.subarray(0, 8))).toEqual(Array.from(row.boxes.data));
    expect(Array.from(b.positiveEmbeddings.data.subarray(0, 6))).toEqual([1, 2, 3, 0, 0, 0]);
    expect(Array.from(b.positiveEmbeddings.data.subarray(18, 24))).toEqual([1, 2, 3, 0, 0, 0]);
  });

  it('checkGroundingRow accepts a row of the spec’s shapes', () => {
    expect(checkGroundingRow(row, { maxObjects: 2, embeddingDim: 3 })).toBe(row);
  });
});

describe('groundedCalls', () => {
  it('is trunc(beta · timestep entries), as Python int()', () => {
    expect(groundedCalls(0.3, 10)).toBe(3);
    expect(groundedCalls(0.3, 11)).toBe(3);
    expect(groundedCalls(0.3, 19)).toBe(5);
    expect(groundedCalls(0.29, 100)).toBe(28);
    expect(groundedCalls(0, 50)).toBe(0);
    expect(groundedCalls(1, 50)).toBe(50);
  });
});
