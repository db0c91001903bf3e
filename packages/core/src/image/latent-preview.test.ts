import { describe, expect, it } from 'vitest';
import { FakeCodec } from '../pipeline/test-fakes.js';
import { Tensor } from '../tensor.js';
import { denormalizeImage } from './image-range.js';
import { approximateLatentsToRgb, decodeLatentsToRgb, SD1_LATENT_RGB_FACTORS } from './latent-preview.js';
import { tensorToRgba } from './rgba-image.js';

describe('approximateLatentsToRgb', () => {
  it('maps each latent pixel through the 4×3 matrix to [0, 255]', () => {
    // Two pixels: latents (1, 0, 0, 0) and (0.5, -1, 2, 0).
    const latents = new Tensor(new Float32Array([1, 0.5, 0, -1, 0, 2, 0, 0]), [1, 4, 1, 2]);
    const [image] = approximateLatentsToRgb(latents);
    expect(image!.width).toBe(2);
    expect(image!.height).toBe(1);
    const f = SD1_LATENT_RGB_FACTORS;
    const expected = (v: number[]) =>
      [0, 1, 2].map((c) => Math.round((v.reduce((s, x, ch) => s + x * f[ch]![c]!, 0) + 1) * 127.5));
    const p0 = expected([1, 0, 0, 0]); // (0.3512, 0.2297, 0.3227) → 172.3, 156.8, 168.6
    const p1 = expected([0.5, -1, 2, 0]);
    expect(Array.from(image!.data)).toEqual([...p0, 255, ...p1, 255]);
    expect(p0).toEqual([172, 157, 169]);
  });

  it('one image per batch item, with custom factors (any channel count)', () => {
    const latents = new Tensor(new Float32Array([1, -1]), [2, 1, 1, 1]);
    const images = approximateLatentsToRgb(latents, [[1, 0, -1]]);
    expect(images.map((i) => Array.from(i.data))).toEqual([
      [255, 128, 0, 255],
      [0, 128, 255, 255],
    ]);
  });

  it('refuses factors that do not match the latent channels', () => {
    const latents = new Tensor(new Float32Array(16), [1, 16, 1, 1]);
    expect(() => approximateLatentsToRgb(latents)).toThrow(/16 rows/);
  });
});

describe('decodeLatentsToRgb', () => {
  it('is the codec decode converted as the pipeline converts its result, at full size', async () => {
    const codec = new FakeCodec();
    const latents = new Tensor(
      Float32Array.from({ length: 2 * 4 * 2 * 2 }, (_, i) => Math.sin(i)),
      [2, 4, 2, 2],
    );
    const images = await decodeLatentsToRgb(codec, latents);
    expect(codec.decodeCalls).toEqual([latents]);
    const expected = tensorToRgba(denormalizeImage(await new FakeCodec().decode(latents)));
    expect(images).toEqual(expected);
    expect([images[0]!.width, images[0]!.height, images.length]).toEqual([16, 16, 2]);
  });
});
