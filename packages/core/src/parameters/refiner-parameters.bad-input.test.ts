import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../errors.js';
import type { GenerationParameters } from './infotext.js';
import { type RefinerInfo, refinerGenerationParameters } from './refiner-parameters.js';

const base: GenerationParameters = {
  prompt: 'a lion',
  steps: 40,
  sampler: 'Euler',
  cfgScale: 5,
  seed: 1,
  width: 1024,
  height: 1024,
};

describe('refinerGenerationParameters: bad refiner info', () => {
  it.each<[string, unknown, RegExp]>([
    [
      'an empty name',
      { name: '', switchAt: 0.8 },
      /refiner\.name = "" is invalid: expected a non-empty string/,
    ],
    ['a name of spaces', { name: '  ', switchAt: 0.8 }, /refiner\.name = " {2}" is invalid/],
    ['no name', { switchAt: 0.8 }, /refiner\.name = undefined is invalid/],
    [
      'switchAt 0',
      { name: 'r', switchAt: 0 },
      /refiner\.switchAt = 0 is invalid: expected a number in \(0, 1\)/,
    ],
    ['switchAt 1', { name: 'r', switchAt: 1 }, /refiner\.switchAt = 1 is invalid/],
    ['switchAt NaN', { name: 'r', switchAt: Number.NaN }, /refiner\.switchAt = NaN is invalid/],
    ['switchAt as a string', { name: 'r', switchAt: '0.8' }, /refiner\.switchAt = "0\.8" is invalid/],
    ['no refiner info', undefined, /refiner\.name = undefined is invalid/],
  ])('%s', (_, refiner, message) => {
    const call = () => refinerGenerationParameters(base, base, refiner as RefinerInfo);
    expect(call).toThrow(InvalidArgumentError);
    expect(call).toThrow(message);
  });
});
