import { Tensor, TorchGenerator } from '@latentkit/core';
import { describe, expect, it } from 'vitest';
import { fakeFactory, fakeSession, memorySource } from './test-support/fake-session.js';
import { samplePosterior, VaeCodec } from './vae-codec.js';

const source = memorySource({});
const req = (component: string) => ({ component, modelPath: `${component}/model.onnx`, source });
const identity = (input: string, output: string, outChannels: number) =>
  fakeSession(
    [[input, 'float32', ['b', 'c', 'h', 'w']]],
    [[output, 'float32', ['b', outChannels, 'h', 'w']]],
    (f) => ({
      [output]: f[input]!,
    }),
  );

describe('VaeCodec', () => {
  it('decode divides by scaling_factor and adds shift_factor before the decoder', async () => {
    const decoder = identity('latent_sample', 'sample', 3);
    const codec = new VaeCodec(fakeFactory({}), {
      decoder: { session: decoder, request: req('vae_decoder') },
      scalingFactor: 0.5,
      shiftFactor: 0.25,
    });
    await codec.decode(new Tensor(new Float32Array([1, 2, 3, 4]), [1, 4, 1, 1]));
    expect(Array.from(decoder.calls[0]!['latent_sample']!.data as Float32Array)).toEqual([
      2.25, 4.25, 6.25, 8.25,
    ]);
  });

  it('encode scales latent_sample: (x − shift) · scaling_factor', async () => {
    const encoder = identity('sample', 'latent_sample', 3);
    const codec = new VaeCodec(fakeFactory({}), {
      decoder: { session: identity('latent_sample', 'sample', 3), request: req('vae_decoder') },
      encoder: { session: encoder, request: req('vae_encoder') },
      latentChannels: 3,
    });
    const out = await codec.encode(new Tensor(new Float32Array([1, -1, 0.5]), [1, 3, 1, 1]));
    expect(Array.from(out.data)).toEqual([1, -1, 0.5].map((v) => Math.fround(v * Math.fround(0.18215))));
  });

  it('samples latent_parameters as DiagonalGaussianDistribution.sample does', () => {
    // mean ‖ logvar for B = 2, C = 1, 1×2 pixels; logvar 100 is clamped to 20
    const params = new Tensor(new Float32Array([0.5, -1, 0, 100, 2, 3, -2, -40]), [2, 2, 1, 2]);
    const noise = new TorchGenerator(3).randn([2, 1, 1, 2]);
    const out = samplePosterior(params, new TorchGenerator(3));
    const std = [0, 20, -2, -30].map((lv) => Math.fround(Math.exp(Math.fround(0.5 * lv))));
    const mean = [0.5, -1, 2, 3];
    expect(out.shape).toEqual([2, 1, 1, 2]);
    out.data.forEach((v, i) => {
      expect(v).toBeCloseTo(Math.fround(mean[i]! + Math.fround(std[i]! * noise.data[i]!)), 5);
    });
    expect(Array.from(samplePosterior(params).data)).toEqual(mean);
  });

  it('without a VAE encoder, encode is a NotImplementedError naming the missing file', async () => {
    const codec = new VaeCodec(fakeFactory({}), {
      decoder: { session: identity('latent_sample', 'sample', 3), request: req('vae_decoder') },
    });
    expect(codec.canEncode).toBe(false);
    await expect(codec.encode(Tensor.zeros([1, 3, 8, 8]))).rejects.toThrow(/vae_encoder\/model\.onnx/);
  });
});
