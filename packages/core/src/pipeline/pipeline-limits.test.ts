import { describe, expect, it } from 'vitest';
import {
  ACTIVATION_BYTES_PER_PIXEL,
  DEFAULT_PIPELINE_LIMITS,
  maxPixelsForMemory,
  resolvePipelineLimits,
} from './pipeline-limits.js';

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
});
