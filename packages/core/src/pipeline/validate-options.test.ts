import { describe, expect, it } from 'vitest';
import { LatentkitError } from '../errors.js';
import { TorchGenerator } from '../random/torch-generator.js';
import { Tensor } from '../tensor.js';
import type { GenerateOptions } from './generate-options.js';
import { StableDiffusionPipeline } from './stable-diffusion-pipeline.js';
import {
  constantConditioning,
  FakeCodec,
  FakeDenoiser,
  FakePromptEncoder,
  FakeScheduler,
  testImage,
} from './test-fakes.js';

function pipeline(options: { encoder?: boolean; inChannels?: number } = {}) {
  const denoiser = new FakeDenoiser({ inChannels: options.inChannels ?? 4 });
  const codec = new FakeCodec();
  const pipe = new StableDiffusionPipeline({
    ...(options.encoder === false ? {} : { promptEncoder: new FakePromptEncoder() }),
    denoiser,
    codec,
    scheduler: new FakeScheduler(),
  });
  return { pipe, denoiser, codec };
}

const base: GenerateOptions = { prompt: 'a cat', width: 16, height: 16, numInferenceSteps: 2 };

/** Rejects with a LatentkitError of `code` whose message contains every one of `mentions`; nothing ran. */
async function expectError(
  options: GenerateOptions,
  code: string,
  mentions: string[],
  setup: { encoder?: boolean; inChannels?: number } = {},
): Promise<void> {
  const { pipe, denoiser, codec } = pipeline(setup);
  const err = await pipe.generate(options).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(LatentkitError);
  expect((err as LatentkitError).code).toBe(code);
  for (const m of mentions) expect((err as Error).message).toContain(m);
  expect(denoiser.calls).toHaveLength(0);
  expect(codec.encodeCalls).toHaveLength(0);
}

const sd = (rows: number, tokens = 3, hidden = 4) =>
  constantConditioning(
    Array.from({ length: rows }, (_, i) => i + 1),
    tokens,
    hidden,
  );

