/**
 * Bad inputs of hiresFix (one table row each): every one fails with a typed LatentkitError naming the
 * value, what was expected and the fix, before the first pass runs (no denoiser call).
 */
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError, type LatentkitError, LimitExceededError } from '../errors.js';
import { StableDiffusionPipeline } from '../pipeline/stable-diffusion-pipeline.js';
import { FakeCodec, FakeDenoiser, FakePromptEncoder, FakeScheduler } from '../pipeline/test-fakes.js';
import { Tensor } from '../tensor.js';
import { type HiresFixOptions, hiresFix, hiresGenerationParameters } from './index.js';
import { resizeLanczos } from './lanczos-resize.js';
import { upscaleLatentsBilinear } from './latent-upscale.js';

type ErrorClass = new (...args: never[]) => LatentkitError;

function pipeline() {
  const denoiser = new FakeDenoiser({ sampleSize: 2 });
  const pipe = new StableDiffusionPipeline({
    promptEncoder: new FakePromptEncoder(),
    denoiser,
    codec: new FakeCodec(),
    scheduler: new FakeScheduler(),
  });
  return { pipe, denoiser };
}

const ok: HiresFixOptions = { prompt: 'a', numInferenceSteps: 2, seed: 1 };

const cases: [string, Record<string, unknown>, ErrorClass, RegExp][] = [
  [
    'hiresScale below 1',
    { hiresScale: 0.5 },
    InvalidArgumentError,
    /hiresScale = 0\.5 is invalid: expected a finite number ≥ 1/,
  ],
  ['hiresScale NaN', { hiresScale: Number.NaN }, InvalidArgumentError, /hiresScale = NaN is invalid/],
  [
    'hiresScale Infinity',
    { hiresScale: Number.POSITIVE_INFINITY },
    InvalidArgumentError,
    /hiresScale = Infinity/,
  ],
  ['hiresScale as a string', { hiresScale: '2' }, InvalidArgumentError, /hiresScale = "2" is invalid/],
  [
    'hiresScale over the size limit',
    { hiresScale: 1000 },
    LimitExceededError,
    /hiresScale = 1000 .*limits\.maxImageSize.*Fix: use hiresScale 512 or less/,
  ],
  [
    'hiresStrength 0',
    { hiresStrength: 0 },
    InvalidArgumentError,
    /hiresStrength = 0 is invalid: expected a number in \(0, 1\]/,
  ],
  ['hiresStrength above 1', { hiresStrength: 1.5 }, InvalidArgumentError, /hiresStrength = 1\.5 is invalid/],
  [
    'hiresStrength negative',
    { hiresStrength: -0.2 },
    InvalidArgumentError,
    /hiresStrength = -0\.2 is invalid/,
  ],
  [
    'hiresStrength too small for the schedule',
    { hiresStrength: 0.001, hiresSteps: 10 },
    InvalidArgumentError,
    /hiresStrength = 0\.001 .*1000 training timesteps.*Fix: raise hiresStrength to at least 0\.01/,
  ],
  [
    'hiresSteps 0',
    { hiresSteps: 0 },
    InvalidArgumentError,
    /hiresSteps = 0 is invalid: expected an integer ≥ 1/,
  ],
  ['hiresSteps fractional', { hiresSteps: 2.5 }, InvalidArgumentError, /hiresSteps = 2\.5 is invalid/],
  [
    'hiresUpscaler unknown',
    { hiresUpscaler: 'bicubic' },
    InvalidArgumentError,
    /hiresUpscaler = "bicubic" is invalid: expected one of 'latent', 'pixel'/,
  ],
  [
    'hiresUpscaler as A1111 names it',
    { hiresUpscaler: 'Lanczos' },
    InvalidArgumentError,
    /did you mean 'pixel'\?/,
  ],
  ['hiresUpscaler capitalised', { hiresUpscaler: 'Latent' }, InvalidArgumentError, /did you mean 'latent'\?/],
  [
    'a misspelt key',
    { hires_scale: 2 },
    InvalidArgumentError,
    /key "hires_scale".*did you mean hiresScale\?/,
  ],
  [
    'strength instead of hiresStrength',
    { strength: 0.5 },
    InvalidArgumentError,
    /key "strength".*did you mean hiresStrength\?/,
  ],
  ['a generator', { generator: {} }, InvalidArgumentError, /key "generator".*Fix: pass seed instead/],
  [
    'an init image',
    { image: new Tensor(new Float32Array(3 * 16 * 16), [1, 3, 16, 16]) },
    InvalidArgumentError,
    /key "image".*hires fix is text-to-image/,
  ],
  [
    'latents',
    { latents: new Tensor(new Float32Array(16), [1, 4, 2, 2]) },
    InvalidArgumentError,
    /key "latents"/,
  ],
  ['a base width the model does not run', { width: 12 }, InvalidArgumentError, /width = 12/],
  ['a prompt of the wrong type', { prompt: 3 }, InvalidArgumentError, /prompt = 3/],
];

