import { describe, expect, it } from 'vitest';
import type { Backend } from '../interfaces/backend.js';
import {
  ACTIVATION_BYTES_PER_PIXEL,
  DEFAULT_PIPELINE_LIMITS,
  maxPixelsForMemory,
  mergePipelineLimits,
  resolvePipelineLimits,
} from './pipeline-limits.js';
import { StableDiffusionPipeline } from './stable-diffusion-pipeline.js';
import { FakeCodec, FakeDenoiser, FakePromptEncoder, FakeScheduler } from './test-fakes.js';

describe('pipeline limits', () => {
  it('defaults, partial overrides and Infinity', () => {
    expect(resolvePipelineLimits()).toEqual({
      maxImageSize: 8192,
      maxImagesPerCall: 64,
      maxPixelsPerCall: 1024 * 1024,
    });
    expect(resolvePipelineLimits({ maxImagesPerCall: 128 })).toEqual({
      ...DEFAULT_PIPELINE_LIMITS,
      maxImagesPerCall: 128,
    });
    expect(resolvePipelineLimits({ maxPixelsPerCall: Infinity }).maxPixelsPerCall).toBe(Infinity);
  });
  it('the pixel budget: half the memory at 16 KiB per pixel, at least one 512×512 image', () => {
    expect(ACTIVATION_BYTES_PER_PIXEL).toBe(16384);
    expect(maxPixelsForMemory(32 * 1024 ** 3)).toBe(DEFAULT_PIPELINE_LIMITS.maxPixelsPerCall);
    expect(maxPixelsForMemory(24 * 1024 ** 3)).toBe(786_432);
    expect(maxPixelsForMemory(1024 ** 3)).toBe(262_144);
  });
  it('merge: given limits over the base, undefined ignored, defaults for the rest', () => {
    expect(
      mergePipelineLimits({ maxPixelsPerCall: 5000 }, { maxImagesPerCall: 2, maxImageSize: undefined }),
    ).toEqual({
      maxImageSize: 8192,
      maxImagesPerCall: 2,
      maxPixelsPerCall: 5000,
    });
    expect(mergePipelineLimits(undefined, undefined)).toEqual(DEFAULT_PIPELINE_LIMITS);
  });
  it('fromPretrained: limits apply with any backend, over the limits the backend sets', async () => {
    const seen: object[] = [];
    const backend: Backend = {
      name: 'fake',
      load: async (_source, options) => {
        seen.push(options ?? {});
        return {
          promptEncoder: new FakePromptEncoder(),
          denoiser: new FakeDenoiser(),
          codec: new FakeCodec(),
          scheduler: new FakeScheduler(),
          limits: { maxPixelsPerCall: 4096, maxImagesPerCall: 8 },
        };
      },
    };
    const pipe = await StableDiffusionPipeline.fromPretrained('x', {
      backend,
      limits: { maxImagesPerCall: 2 },
    });
    expect(pipe.limits).toEqual({ maxImageSize: 8192, maxImagesPerCall: 2, maxPixelsPerCall: 4096 });
    expect(seen).toEqual([{ limits: { maxImagesPerCall: 2 } }]); // the backend is told too
    await expect(
      pipe.generate({ prompt: 'a', width: 16, height: 16, numInferenceSteps: 1, numImagesPerPrompt: 3 }),
    ).rejects.toMatchObject({ code: 'LIMIT_EXCEEDED' });
    const plain = await StableDiffusionPipeline.fromPretrained('x', { backend });
    expect(plain.limits.maxPixelsPerCall).toBe(4096);
  });
});