describe('generate validation (before any work)', () => {
  it('width / height not multiples of the downscale, with the nearest valid sizes', async () => {
    await expectError({ ...base, width: 500 }, 'INVALID_ARGUMENT', [
      'width = 500',
      'multiple of 8',
      '496 or 504',
    ]);
    await expectError({ ...base, height: 20 }, 'INVALID_ARGUMENT', ['height = 20', '16 or 24']);
    await expectError({ ...base, width: 0 }, 'INVALID_ARGUMENT', ['width = 0']);
  });
  it('strength outside [0, 1], strength without image, strength leaving no step', async () => {
    const image = testImage();
    await expectError({ ...base, image, strength: 1.5 }, 'INVALID_ARGUMENT', ['strength = 1.5', '[0, 1]']);
    await expectError({ ...base, image, strength: -0.1 }, 'INVALID_ARGUMENT', ['strength = -0.1']);
    await expectError({ ...base, strength: 0.5 }, 'INVALID_ARGUMENT', ['strength = 0.5', 'pass image']);
    await expectError({ ...base, image, strength: 0.3, numInferenceSteps: 3 }, 'INVALID_ARGUMENT', [
      'strength = 0.3',
      'at least one of the 3 steps',
      'at least 0.333',
    ]);
  });
  it('numInferenceSteps < 1 or not an integer', async () => {
    await expectError({ ...base, numInferenceSteps: 0 }, 'INVALID_ARGUMENT', [
      'numInferenceSteps = 0',
      'integer ≥ 1',
    ]);
    await expectError({ ...base, numInferenceSteps: 2.5 }, 'INVALID_ARGUMENT', ['numInferenceSteps = 2.5']);
  });
  it('guidanceScale not finite, guidanceRescale outside [0, 1], numImagesPerPrompt < 1, bad outputType', async () => {
    await expectError({ ...base, guidanceScale: Number.NaN }, 'INVALID_ARGUMENT', [
      'guidanceScale = NaN',
      'finite',
    ]);
    await expectError({ ...base, guidanceRescale: 2 }, 'INVALID_ARGUMENT', ['guidanceRescale = 2']);
    await expectError({ ...base, numImagesPerPrompt: 0 }, 'INVALID_ARGUMENT', ['numImagesPerPrompt = 0']);
    await expectError({ ...base, outputType: 'pil' as 'image' }, 'INVALID_ARGUMENT', [
      'outputType = "pil"',
      "'latent'",
    ]);
  });
  it('prompt and promptEmbeds: neither, both, prompt without an encoder, guidance without negatives', async () => {
    await expectError({ width: 16, height: 16 }, 'INVALID_ARGUMENT', ['prompt = undefined', 'promptEmbeds']);
    await expectError({ ...base, promptEmbeds: sd(1) }, 'INVALID_ARGUMENT', ['prompt = "a cat"', 'not both']);
    await expectError(base, 'INVALID_ARGUMENT', ['prompt = "a cat"', 'promptEncoder'], { encoder: false });
    await expectError(
      { promptEmbeds: sd(1), width: 16, height: 16 },
      'INVALID_ARGUMENT',
      ['negativePromptEmbeds', 'guidanceScale'],
      {
        encoder: false,
      },
    );
    await expectError({ ...base, prompt: [] }, 'INVALID_ARGUMENT', ['prompt = []']);
    await expectError({ ...base, negativePrompt: 'x', negativePromptEmbeds: sd(1) }, 'INVALID_ARGUMENT', [
      'negativePrompt = "x"',
    ]);
  });
  it('negative vs positive conditioning: batch, token count, hidden size, prompt counts', async () => {
    const o = { width: 16, height: 16, numInferenceSteps: 1 };
    await expectError({ ...o, promptEmbeds: sd(2), negativePromptEmbeds: sd(1) }, 'SHAPE_MISMATCH', [
      'negativePromptEmbeds batch = 1',
      'expected 2',
    ]);
    await expectError({ ...o, promptEmbeds: sd(1, 77), negativePromptEmbeds: sd(1, 154) }, 'SHAPE_MISMATCH', [
      'token count = 154',
      '77',
    ]);
    await expectError(
      { ...o, promptEmbeds: sd(1, 3, 768), negativePromptEmbeds: sd(1, 3, 1024) },
      'SHAPE_MISMATCH',
      ['hidden size = 1024', '768'],
    );
    await expectError({ ...o, prompt: ['a', 'b'], negativePrompt: ['x'] }, 'INVALID_ARGUMENT', [
      'negativePrompt length = 1',
      'expected 2',
    ]);
    await expectError(
      { ...o, promptEmbeds: { encoderHiddenStates: Tensor.zeros([3, 4]) } },
      'SHAPE_MISMATCH',
      ['promptEmbeds.encoderHiddenStates = [3, 4]'],
    );
    const withPooled = { ...sd(1), textEmbeds: Tensor.zeros([1, 8]) };
    await expectError({ ...o, promptEmbeds: withPooled, negativePromptEmbeds: sd(1) }, 'SHAPE_MISMATCH', [
      'textEmbeds',
    ]);
  });
  it('generator list length, seed with generator', async () => {
    const g = () => new TorchGenerator(1);
    await expectError({ ...base, numImagesPerPrompt: 2, generator: [g()] }, 'INVALID_ARGUMENT', [
      'generator length = 1',
      '2 generators',
    ]);
    await expectError({ ...base, seed: 1, generator: g() }, 'INVALID_ARGUMENT', ['seed = 1', 'not both']);
  });
  it('latents of the wrong shape, latents with img2img', async () => {
    await expectError({ ...base, latents: Tensor.zeros([1, 4, 3, 2]) }, 'SHAPE_MISMATCH', [
      'latents = [1, 4, 3, 2]',
      '[1, 4, 2, 2]',
    ]);
    await expectError(
      { ...base, image: testImage(), latents: Tensor.zeros([1, 4, 2, 2]) },
      'INVALID_ARGUMENT',
      ['latents'],
    );
  });
  it('image: size not a multiple of the downscale, wrong shape, values outside [0, 1], size ≠ width×height', async () => {
    await expectError(
      { ...base, width: undefined, height: undefined, image: testImage(12) },
      'INVALID_ARGUMENT',
      ['image width = 12', '8 or 16'],
    );
    await expectError({ ...base, image: Tensor.zeros([1, 4, 16, 16]) }, 'SHAPE_MISMATCH', [
      'image = [1, 4, 16, 16]',
    ]);
    await expectError({ ...base, image: Tensor.full([1, 3, 16, 16], -1) }, 'INVALID_ARGUMENT', [
      'image values = [-1, -1]',
      '[0, 1]',
    ]);
    await expectError({ ...base, width: 32, image: testImage(16) }, 'SHAPE_MISMATCH', [
      'width×height = [32, 16]',
      '16×16',
    ]);
    await expectError({ ...base, image: testImage(16, 3), prompt: ['a', 'b'] }, 'SHAPE_MISMATCH', [
      'image batch = 3',
    ]);
  });
  it('mask: without image, size ≠ image size, RGBA mask of the wrong size', async () => {
    const mask = Tensor.zeros([1, 1, 16, 16]);
    await expectError({ ...base, maskImage: mask }, 'INVALID_ARGUMENT', ['maskImage', 'pass image']);
    await expectError(
      { ...base, image: testImage(), maskImage: Tensor.zeros([1, 1, 8, 16]) },
      'SHAPE_MISMATCH',
      ['maskImage size (width×height) = [16, 8]', '16×16'],
    );
    const rgba = { width: 8, height: 8, data: new Uint8ClampedArray(8 * 8 * 4) };
    await expectError({ ...base, image: testImage(), maskImage: rgba }, 'SHAPE_MISMATCH', ['maskImage size']);
  });
  it('denoiser channels: 9-channel without a mask, mask with neither 4 nor 9 channels', async () => {
    await expectError(base, 'INVALID_ARGUMENT', ['denoiser.inChannels = 9', 'maskImage'], { inChannels: 9 });
    const mask = Tensor.zeros([1, 1, 16, 16]);
    await expectError(
      { ...base, image: testImage(), maskImage: mask },
      'INVALID_ARGUMENT',
      ['denoiser.inChannels = 8', '4', '9'],
      {
        inChannels: 8,
      },
    );
  });
});

describe('generate validation of what the parts return', () => {
  it('fails clearly when the denoiser returns the wrong shape', async () => {
    const pipe = new StableDiffusionPipeline({
      promptEncoder: new FakePromptEncoder(),
      denoiser: { inChannels: 4, predict: async () => Tensor.zeros([1, 4, 2, 2]) },
      codec: new FakeCodec(),
      scheduler: new FakeScheduler(),
    });
    await expect(pipe.generate(base)).rejects.toMatchObject({
      code: 'SHAPE_MISMATCH',
      message: expect.stringContaining('denoiser.predict output = [1, 4, 2, 2]'),
    });
  });
  it('fails clearly when the prompt encoder returns the wrong batch', async () => {
    const pipe = new StableDiffusionPipeline({
      promptEncoder: { encode: async () => constantConditioning([1]) },
      denoiser: new FakeDenoiser(),
      codec: new FakeCodec(),
      scheduler: new FakeScheduler(),
    });
    await expect(pipe.generate(base)).rejects.toMatchObject({
      code: 'SHAPE_MISMATCH',
      message: expect.stringContaining('promptEncoder.encode output batch = 1'),
    });
  });
});