describe('hiresFix: bad inputs', () => {
  it.each(cases)('%s', async (_what, bad, errorClass, message) => {
    const { pipe, denoiser } = pipeline();
    const call = hiresFix(pipe, { ...ok, ...bad } as HiresFixOptions);
    await expect(call).rejects.toThrow(errorClass);
    await expect(hiresFix(pipe, { ...ok, ...bad } as HiresFixOptions)).rejects.toThrow(message);
    expect(denoiser.calls).toHaveLength(0);
  });

  it('a hires size over the pixel budget fails before the first pass', async () => {
    const { pipe, denoiser } = pipeline();
    pipe.limits = { ...pipe.limits, maxPixelsPerCall: 1000 };
    await expect(hiresFix(pipe, { ...ok, hiresScale: 2 })).rejects.toThrow(LimitExceededError);
    await expect(hiresFix(pipe, { ...ok, hiresScale: 2 })).rejects.toThrow(
      /pixels per call \(1 image\(s\) × 32 × 32\)/,
    );
    expect(denoiser.calls).toHaveLength(0);
  });

  it.each([
    ['no pipeline', undefined],
    ['the options first', { prompt: 'a' }],
  ])('pipe: %s', async (_what, pipe) => {
    await expect(hiresFix(pipe as unknown as StableDiffusionPipeline, ok)).rejects.toThrow(
      /pipe = .* is invalid: expected a StableDiffusionPipeline/,
    );
  });

  it('options: null', async () => {
    await expect(hiresFix(pipeline().pipe, null as unknown as HiresFixOptions)).rejects.toThrow(
      /options = null is invalid: expected an options object/,
    );
  });

  it('hiresGenerationParameters: the parameters of a plain generate() call', () => {
    expect(() =>
      hiresGenerationParameters({ images: [] } as unknown as Parameters<typeof hiresGenerationParameters>[0]),
    ).toThrow(
      /parameters = .* is invalid: expected the `parameters` of a hiresFix\(\) result.*use generationParametersFrom/,
    );
  });

  it.each([
    [
      'a 3-D tensor',
      () => upscaleLatentsBilinear(new Tensor(new Float32Array(4), [1, 2, 2]), 4, 4),
      /latents = \[1, 2, 2\] is invalid/,
    ],
    [
      'a zero height',
      () => upscaleLatentsBilinear(new Tensor(new Float32Array(4), [1, 1, 2, 2]), 0, 4),
      /height = 0 is invalid/,
    ],
    [
      'resizeLanczos of a non-image',
      () => resizeLanczos({} as never, 4, 4),
      /image = .* is invalid: expected an RgbaImage/,
    ],
    [
      'resizeLanczos to width 2.5',
      () => resizeLanczos({ width: 1, height: 1, data: new Uint8ClampedArray(4) }, 2.5, 4),
      /width = 2\.5 is invalid/,
    ],
  ])('%s', (_what, run, message) => {
    expect(run).toThrow(InvalidArgumentError);
    expect(run).toThrow(message);
  });
});
