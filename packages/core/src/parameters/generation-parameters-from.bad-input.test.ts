import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../errors.js';
import type { ResolvedParameters } from '../pipeline/generate-options.js';
import { generationParametersFrom } from './generation-parameters-from.js';

// Bad inputs of generationParametersFrom: what a user may pass instead of a generate() result's
// `parameters`, and image indexes the call did not make.

const resolved: ResolvedParameters = {
  mode: 'txt2img',
  width: 32,
  height: 32,
  numInferenceSteps: 2,
  guidanceScale: 5,
  guidanceRescale: 0,
  eta: 0,
  scheduler: 'DDIMScheduler',
  schedulerConfig: {},
  images: [
    { prompt: 'a', seed: 1, batchIndex: 0 },
    { prompt: 'b', seed: 2, batchIndex: 0 },
  ],
};

describe('generationParametersFrom: bad inputs', () => {
  it.each([
    ['an empty object', {}],
    ['null', null],
    ['undefined', undefined],
    ['the images instead', [{ width: 1 }]],
    ['the whole result (images are RgbaImages, parameters inside)', { images: undefined, parameters: {} }],
    ['a string', 'Steps: 20'],
  ])('parameters: %s', (_what, value) => {
    expect(() => generationParametersFrom(value as unknown as ResolvedParameters)).toThrow(
      InvalidArgumentError,
    );
    expect(() => generationParametersFrom(value as unknown as ResolvedParameters)).toThrow(
      /parameters = .* is invalid: expected the `parameters` of a generate\(\) result\. Fix: pass result\.parameters/,
    );
  });

  it.each([-1, 2, 0.5, Number.NaN, Number.POSITIVE_INFINITY, '0'])('imageIndex %s', (imageIndex) => {
    expect(() => generationParametersFrom(resolved, { imageIndex: imageIndex as number })).toThrow(
      /imageIndex = .* is invalid: expected an integer in \[0, 1\] \(the call made 2 image\(s\)\)/,
    );
  });
});
