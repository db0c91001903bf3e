import { describe, expect, it } from 'vitest';
import {
  InvalidArgumentError,
  LatentkitError,
  LimitExceededError,
  ModelMismatchError,
  NotImplementedError,
  ShapeMismatchError,
} from '../errors.js';
import type { Backend, LoadedPipelineParts } from '../interfaces/backend.js';
import { TorchGenerator } from '../random/torch-generator.js';
import { Tensor } from '../tensor.js';
import { type BadInputCase, thrownBy } from './bad-input-case.js';
import { StableDiffusionPipeline } from './stable-diffusion-pipeline.js';
import {
  StableDiffusionUpscalePipeline,
  type UpscalePipelineParts,
} from './stable-diffusion-upscale-pipeline.js';
import {
  constantConditioning,
  FakeDenoiser,
  FakePromptEncoder,
  FakeScheduler,
  testImage,
} from './test-fakes.js';
import type { UpscaleGenerateOptions } from './upscale-options.js';
import { FakeX4Codec, fakeUpscaler } from './upscale-test-fakes.js';

type Case = BadInputCase;

/** A generate() call on a fake upscaler with `options` over a valid 16×16 call. */
function upscale(options: Partial<Record<keyof UpscaleGenerateOptions | string, unknown>>, limits?: object) {
  return () => {
    const { pipe } = fakeUpscaler({}, { sizeMultiple: 4 });
    if (limits) pipe.limits = { ...pipe.limits, ...limits };
    return pipe.generate({
      prompt: 'a red circle',
      image: testImage(16),
      seed: 1,
      numInferenceSteps: 3,
      ...options,
    } as UpscaleGenerateOptions);
  };
}

function upscalerParts(overrides: Partial<UpscalePipelineParts> = {}): UpscalePipelineParts {
  return {
    denoiser: new FakeDenoiser({ inChannels: 7 }),
    codec: new FakeX4Codec(),
    scheduler: new FakeScheduler(),
    lowResScheduler: new FakeScheduler(),
    ...overrides,
  };
}

function backendOf(parts: Partial<LoadedPipelineParts>, disposed: string[] = []): Backend {
  return {
    name: 'fake',
    load: async () =>
      ({
        ...upscalerParts(),
        ...parts,
        dispose: async () => {
          disposed.push('disposed');
        },
      }) as LoadedPipelineParts,
  };
}

const nan = testImage(16);
nan.data[5] = Number.NaN;

