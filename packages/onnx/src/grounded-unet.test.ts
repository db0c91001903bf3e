/**
 * The grounded (GLIGEN) UNet convention in UnetDenoiser, pinned down with a fake session that records its
 * feeds (the real fixture is tests/onnx-gligen-fixture.test.ts): grounding read from the graph, gligen fed
 * as given, zeros with the gate off when a call has none.
 */
import { ModelMismatchError, Tensor } from '@latentkit/core';
import { describe, expect, it } from 'vitest';
import { fakeFactory, fakeSession, memorySource } from './test-support/fake-session.js';
import { groundedUnet } from './test-support/grounded-session.js';
import { UnetDenoiser } from './unet-denoiser.js';

const request = { component: 'unet', modelPath: 'unet/model.onnx', source: memorySource({}) };
const D = 6; // the fake grounded UNet's phrase embedding width

const input = (batch = 2) => ({
  sample: Tensor.full([batch, 4, 2, 2], 0.5),
  timestep: 10,
  conditioning: { encoderHiddenStates: Tensor.full([batch, 77, 8], 0.25) },
});

function gligen(batch = 2, enabled = true) {
  const boxes = Tensor.zeros([batch, 30, 4]);
  boxes.data.set([0.1, 0.2, 0.5, 0.6]);
  const positiveEmbeddings = new Tensor(
    Float32Array.from({ length: batch * 30 * D }, (_, i) => i / 100),
    [batch, 30, D],
  );
  const masks = Tensor.zeros([batch, 30]);
  masks.data[0] = 1;
  return { boxes, positiveEmbeddings, masks, enabled };
}

