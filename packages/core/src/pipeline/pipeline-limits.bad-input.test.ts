import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../errors.js';
import { maxPixelsForMemory, resolvePipelineLimits } from './pipeline-limits.js';
import { StableDiffusionPipeline } from './stable-diffusion-pipeline.js';

describe('bad limits', () => {
  it.each([
    ['a string', 'big'],
    ['null', null],
  ])('limits that are %s', (_, limits) => {
    expect(() => resolvePipelineLimits(limits as never)).toThrow(InvalidArgumentError);
  });
  it.each([0, -1, 2.5, Number.NaN, '64'])('maxImagesPerCall %s', (value) => {
    expect(() => resolvePipelineLimits({ maxImagesPerCall: value as number })).toThrow(
      /limits\.maxImagesPerCall .*integer ≥ 1, or Infinity/,
    );
  });
  it.each([0, -1, Number.NaN, Infinity])('memory of %s bytes', (bytes) => {
    expect(() => maxPixelsForMemory(bytes)).toThrow(InvalidArgumentError);
  });
  it('a bad limit given to fromPretrained fails before the backend loads anything', async () => {
    let loads = 0;
    const backend = {
      name: 'counting',
      load: async () => {
        loads++;
        throw new Error('not reached');
      },
    };
    await expect(
      StableDiffusionPipeline.fromPretrained('x', { backend, limits: { maxImageSize: 0 } }),
    ).rejects.toThrow(/limits\.maxImageSize = 0/);
    expect(loads).toBe(0);
  });
});