const cases: Case[] = [
  {
    name: 'no image',
    run: upscale({ image: undefined }),
    error: InvalidArgumentError,
    message: /^image = undefined is invalid: expected the low-resolution image to upscale.*Fix: pass image/,
  },
  {
    name: 'image that is not a Tensor or RgbaImage',
    run: upscale({ image: 'small.png' }),
    error: InvalidArgumentError,
    message: /^image = "small.png" is invalid: expected a Tensor/,
  },
  {
    name: 'image with 4 channels',
    run: upscale({ image: Tensor.zeros([1, 4, 16, 16]) }),
    error: ShapeMismatchError,
    message: /^image = \[1, 4, 16, 16\] is invalid: expected shape \[batch, 3, height, width\]/,
  },
  {
    name: 'image holding NaN',
    run: upscale({ image: nan }),
    error: InvalidArgumentError,
    message: /^image\[0, 0, 0, 5\] = NaN is invalid: expected finite numbers only/,
  },
  {
    name: 'image in [-1, 1] instead of [0, 1]',
    run: upscale({ image: testImage(16).mul(2).sub(1) }),
    error: InvalidArgumentError,
    message:
      /^image values = \[-?[\d.]+, [\d.]+\] is invalid: expected values in \[0, 1\].*Fix: scale the image to \[0, 1\]/,
  },
  {
    name: 'image width 18 with a size multiple of 4',
    run: upscale({ image: new Tensor(new Float32Array(3 * 16 * 18), [1, 3, 16, 18]) }),
    error: InvalidArgumentError,
    message:
      /^image width = 18 is invalid: expected a multiple of 4 \(the denoiser's size multiple.*Fix: resize or crop the image to 16 or 20 pixels/,
  },
  {
    name: 'output size over limits.maxImageSize (a Tensor image)',
    run: upscale({}, { maxImageSize: 32 }),
    error: LimitExceededError,
    message:
      /^output width \(image width × 4\) = 64 is invalid: expected at most 32 pixels \(limits.maxImageSize\)/,
  },
  {
    name: 'output size over limits.maxImageSize (an RgbaImage, before conversion)',
    run: upscale(
      { image: { width: 4096, height: 16, data: new Uint8ClampedArray(4) } },
      { maxImageSize: 8192 },
    ),
    error: LimitExceededError,
    message: /^output width \(image width × 4\) = 16384 is invalid: expected at most 8192 pixels/,
  },
  {
    name: 'output pixels over limits.maxPixelsPerCall',
    run: upscale({ numImagesPerPrompt: 3 }, { maxPixelsPerCall: 64 * 64 * 2 }),
    error: LimitExceededError,
    message: /^pixels per call \(3 image\(s\) × 64 × 64\) = 12288 is invalid/,
  },
  {
    name: 'noiseLevel above maxNoiseLevel',
    run: upscale({ noiseLevel: 351 }),
    error: InvalidArgumentError,
    message: /^noiseLevel = 351 is invalid: expected an integer in \[0, 350\].*Fix: use e.g. 20/,
  },
  {
    name: 'negative noiseLevel',
    run: upscale({ noiseLevel: -1 }),
    error: InvalidArgumentError,
    message: /^noiseLevel = -1 is invalid: expected an integer in \[0, 350\]/,
  },
  {
    name: 'fractional noiseLevel',
    run: upscale({ noiseLevel: 20.5 }),
    error: InvalidArgumentError,
    message: /^noiseLevel = 20.5 is invalid/,
  },
  {
    name: 'noiseLevel as a string',
    run: upscale({ noiseLevel: '20' }),
    error: InvalidArgumentError,
    message: /^noiseLevel = "20" is invalid/,
  },
  {
    name: 'noiseLevel NaN',
    run: upscale({ noiseLevel: Number.NaN }),
    error: InvalidArgumentError,
    message: /^noiseLevel = NaN is invalid/,
  },
  {
    name: 'snake_case noise_level',
    run: upscale({ noise_level: 50 }),
    error: InvalidArgumentError,
    message: /key "noise_level" = 50 is invalid.*Fix: did you mean noiseLevel\?/,
  },
  {
    name: 'width (the output size follows the image)',
    run: upscale({ width: 512 }),
    error: InvalidArgumentError,
    message: /key "width" = 512 is invalid: expected one of the known options/,
  },
  {
    name: 'strength (an img2img option)',
    run: upscale({ strength: 0.5 }),
    error: InvalidArgumentError,
    message: /key "strength" = 0.5 is invalid/,
  },
  {
    name: 'guidanceRescale (not an upscaler option in diffusers)',
    run: upscale({ guidanceRescale: 0.7 }),
    error: InvalidArgumentError,
    message: /key "guidanceRescale" = 0.7 is invalid/,
  },
  {
    name: 'one image for two prompts',
    run: upscale({ prompt: ['a', 'b'] }),
    error: ShapeMismatchError,
    message: /^image batch = 1 is invalid: expected 2, one image per prompt.*Fix: pass one prompt per image/,
  },
  {
    name: 'latents of the output size instead of the low-res size',
    run: upscale({ latents: Tensor.zeros([1, 4, 64, 64]) }),
    error: ShapeMismatchError,
    message: /^latents = \[1, 4, 64, 64\] is invalid: expected shape \[1, 4, 16, 16\]/,
  },
  {
    name: 'latents holding Infinity',
    run: upscale({ latents: Tensor.full([1, 4, 16, 16], Number.POSITIVE_INFINITY) }),
    error: InvalidArgumentError,
    message: /^latents\[0, 0, 0, 0\] = Infinity is invalid: expected finite numbers only/,
  },
  {
    name: 'a generator list of the wrong length',
    run: upscale({ seed: undefined, numImagesPerPrompt: 2, generator: [new TorchGenerator(1)] }),
    error: InvalidArgumentError,
    message: /^generator length = 1 is invalid: expected 2 generators, one per image/,
  },
  {
    name: 'numInferenceSteps 0',
    run: upscale({ numInferenceSteps: 0 }),
    error: InvalidArgumentError,
    message: /^numInferenceSteps = 0 is invalid: expected an integer ≥ 1/,
  },
  {
    name: 'guidanceScale Infinity',
    run: upscale({ guidanceScale: Number.POSITIVE_INFINITY }),
    error: InvalidArgumentError,
    message: /^guidanceScale = Infinity is invalid/,
  },
  {
    name: 'guidance without negative conditioning or a prompt encoder',
    run: () =>
      new StableDiffusionUpscalePipeline(upscalerParts()).generate({
        promptEmbeds: constantConditioning([1]),
        image: testImage(16),
        guidanceScale: 9,
      }),
    error: InvalidArgumentError,
    message: /^negativePromptEmbeds = undefined is invalid/,
  },
  {
    name: 'a 4-channel (text-to-image) denoiser',
    run: () =>
      new StableDiffusionUpscalePipeline(upscalerParts({ denoiser: new FakeDenoiser() })).generate({
        promptEmbeds: constantConditioning([1]),
        image: testImage(16),
        guidanceScale: 1,
      }),
    error: InvalidArgumentError,
    message:
      /^denoiser.inChannels = 4 is invalid: expected 7: the codec's 4 latent channels \+ the 3 channels.*Fix: use an x4 upscaler UNet/,
  },
  {
    name: 'constructor without lowResScheduler',
    run: () => new StableDiffusionUpscalePipeline({ ...upscalerParts(), lowResScheduler: undefined! }),
    error: InvalidArgumentError,
    message:
      /^parts.lowResScheduler = undefined is invalid: expected a Scheduler with addNoise.*Fix: pass e.g. lowResScheduler: DDPMScheduler/,
  },
  {
    name: 'constructor without codec',
    run: () => new StableDiffusionUpscalePipeline({ ...upscalerParts(), codec: undefined! }),
    error: InvalidArgumentError,
    message: /^parts.codec = undefined is invalid: expected a LatentCodec.*lowResScheduler/,
  },
  {
    name: 'maxNoiseLevel beyond the low-res scheduler’s timesteps',
    run: () => new StableDiffusionUpscalePipeline(upscalerParts(), { maxNoiseLevel: 1000 }),
    error: InvalidArgumentError,
    message: /^maxNoiseLevel = 1000 is invalid: expected an integer in \[0, 999\]/,
  },
  {
    name: 'fractional maxNoiseLevel',
    run: () => new StableDiffusionUpscalePipeline(upscalerParts(), { maxNoiseLevel: 3.5 }),
    error: InvalidArgumentError,
    message: /^maxNoiseLevel = 3.5 is invalid/,
  },
  {
    name: 'an unknown config key',
    run: () =>
      new StableDiffusionUpscalePipeline(upscalerParts(), { max_noise_level: 350 } as unknown as object),
    error: InvalidArgumentError,
    message: /^config key "max_noise_level" = 350 is invalid: expected maxNoiseLevel/,
  },
  {
    name: 'fromPretrained of a model that is not an upscaler',
    run: () =>
      StableDiffusionUpscalePipeline.fromPretrained('./sd15', {
        backend: backendOf({ lowResScheduler: undefined }),
      }),
    error: ModelMismatchError,
    message:
      /^\.\/sd15 is not an x4 upscaler model.*Fix: load it with StableDiffusionPipeline.fromPretrained/,
  },
  {
    name: 'fromPretrained with an empty source',
    run: () => StableDiffusionUpscalePipeline.fromPretrained('', { backend: backendOf({}) }),
    error: InvalidArgumentError,
    message: /^source = "" is invalid.*StableDiffusionUpscalePipeline.fromPretrained\('\.\/model'/,
  },
  {
    name: 'img2img with a decode-only codec',
    run: () =>
      new StableDiffusionPipeline({
        promptEncoder: new FakePromptEncoder(),
        denoiser: new FakeDenoiser(),
        codec: new FakeX4Codec(),
        scheduler: new FakeScheduler(),
      }).generate({ prompt: 'a', image: testImage(16), seed: 1, numInferenceSteps: 3 }),
    error: NotImplementedError,
    message:
      /^The codec cannot encode images \(it has no encode\(\): a decode-only VAE.*Fix: load the model with its VAE encoder/,
  },
  {
    name: 'inpainting with a decode-only codec',
    run: () =>
      new StableDiffusionPipeline({
        promptEncoder: new FakePromptEncoder(),
        denoiser: new FakeDenoiser(),
        codec: new FakeX4Codec(),
        scheduler: new FakeScheduler(),
      }).generate({
        prompt: 'a',
        image: testImage(16),
        maskImage: Tensor.full([1, 1, 16, 16], 1),
        seed: 1,
      }),
    error: NotImplementedError,
    message: /^The codec cannot encode images/,
  },
];

describe('StableDiffusionUpscalePipeline: bad inputs', () => {
  it.each(cases)('$name → typed error naming the value and the fix', async ({ run, error, message }) => {
    const thrown = await thrownBy(run);
    expect(thrown).toBeInstanceOf(error);
    expect(thrown).toBeInstanceOf(LatentkitError);
    expect((thrown as Error).message).toMatch(message);
  });

  it('a model that is not an upscaler: fromPretrained releases what it loaded before it throws', async () => {
    const disposed: string[] = [];
    await expect(
      StableDiffusionUpscalePipeline.fromPretrained('./sd15', {
        backend: backendOf({ lowResScheduler: undefined }, disposed),
      }),
    ).rejects.toThrow(ModelMismatchError);
    expect(disposed).toEqual(['disposed']);
  });

  it('nothing is drawn, encoded or denoised when a call is refused', async () => {
    const { pipe, denoiser, promptEncoder, lowResScheduler } = fakeUpscaler();
    await expect(
      pipe.generate({ prompt: 'a', image: testImage(16), noiseLevel: 400, seed: 1 }),
    ).rejects.toThrow(InvalidArgumentError);
    expect(promptEncoder.calls).toHaveLength(0);
    expect(lowResScheduler.addNoiseCalls).toHaveLength(0);
    expect(denoiser.calls).toHaveLength(0);
  });
});