describe('UnetDenoiser: grounded (GLIGEN) UNets', () => {
  it('a graph with the gligen inputs has grounding { maxObjects 30, embeddingDim from the graph }', () => {
    const d = new UnetDenoiser(groundedUnet(), fakeFactory({}), { request });
    expect(d.grounding).toEqual({ maxObjects: 30, embeddingDim: D });
  });

  it('a plain UNet has no grounding', () => {
    const plain = fakeSession(
      [
        ['sample', 'float32', ['batch', 4, 'h', 'w']],
        ['timestep', 'float32', ['batch']],
        ['encoder_hidden_states', 'float32', ['batch', 'seq', 8]],
      ],
      [['out_sample', 'float32', ['batch', 4, 'h', 'w']]],
      (feeds) => ({ out_sample: feeds['sample']! }),
    );
    expect(new UnetDenoiser(plain, fakeFactory({}), { request }).grounding).toBeUndefined();
  });

  it('symbolic slots and width: 30 slots, the width from crossAttentionDim (diffusers positive_len)', () => {
    const session = groundedUnet([
      ['gligen_boxes', 'float32', ['batch', 'objects', 4]],
      ['gligen_positive_embeddings', 'float32', ['batch', 'objects', 'dim']],
      ['gligen_masks', 'float32', ['batch', 'objects']],
      ['gligen_enabled', 'float32', [1]],
    ]);
    const d = new UnetDenoiser(session, fakeFactory({}), { request, crossAttentionDim: 8 });
    expect(d.grounding).toEqual({ maxObjects: 30, embeddingDim: 8 });
  });

  it('feeds gligen as given, with gligen_enabled 1 as a scalar', async () => {
    const session = groundedUnet();
    const d = new UnetDenoiser(session, fakeFactory({}), { request });
    const g = gligen();
    const out = await d.predict({ ...input(), gligen: g });
    expect(out.data[0]).toBe(1);
    const feeds = session.calls[0]!;
    expect(feeds['gligen_boxes']!.dims).toEqual([2, 30, 4]);
    expect(Array.from(feeds['gligen_boxes']!.data as Float32Array).slice(0, 4)).toEqual(
      Array.from(Float32Array.from([0.1, 0.2, 0.5, 0.6])),
    );
    expect(feeds['gligen_positive_embeddings']!.data).toEqual(g.positiveEmbeddings.data);
    expect(feeds['gligen_masks']!.dims).toEqual([2, 30]);
    expect(feeds['gligen_masks']!.data[0]).toBe(1);
    expect(feeds['gligen_enabled']!.dims).toEqual([]);
    expect(Array.from(feeds['gligen_enabled']!.data as Float32Array)).toEqual([1]);
  });

  it('enabled: false feeds the gate 0 (the grounding tensors still as given)', async () => {
    const session = groundedUnet();
    await new UnetDenoiser(session, fakeFactory({}), { request }).predict({
      ...input(),
      gligen: gligen(2, false),
    });
    expect(Array.from(session.calls[0]!['gligen_enabled']!.data as Float32Array)).toEqual([0]);
    expect(session.calls[0]!['gligen_masks']!.data[0]).toBe(1);
  });

  it('a call without gligen feeds zeros and the gate 0: the plain UNet (StableDiffusionPipeline)', async () => {
    const session = groundedUnet();
    await new UnetDenoiser(session, fakeFactory({}), { request }).predict(input(3));
    const feeds = session.calls[0]!;
    expect(feeds['gligen_boxes']!.dims).toEqual([3, 30, 4]);
    expect(feeds['gligen_positive_embeddings']!.dims).toEqual([3, 30, D]);
    expect(feeds['gligen_masks']!.dims).toEqual([3, 30]);
    for (const name of ['gligen_boxes', 'gligen_positive_embeddings', 'gligen_masks', 'gligen_enabled']) {
      expect((feeds[name]!.data as Float32Array).every((v) => v === 0)).toBe(true);
    }
  });

  it('a gate declared [1] gets a [1] tensor', async () => {
    const session = groundedUnet([
      ['gligen_boxes', 'float32', ['batch', 30, 4]],
      ['gligen_positive_embeddings', 'float32', ['batch', 30, D]],
      ['gligen_masks', 'float32', ['batch', 30]],
      ['gligen_enabled', 'float32', [1]],
    ]);
    await new UnetDenoiser(session, fakeFactory({}), { request }).predict({ ...input(), gligen: gligen() });
    expect(session.calls[0]!['gligen_enabled']!.dims).toEqual([1]);
  });

  it('float16 grounding inputs are converted at the session boundary', async () => {
    const session = groundedUnet([
      ['gligen_boxes', 'float16', ['batch', 30, 4]],
      ['gligen_positive_embeddings', 'float16', ['batch', 30, D]],
      ['gligen_masks', 'float16', ['batch', 30]],
      ['gligen_enabled', 'float16', []],
    ]);
    await new UnetDenoiser(session, fakeFactory({}), { request }).predict({ ...input(), gligen: gligen() });
    expect(session.calls[0]!['gligen_boxes']!.type).toBe('float16');
    expect(Array.from(session.calls[0]!['gligen_enabled']!.data as Uint16Array)).toEqual([0x3c00]); // 1.0
  });

  it('gligen given to a plain UNet is a ModelMismatchError, before the session runs', async () => {
    const plain = fakeSession(
      [
        ['sample', 'float32', ['batch', 4, 'h', 'w']],
        ['timestep', 'float32', ['batch']],
        ['encoder_hidden_states', 'float32', ['batch', 'seq', 8]],
      ],
      [['out_sample', 'float32', ['batch', 4, 'h', 'w']]],
      (feeds) => ({ out_sample: feeds['sample']! }),
    );
    const d = new UnetDenoiser(plain, fakeFactory({}), { request });
    await expect(d.predict({ ...input(), gligen: gligen() })).rejects.toThrow(ModelMismatchError);
    await expect(d.predict({ ...input(), gligen: gligen() })).rejects.toThrow(
      /not a grounded \(GLIGEN\) UNet.*Fix: load a GLIGEN model folder/,
    );
    expect(plain.calls).toHaveLength(0);
  });
});
