import { InferenceFailedError, InvalidArgumentError, ShapeMismatchError, Tensor } from '@latentkit/core';
import { describe, expect, it } from 'vitest';
import { fromFloat16Bits } from './float16.js';
import { type FakeTensor, fakeFactory, fakeSession, memorySource } from './test-support/fake-session.js';
import { UnetDenoiser, unetSizeMultiple } from './unet-denoiser.js';

const request = { component: 'unet', modelPath: 'unet/model.onnx', source: memorySource({}) };

function unet(
  timestep: [string, (number | string)[]],
  floatType = 'float32',
  extra: [string, string, (number | string)[]][] = [],
) {
  return fakeSession(
    [
      ['sample', floatType, ['batch', 'channels', 'height', 'width']],
      ['timestep', timestep[0], timestep[1]],
      ['encoder_hidden_states', floatType, ['batch', 'sequence', 8]],
      ...extra,
    ],
    [['out_sample', floatType, ['batch', 4, 'height', 'width']]],
    // out = sample · 2, in the sample's element type
    (feeds) => {
      const s = feeds['sample']!;
      const data =
        s.data instanceof Float32Array
          ? s.data.map((v) => v * 2)
          : (s.data as Uint16Array).map((b) => (b === 0 ? 0 : b + 0x400)); // ×2 = exponent + 1
      return { out_sample: { type: s.type, data, dims: s.dims } as FakeTensor };
    },
  );
}

const input = (batch = 2, channels = 4) => ({
  sample: new Tensor(
    Float32Array.from({ length: batch * channels * 4 }, (_, i) => i / 10),
    [batch, channels, 2, 2],
  ),
  timestep: 999.7,
  conditioning: { encoderHiddenStates: Tensor.full([batch, 77, 8], 0.25) },
});

describe('UnetDenoiser', () => {
  it('feeds a float32 [B] timestep and returns out_sample', async () => {
    const session = unet(['float32', ['batch']]);
    const d = new UnetDenoiser(session, fakeFactory({}), { request });
    expect(d.inChannels).toBe(4);
    expect(d.crossAttentionDim).toBe(8);
    const out = await d.predict(input());
    const t = session.calls[0]!['timestep']!;
    expect(t.type).toBe('float32');
    expect(t.dims).toEqual([2]);
    expect(Array.from(t.data as Float32Array)).toEqual([Math.fround(999.7), Math.fround(999.7)]);
    expect(out.shape).toEqual([2, 4, 2, 2]);
    expect(out.data[3]).toBeCloseTo(0.6, 6);
  });

  it('feeds an int64 timestep truncated like numpy, and a scalar or [1] timestep when the model says so', async () => {
    const s64 = unet(['int64', ['batch']]);
    await new UnetDenoiser(s64, fakeFactory({}), { request }).predict(input());
    expect(Array.from(s64.calls[0]!['timestep']!.data as BigInt64Array)).toEqual([999n, 999n]);
    const scalar = unet(['float32', []]);
    await new UnetDenoiser(scalar, fakeFactory({}), { request }).predict(input());
    expect(scalar.calls[0]!['timestep']!.dims).toEqual([]);
    const one = unet(['float32', [1]]);
    await new UnetDenoiser(one, fakeFactory({}), { request }).predict(input());
    expect(one.calls[0]!['timestep']!.dims).toEqual([1]);
  });

  it('converts sample, hidden states and timestep to float16 for fp16 models and reads float16 outputs', async () => {
    const session = unet(['float16', ['batch']], 'float16');
    const d = new UnetDenoiser(session, fakeFactory({}), { request });
    const out = await d.predict({ ...input(), timestep: 500 });
    const feeds = session.calls[0]!;
    expect(feeds['sample']!.type).toBe('float16');
    expect(feeds['encoder_hidden_states']!.type).toBe('float16');
    expect(fromFloat16Bits((feeds['timestep']!.data as Uint16Array)[0]!)).toBe(500);
    expect(out.data[5]).toBeCloseTo(1.0, 2); // 0.5 in float16, doubled
  });

  it('checks channels and hidden size before running', async () => {
    const d = new UnetDenoiser(unet(['float32', ['batch']]), fakeFactory({}), { request, inChannels: 9 });
    await expect(d.predict(input())).rejects.toThrow(ShapeMismatchError);
    const d4 = new UnetDenoiser(unet(['float32', ['batch']]), fakeFactory({}), { request });
    await expect(
      d4.predict({ ...input(), conditioning: { encoderHiddenStates: Tensor.zeros([2, 77, 16]) } }),
    ).rejects.toThrow(/cross_attention_dim/);
  });

  it('requires timestepCond for LCM UNets', async () => {
    const s = unet(['float32', ['batch']], 'float32', [['timestep_cond', 'float32', ['batch', 256]]]);
    const d = new UnetDenoiser(s, fakeFactory({}), { request });
    await expect(d.predict(input())).rejects.toThrow(InvalidArgumentError);
    await d.predict({ ...input(), timestepCond: Tensor.zeros([2, 256]) });
    expect(s.calls[0]!['timestep_cond']!.dims).toEqual([2, 256]);
  });

  it('wraps runtime failures in InferenceFailedError naming the component and input shapes', async () => {
    const s = fakeSession(
      [
        ['sample', 'float32', ['batch', 4, 'h', 'w']],
        ['timestep', 'float32', ['batch']],
        ['encoder_hidden_states', 'float32', ['batch', 'seq', 8]],
      ],
      [['out_sample', 'float32', ['batch', 4, 'h', 'w']]],
      () => {
        throw new Error('out of memory');
      },
    );
    const err = await new UnetDenoiser(s, fakeFactory({}), { request })
      .predict(input())
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InferenceFailedError);
    expect(String(err)).toMatch(/unet.*sample: float32\[2, 4, 2, 2\].*out of memory/);
  });

  it('sizeMultiple: 2^(len(block_out_channels) − 1) from the config, checked before the session runs', async () => {
    expect(unetSizeMultiple({ block_out_channels: [320, 640, 1280, 1280] })).toBe(8); // SD 1.5
    expect(unetSizeMultiple({ block_out_channels: [32, 64] })).toBe(2); // the shipped model
    expect(unetSizeMultiple({ block_out_channels: [64] })).toBe(1);
    expect(unetSizeMultiple({})).toBeUndefined();
    expect(unetSizeMultiple(undefined)).toBeUndefined();
    const session = unet(['float32', ['batch']]);
    expect(new UnetDenoiser(session, fakeFactory({}), { request }).sizeMultiple).toBe(1);
    const d = new UnetDenoiser(session, fakeFactory({}), { request, sizeMultiple: 4 });
    expect(d.sizeMultiple).toBe(4);
    // latent 2×2 is not a multiple of 4
    await expect(d.predict(input())).rejects.toThrow(ShapeMismatchError);
    expect(session.calls).toHaveLength(0);
    await new UnetDenoiser(session, fakeFactory({}), { request, sizeMultiple: 2 }).predict(input());
    expect(session.calls).toHaveLength(1);
  });
});
