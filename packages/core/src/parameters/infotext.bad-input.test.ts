import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../errors.js';
import { formatGenerationParameters, type GenerationParameters } from './infotext.js';

// Bad inputs of formatGenerationParameters: none writes `Steps: undefined` or `Seed: NaN` into a PNG.

const good: GenerationParameters = {
  prompt: 'a red circle',
  steps: 20,
  sampler: 'DDIM',
  cfgScale: 7.5,
  seed: 42,
  width: 64,
  height: 64,
};

describe('formatGenerationParameters: bad inputs', () => {
  it('formats the good parameters these cases start from', () => {
    expect(formatGenerationParameters(good)).toBe(
      'a red circle\nSteps: 20, Sampler: DDIM, CFG scale: 7.5, Seed: 42, Size: 64x64',
    );
  });

  it.each([
    ['parameters', null, /parameters = null is invalid: expected an object/],
    ['parameters.prompt', { ...good, prompt: undefined }, /parameters\.prompt = undefined is invalid/],
    ['parameters.negativePrompt', { ...good, negativePrompt: 3 }, /parameters\.negativePrompt = 3/],
    [
      'parameters.steps',
      { ...good, steps: 0 },
      /parameters\.steps = 0 is invalid: expected a positive integer/,
    ],
    ['parameters.steps', { ...good, steps: '20' }, /parameters\.steps = "20" is invalid/],
    [
      'parameters.sampler',
      { ...good, sampler: '' },
      /parameters\.sampler = "" is invalid: expected a non-empty/,
    ],
    ['parameters.cfgScale', { ...good, cfgScale: Number.NaN }, /parameters\.cfgScale = NaN is invalid/],
    ['parameters.seed', { ...good, seed: 1.5 }, /parameters\.seed = 1\.5 is invalid: expected an integer/],
    ['parameters.seed', { ...good, seed: undefined }, /parameters\.seed = undefined is invalid/],
    ['parameters.width', { ...good, width: -64 }, /parameters\.width = -64 is invalid: expected a positive/],
    ['parameters.height', { ...good, height: 64.5 }, /parameters\.height = 64\.5 is invalid/],
    [
      'parameters.denoisingStrength',
      { ...good, denoisingStrength: Number.POSITIVE_INFINITY },
      /parameters\.denoisingStrength = Infinity is invalid/,
    ],
  ])('%s: %j', (_name, params, message) => {
    expect(() => formatGenerationParameters(params as GenerationParameters)).toThrow(InvalidArgumentError);
    expect(() => formatGenerationParameters(params as GenerationParameters)).toThrow(message);
  });
});
