import { describe, expect, it } from 'vitest';
import { TiledLatentCodec } from '../codec/tiled-latent-codec.js';
import { InvalidArgumentError } from '../errors.js';
import { Tensor } from '../tensor.js';
import { StableDiffusionPipeline } from './stable-diffusion-pipeline.js';
import { FakeCodec, FakeDenoiser, FakePromptEncoder, FakeScheduler, testImage } from './test-fakes.js';
import { fakeUpscaler } from './upscale-test-fakes.js';

function sdPipeline() {
  const codec = new FakeCodec(true);
  const pipe = new StableDiffusionPipeline({
    promptEncoder: new FakePromptEncoder(),
    denoiser: new FakeDenoiser(),
    codec,
    scheduler: new FakeScheduler(true),
  });
  return { pipe, codec };
}

function maxAbsDiff(a: Tensor, b: Tensor): number {
  expect(a.shape).toEqual(b.shape);
  let m = 0;
  for (let i = 0; i < a.data.length; i++) m = Math.max(m, Math.abs(a.data[i]! - b.data[i]!));
  return m;
}

describe('enableVaeTiling / disableVaeTiling (diffusers enable_vae_tiling) on every pipeline', () => {
  it('swaps the codec for a TiledLatentCodec around the model codec, and back', () => {
    const { pipe, codec } = sdPipeline();
    expect(pipe.codec).toBe(codec);
    expect(pipe.vaeTiling).toBeUndefined();
    pipe.enableVaeTiling({ tileSampleSize: 64 });
    expect(pipe.codec).toBeInstanceOf(TiledLatentCodec);
    expect((pipe.codec as TiledLatentCodec).inner).toBe(codec);
    expect(pipe.vaeTiling).toMatchObject({ tileSampleSize: 64, tileLatentSize: 8, tileOverlapFactor: 0.25 });
    // Enabling again replaces the options; it never wraps a tiled codec in another.
    pipe.enableVaeTiling({ tileSampleSize: 128 });
    expect((pipe.codec as TiledLatentCodec).inner).toBe(codec);
    expect(pipe.vaeTiling?.tileSampleSize).toBe(128);
    pipe.disableVaeTiling();
    expect(pipe.codec).toBe(codec);
    expect(pipe.vaeTiling).toBeUndefined();
  });

  it('invalid options → InvalidArgumentError, and tiling stays as it was', () => {
    const { pipe } = sdPipeline();
    pipe.enableVaeTiling({ tileSampleSize: 64 });
    expect(() => pipe.enableVaeTiling({ tileOverlapFactor: 0.9 })).toThrow(InvalidArgumentError);
    expect(pipe.vaeTiling?.tileSampleSize).toBe(64);
  });

  it('StableDiffusionPipeline: an image smaller than a tile comes out bit-identical (txt2img and img2img)', async () => {
    const { pipe } = sdPipeline();
    const txt = {
      prompt: 'a',
      width: 32,
      height: 32,
      seed: 4,
      numInferenceSteps: 3,
      outputType: 'tensor',
    } as const;
    const img = {
      prompt: 'a',
      image: testImage(32),
      seed: 4,
      numInferenceSteps: 3,
      outputType: 'tensor',
    } as const;
    const plain = [(await pipe.generate(txt)).images, (await pipe.generate(img)).images];
    pipe.enableVaeTiling();
    const tiled = [(await pipe.generate(txt)).images, (await pipe.generate(img)).images];
    expect(Array.from(tiled[0]!.data)).toEqual(Array.from(plain[0]!.data));
    expect(Array.from(tiled[1]!.data)).toEqual(Array.from(plain[1]!.data));
  });

  it('StableDiffusionPipeline: tiles smaller than the image, with a decoder that sees one pixel, match untiled', async () => {
    const { pipe } = sdPipeline();
    const txt = {
      prompt: 'a',
      width: 128,
      height: 96,
      seed: 4,
      numInferenceSteps: 3,
      outputType: 'tensor',
    } as const;
    const plain = (await pipe.generate(txt)).images;
    pipe.enableVaeTiling({ tileSampleSize: 32 });
    const tiled = (await pipe.generate(txt)).images;
    // The fake decoder is per latent pixel (no receptive field), so the blended bands mix equal values.
    expect(maxAbsDiff(tiled, plain)).toBeLessThanOrEqual(1e-6);
  });

  it('StableDiffusionUpscalePipeline: bit-identical for an output smaller than a tile; ≤ 1e-6 with small tiles', async () => {
    const { pipe } = fakeUpscaler();
    const call = {
      prompt: 'a',
      image: testImage(16),
      seed: 2,
      numInferenceSteps: 3,
      outputType: 'tensor',
    } as const;
    const plain = (await pipe.generate(call)).images;
    expect(plain.shape).toEqual([1, 3, 64, 64]);
    pipe.enableVaeTiling();
    expect(Array.from((await pipe.generate(call)).images.data)).toEqual(Array.from(plain.data));
    pipe.enableVaeTiling({ tileSampleSize: 32 });
    expect(pipe.vaeTiling?.tileLatentSize).toBe(8);
    expect(maxAbsDiff((await pipe.generate(call)).images, plain)).toBeLessThanOrEqual(1e-6);
  });

  it('a decode-only codec wrapped in tiles still refuses img2img before any work (NOT_IMPLEMENTED)', async () => {
    const { pipe } = fakeUpscaler();
    const sd = new StableDiffusionPipeline({
      promptEncoder: new FakePromptEncoder(),
      denoiser: new FakeDenoiser(),
      codec: pipe.codec,
      scheduler: new FakeScheduler(),
    });
    sd.enableVaeTiling({ tileSampleSize: 32 });
    await expect(
      sd.generate({ prompt: 'a', image: Tensor.full([1, 3, 16, 16], 0.5), seed: 1 }),
    ).rejects.toThrow(/^The codec cannot encode images \(its canEncode is false/);
  });
});
