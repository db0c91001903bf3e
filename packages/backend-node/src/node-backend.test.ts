import { totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { ModelNotFoundError, maxPixelsForMemory, StableDiffusionPipeline } from '@latentkit/core';
import { describe, expect, it } from 'vitest';
import { nodeBackend, nodeDefaultLimits } from './node-backend.js';

const fixture = (name: string) =>
  fileURLToPath(new URL(`../../../tests/fixtures/models/${name}`, import.meta.url));

describe('nodeBackend', () => {
  it('loads through fromPretrained, generates, and dispose() releases every session', async () => {
    const warnings: string[] = [];
    const pipe = await StableDiffusionPipeline.fromPretrained(fixture('sd1'), {
      backend: nodeBackend,
      providers: ['cpu'],
      componentProviders: { vae_decoder: ['cpu'] },
      graphOptimizationLevel: 'basic',
      intraOpNumThreads: 1,
      onWarning: (m) => warnings.push(m),
    });
    const { images } = await pipe.generate({
      prompt: 'a cat',
      seed: 1,
      numInferenceSteps: 2,
      width: 32,
      height: 32,
    });
    expect(images).toHaveLength(1);
    expect([images[0]!.width, images[0]!.height]).toEqual([32, 32]);
    expect(warnings).toEqual([]);
    await pipe.dispose();
    // Released sessions cannot run any more.
    await expect(
      pipe.generate({ prompt: 'a cat', seed: 1, numInferenceSteps: 2, width: 32, height: 32 }),
    ).rejects.toThrow();
  });

  it('reports the provider of each component', async () => {
    const parts = await nodeBackend.load(fixture('sd1'), { providers: ['cpu'] });
    expect(parts.providers).toEqual({
      text_encoder: 'cpu',
      unet: 'cpu',
      vae_decoder: 'cpu',
      vae_encoder: 'cpu',
    });
    await parts.dispose();
    await parts.dispose(); // twice is fine
  });

  it('loads UNet weights from model.onnx_data beside the model', async () => {
    const parts = await nodeBackend.load(fixture('sd1-external'));
    const pipe = new StableDiffusionPipeline(parts);
    const { images } = await pipe.generate({
      prompt: 'a cat',
      seed: 3,
      numInferenceSteps: 2,
      width: 32,
      height: 32,
      outputType: 'tensor',
    });
    expect(images.shape).toEqual([1, 3, 32, 32]);
    expect(images.data.every(Number.isFinite)).toBe(true);
    await parts.dispose();
  });

  it('fails on a missing folder with ModelNotFoundError', async () => {
    await expect(nodeBackend.load(fixture('no-such-model'))).rejects.toThrow(ModelNotFoundError);
  });

  it('derives the pixel budget from the machine memory; limits given to fromPretrained override it', async () => {
    const GiB = 1024 ** 3;
    // half the memory at 16 KiB per pixel
    expect(nodeDefaultLimits(24 * GiB).maxPixelsPerCall).toBe(786_432);
    expect(nodeDefaultLimits(64 * GiB).maxPixelsPerCall).toBe(2_097_152);
    expect(nodeDefaultLimits(1 * GiB).maxPixelsPerCall).toBe(512 * 512); // never below one 512×512 image
    const pipe = await StableDiffusionPipeline.fromPretrained(fixture('sd1'), {
      backend: nodeBackend,
      limits: { maxImagesPerCall: 3 },
    });
    expect(pipe.limits).toEqual({
      maxImageSize: 8192,
      maxImagesPerCall: 3,
      maxPixelsPerCall: maxPixelsForMemory(totalmem()),
    });
    await expect(
      pipe.generate({ prompt: 'a', numImagesPerPrompt: 4, numInferenceSteps: 1, width: 32, height: 32 }),
    ).rejects.toMatchObject({ code: 'LIMIT_EXCEEDED', message: expect.stringContaining('at most 3 images') });
    await pipe.dispose();
  });
});
