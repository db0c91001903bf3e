/**
 * Issue 15 §3: hires fix on the real shipped model (onnxruntime-node): 32 px → 64 px in both modes,
 * finite output of the right size, the parameters A1111 writes, and the same images, bit for bit, as the
 * two generate() calls (and the upscale between them) made by hand.
 */
import { nodeBackend } from '@latentkit/backend-node';
import {
  denormalizeImage,
  formatGenerationParameters,
  type GenerateOptions,
  hiresFix,
  hiresGenerationParameters,
  hiresInferenceSteps,
  resizeLanczos,
  rgbaToTensor,
  StableDiffusionPipeline,
  type Tensor,
  upscaleLatentsBilinear,
} from '@latentkit/core';
import { shapesModelPath } from '@latentkit/model-shapes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let pipe: StableDiffusionPipeline;
beforeAll(async () => {
  pipe = await StableDiffusionPipeline.fromPretrained(shapesModelPath, { backend: nodeBackend });
});
afterAll(async () => {
  await pipe?.dispose();
});

const COMMON: Omit<GenerateOptions, 'outputType'> = {
  prompt: 'a red circle on a blue background',
  negativePrompt: 'blurry',
  numInferenceSteps: 10,
  guidanceScale: 5,
  seed: 7,
};
const HIRES = { hiresScale: 2, hiresStrength: 0.6, hiresSteps: 6 } as const;

/** The hires pass made by hand: the first pass, the upscale, img2img. */
async function byHand(upscaler: 'latent' | 'pixel'): Promise<Tensor> {
  let image: Tensor;
  if (upscaler === 'latent') {
    const { images: latents } = await pipe.generate({ ...COMMON, outputType: 'latent' });
    // The shipped model's VAE downscales 4×: 64 px ↔ 16 latent pixels.
    image = denormalizeImage(await pipe.codec.decode(upscaleLatentsBilinear(latents, 16, 16)));
  } else {
    const { images } = await pipe.generate({ ...COMMON });
    image = rgbaToTensor(images.map((img) => resizeLanczos(img, 64, 64)));
  }
  const { images } = await pipe.generate({
    ...COMMON,
    image,
    strength: HIRES.hiresStrength,
    numInferenceSteps: hiresInferenceSteps(HIRES.hiresSteps, HIRES.hiresStrength),
    outputType: 'tensor',
  });
  return images;
}

describe.each(['latent', 'pixel'] as const)('hiresFix on the shipped model, %s upscaler', (upscaler) => {
  it('makes a finite 64×64 image from the 32×32 pass, equal bit for bit to the calls made by hand', async () => {
    let hiresSteps = 0;
    const result = await hiresFix(pipe, {
      ...COMMON,
      ...HIRES,
      hiresUpscaler: upscaler,
      outputType: 'tensor',
      onStep: ({ pass }) => {
        if (pass === 'hires') hiresSteps++;
      },
    });
    const images = result.images;
    expect(images.shape).toEqual([1, 3, 64, 64]);
    expect(images.data.every(Number.isFinite)).toBe(true);
    expect(hiresSteps).toBe(6);
    const hand = await byHand(upscaler);
    expect(hand.shape).toEqual(images.shape);
    expect(Buffer.from(images.data.buffer).equals(Buffer.from(hand.data.buffer))).toBe(true);

    // The hires pass did change the upscaled image (it is img2img, not only a resize) but kept its layout.
    const base = await pipe.generate({ ...COMMON, outputType: 'tensor' });
    const up = rgbaToTensor(
      (await pipe.generate({ ...COMMON })).images.map((img) => resizeLanczos(img, 64, 64)),
    );
    let diff = 0;
    for (let i = 0; i < up.data.length; i++) diff += Math.abs(up.data[i]! - images.data[i]!);
    diff /= up.data.length;
    expect(base.images.shape).toEqual([1, 3, 32, 32]);
    expect(diff).toBeGreaterThan(0.001);
    expect(diff).toBeLessThan(0.25);

    const p = result.parameters;
    expect(p).toMatchObject({
      mode: 'txt2img',
      width: 32,
      height: 32,
      numInferenceSteps: 10,
      guidanceScale: 5,
      strength: 0.6,
      scheduler: 'DDIMScheduler',
      hires: { scale: 2, upscaler, steps: 6, strength: 0.6, numInferenceSteps: 10, width: 64, height: 64 },
      hiresPass: { mode: 'img2img', width: 64, height: 64, numInferenceSteps: 10, strength: 0.6 },
    });
    expect(p.images).toEqual([{ prompt: COMMON.prompt, negativePrompt: 'blurry', seed: 7, batchIndex: 0 }]);
    expect(formatGenerationParameters(hiresGenerationParameters(p, { model: 'shapes' }))).toBe(
      'a red circle on a blue background\nNegative prompt: blurry\n' +
        'Steps: 10, Sampler: DDIMScheduler, CFG scale: 5.0, Seed: 7, Size: 32x32, Model: shapes, ' +
        `Denoising strength: 0.6, Hires upscale: 2, Hires steps: 6, Hires upscaler: ${upscaler === 'latent' ? 'Latent' : 'Lanczos'}`,
    );
  });
});

describe('hiresFix sizes on the shipped model', () => {
  it('rounds the hires size to the sizes the model runs (multiples of 8 px) and batches images', async () => {
    const { images, parameters } = await hiresFix(pipe, {
      ...COMMON,
      numInferenceSteps: 4,
      numImagesPerPrompt: 2,
      hiresScale: 1.3,
      hiresSteps: 2,
    });
    // 32 × 1.3 = 41.6 → 40.
    expect(images.map((img) => [img.width, img.height])).toEqual([
      [40, 40],
      [40, 40],
    ]);
    expect(parameters.hires).toMatchObject({ width: 40, height: 40, scale: 1.3, strength: 0.7 });
    expect(parameters.images.map((i) => i.batchIndex)).toEqual([0, 1]);
  });
});
