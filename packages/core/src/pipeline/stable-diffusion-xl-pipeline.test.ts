import { describe, expect, it, vi } from 'vitest';
import { ModelMismatchError } from '../errors.js';
import type { Backend, LoadedPipelineParts } from '../interfaces/backend.js';
import { TorchGenerator } from '../random/torch-generator.js';
import { Tensor } from '../tensor.js';
import { DiffusionPipeline, pipelineClassFor } from './diffusion-pipeline.js';
import { FakeSdxlPromptEncoder, FakeSdxlUnet, FakeSdxlVae } from './sdxl-test-fakes.js';
import { StableDiffusionGLIGENPipeline } from './stable-diffusion-gligen-pipeline.js';
import { StableDiffusionPipeline } from './stable-diffusion-pipeline.js';
import { StableDiffusionUpscalePipeline } from './stable-diffusion-upscale-pipeline.js';
import { StableDiffusionXLPipeline } from './stable-diffusion-xl-pipeline.js';
import { FakeCodec, FakeDenoiser, FakeScheduler, promptValue, testImage } from './test-fakes.js';

function setup(options: { refiner?: boolean; forceZeros?: boolean; inChannels?: number } = {}) {
  const promptEncoder = new FakeSdxlPromptEncoder();
  const denoiser = new FakeSdxlUnet(options.inChannels ?? 4, {
    timeIdCount: options.refiner ? 5 : 6,
    sampleSize: 4,
  });
  const codec = new FakeSdxlVae();
  const scheduler = new FakeScheduler();
  const pipe = new StableDiffusionXLPipeline(
    { promptEncoder, denoiser, codec, scheduler },
    {
      requiresAestheticsScore: options.refiner ?? false,
      forceZerosForEmptyPrompt: options.forceZeros ?? true,
    },
  );
  return { pipe, promptEncoder, denoiser, codec, scheduler };
}

/** Row b's first hidden value (first encoder) and last hidden value (second encoder). */
function hiddenRows(t: Tensor): [number, number][] {
  const row = t.size / t.shape[0]!;
  return Array.from({ length: t.shape[0]! }, (_, b) => [t.data[b * row]!, t.data[(b + 1) * row - 1]!]);
}
const pooledRows = (t: Tensor) => Array.from({ length: t.shape[0]! }, (_, b) => t.data[b * t.shape[1]!]!);
const v = (s: string) => Math.fround(promptValue(s));

describe('StableDiffusionXLPipeline: conditioning as diffusers` SDXL encode_prompt', () => {
  it('defaults: guidance 5, size sampleSize·downscale, zeros for the negative (force_zeros_for_empty_prompt)', async () => {
    const { pipe, promptEncoder, denoiser } = setup();
    const { images, parameters } = await pipe.generate({
      prompt: 'a cat',
      numInferenceSteps: 2,
      seed: 1,
      outputType: 'latent',
    });
    expect(images.shape).toEqual([1, 4, 4, 4]);
    expect(parameters.guidanceScale).toBe(5);
    expect(parameters.width).toBe(32);
    // Only the prompt is encoded; the negative rows are zeros, hidden states and pooled.
    expect(promptEncoder.calls.map((c) => c.prompts)).toEqual([['a cat']]);
    const c = denoiser.calls[0]!.conditioning;
    expect(hiddenRows(c.encoderHiddenStates)).toEqual([
      [0, 0],
      [v('a cat'), v('a cat')],
    ]);
    expect(pooledRows(c.textEmbeds!)).toEqual([0, v('a cat')]);
    expect(parameters.images[0]!.negativePrompt).toBeUndefined();
  });

  it('promptEmbeds alone under guidance need no prompt encoder: the negative is zeros (force_zeros_for_empty_prompt)', async () => {
    const pipe = new StableDiffusionXLPipeline({
      denoiser: new FakeSdxlUnet(),
      codec: new FakeSdxlVae(),
      scheduler: new FakeScheduler(),
    });
    const promptEmbeds = {
      encoderHiddenStates: new Tensor(new Float32Array(3 * 8).fill(0.5), [1, 3, 8]),
      textEmbeds: new Tensor(new Float32Array(4).fill(0.25), [1, 4]),
    };
    await pipe.generate({ promptEmbeds, width: 16, height: 16, numInferenceSteps: 1, seed: 1 });
    const c = (pipe.denoiser as FakeSdxlUnet).calls[0]!.conditioning;
    expect(hiddenRows(c.encoderHiddenStates)).toEqual([
      [0, 0],
      [0.5, 0.5],
    ]);
    expect(pooledRows(c.textEmbeds!)).toEqual([0, 0.25]);
    // Without force_zeros there is nothing to make the negative from.
    const off = new StableDiffusionXLPipeline(
      { denoiser: new FakeSdxlUnet(), codec: new FakeSdxlVae(), scheduler: new FakeScheduler() },
      { forceZerosForEmptyPrompt: false },
    );
    await expect(
      off.generate({ promptEmbeds, width: 16, height: 16, numInferenceSteps: 1, seed: 1 }),
    ).rejects.toThrow(
      /negativePromptEmbeds = undefined is invalid: expected negative conditioning for guidance/,
    );
  });

  it('forceZerosForEmptyPrompt false: encodes "" as diffusers; a negativePrompt is always encoded', async () => {
    const off = setup({ forceZeros: false });
    await off.pipe.generate({ prompt: 'a cat', numInferenceSteps: 1, seed: 1 });
    expect(off.promptEncoder.calls.map((c) => c.prompts)).toEqual([['', 'a cat']]);
    const on = setup();
    await on.pipe.generate({ prompt: 'a cat', negativePrompt: 'blur', numInferenceSteps: 1, seed: 1 });
    expect(on.promptEncoder.calls.map((c) => c.prompts)).toEqual([['blur', 'a cat']]);
    expect(pooledRows(on.denoiser.calls[0]!.conditioning.textEmbeds!)).toEqual([v('blur'), v('a cat')]);
  });

  it('negativePrompt2 without negativePrompt still gives zeros under force_zeros (diffusers checks negative_prompt only)', async () => {
    const { pipe, promptEncoder, denoiser } = setup();
    await pipe.generate({ prompt: 'a cat', negativePrompt2: 'ugly', numInferenceSteps: 1, seed: 1 });
    expect(promptEncoder.calls.map((c) => c.prompts)).toEqual([['a cat']]);
    expect(pooledRows(denoiser.calls[0]!.conditioning.textEmbeds!)).toEqual([0, v('a cat')]);
  });

  it('prompt2 / negativePrompt2 go to the second encoder; each defaults to its first-encoder text', async () => {
    const { pipe, promptEncoder, denoiser } = setup();
    const { parameters } = await pipe.generate({
      prompt: ['a cat', 'a dog'],
      prompt2: ['oil painting', 'a dog'],
      negativePrompt: 'blur',
      numInferenceSteps: 1,
      seed: 1,
    });
    expect(promptEncoder.calls).toEqual([
      {
        prompts: ['blur', 'blur', 'a cat', 'a dog'],
        options: { prompts2: ['blur', 'blur', 'oil painting', 'a dog'] },
      },
    ]);
    const c = denoiser.calls[0]!.conditioning;
    expect(hiddenRows(c.encoderHiddenStates)[2]).toEqual([v('a cat'), v('oil painting')]);
    expect(pooledRows(c.textEmbeds!)).toEqual([v('blur'), v('blur'), v('oil painting'), v('a dog')]);
    // Recorded only where it differs from the prompt.
    expect(parameters.images.map((i) => i.prompt2)).toEqual(['oil painting', undefined]);
  });

  it('clipSkip applies to the prompts only; the negative rows come from the batch encoded again without it (diffusers` quirk)', async () => {
    const { pipe, promptEncoder, denoiser } = setup();
    await pipe.generate({
      prompt: 'a cat',
      negativePrompt: 'blur',
      clipSkip: 2,
      numInferenceSteps: 1,
      seed: 1,
    });
    expect(promptEncoder.calls).toEqual([
      { prompts: ['blur', 'a cat'], options: { clipSkip: 2 } },
      { prompts: ['blur', 'a cat'], options: undefined },
    ]);
    const rows = hiddenRows(denoiser.calls[0]!.conditioning.encoderHiddenStates);
    expect(rows[0]![0]).toBe(v('blur'));
    expect(rows[1]![0]).toBe(Math.fround(v('a cat') + 0.002));
  });

  it('guidance ≤ 1 runs one row per image with the positive time ids; numImagesPerPrompt repeats rows in a row', async () => {
    const { pipe, denoiser } = setup();
    await pipe.generate({
      prompt: ['a', 'bb'],
      guidanceScale: 1,
      numImagesPerPrompt: 2,
      numInferenceSteps: 1,
      seed: 1,
    });
    const c = denoiser.calls[0]!.conditioning;
    expect(pooledRows(c.textEmbeds!)).toEqual([v('a'), v('a'), v('bb'), v('bb')]);
    expect(c.timeIds!.shape).toEqual([4, 6]);
    expect([...c.timeIds!.data.subarray(0, 6)]).toEqual([32, 32, 0, 0, 32, 32]);
  });
});

describe('StableDiffusionXLPipeline: img2img, inpainting, refiner', () => {
  it('img2img default strength 0.3 (diffusers` SDXL img2img): 3 of 10 steps', async () => {
    const { pipe, denoiser, scheduler } = setup();
    const { parameters } = await pipe.generate({
      prompt: 'a',
      image: testImage(32),
      numInferenceSteps: 10,
      seed: 1,
    });
    expect(denoiser.calls.map((c) => c.timestep)).toEqual([300, 200, 100]);
    expect(scheduler.beginIndex).toBe(7);
    expect(parameters.strength).toBe(0.3);
  });

  it('inpainting default strength 0.9999: 9 of 10 steps, starting from the noised image', async () => {
    const { pipe, denoiser, codec, scheduler } = setup({ inChannels: 9 });
    await pipe.generate({
      prompt: 'a',
      image: testImage(32),
      maskImage: new Tensor(new Float32Array(32 * 32).fill(1), [1, 1, 32, 32]),
      numInferenceSteps: 10,
      seed: 1,
    });
    expect(denoiser.calls).toHaveLength(9);
    expect(codec.encodeCalls).toHaveLength(2); // the image (strength < 1), then the masked image
    expect(scheduler.addNoiseCalls[0]!.timestep).toBe(900);
  });

  it('the refiner: 5 time ids with the aesthetic scores; latents as image are not encoded', async () => {
    const { pipe, denoiser, codec } = setup({ refiner: true });
    const latents = new Tensor(new Float32Array(4 * 4 * 4).fill(0.5), [1, 4, 4, 4]);
    const { parameters } = await pipe.generate({
      prompt: 'a',
      image: latents,
      aestheticScore: 7,
      negativeCropsCoordsTopLeft: [4, 8],
      denoisingStart: 0.75,
      numInferenceSteps: 8,
      seed: 1,
      outputType: 'latent',
    });
    expect(codec.encodeCalls).toHaveLength(0);
    const ids = denoiser.calls[0]!.conditioning.timeIds!;
    expect([...ids.data]).toEqual([32, 32, 4, 8, 2.5, 32, 32, 0, 0, 7]);
    // FakeScheduler: 800, 700, …, 100; cutoff 250 → 200, 100.
    expect(denoiser.calls.map((c) => c.timestep)).toEqual([200, 100]);
    expect(parameters.sdxl).toMatchObject({
      aestheticScore: 7,
      negativeAestheticScore: 2.5,
      denoisingStart: 0.75,
    });
    expect(parameters.strength).toBeUndefined(); // ignored with denoisingStart, as diffusers
  });

  it('inpainting with denoisingStart starts from the image latents unnoised but still draws the noise (diffusers)', async () => {
    const { pipe, codec, scheduler } = setup({ inChannels: 9 });
    const draws: number[][] = [];
    const inner = new TorchGenerator(3);
    const generator = {
      randn: (shape: readonly number[]) => {
        draws.push([...shape]);
        return inner.randn(shape);
      },
      rand: (shape: readonly number[]) => {
        draws.push([...shape]);
        return inner.rand(shape);
      },
    };
    await pipe.generate({
      prompt: 'a',
      image: testImage(32),
      maskImage: new Tensor(new Float32Array(32 * 32).fill(1), [1, 1, 32, 32]),
      denoisingStart: 0.5,
      numInferenceSteps: 10,
      generator,
      outputType: 'latent',
    });
    // encode(image) draws, the noise is drawn, encode(masked image) draws: three draws, no addNoise.
    expect(draws).toEqual([
      [1, 4, 4, 4],
      [1, 4, 4, 4],
      [1, 4, 4, 4],
    ]);
    expect(codec.encodeCalls).toHaveLength(2);
    expect(scheduler.addNoiseCalls).toHaveLength(0);
    expect([...scheduler.stepCalls[0]!.sample.data]).toEqual([
      ...(await new FakeSdxlVae().encode(codec.encodeCalls[0]!.input, { generator: new TorchGenerator(3) }))
        .data,
    ]);
    // FakeScheduler 1000…100; cutoff 500 → 400, 300, 200, 100.
    expect(scheduler.stepCalls.map((c) => c.timestep)).toEqual([400, 300, 200, 100]);
    expect(scheduler.beginIndex).toBe(6);
  });

  it('4-channel inpainting with latents as image blends the known latents back (no VAE encode)', async () => {
    const { pipe, codec, scheduler } = setup();
    const latents = new Tensor(new Float32Array(4 * 4 * 4).fill(0.25), [1, 4, 4, 4]);
    const mask = new Tensor(
      Float32Array.from({ length: 32 * 32 }, (_, i) => (i % 32 < 16 ? 1 : 0)),
      [1, 1, 32, 32],
    );
    const { images } = await pipe.generate({
      prompt: 'a',
      image: latents,
      maskImage: mask,
      strength: 0.5,
      numInferenceSteps: 4,
      seed: 1,
      outputType: 'latent',
    });
    expect(codec.encodeCalls).toHaveLength(0);
    expect(scheduler.stepCalls).toHaveLength(2);
    // The kept (right) half is the image latents again after the last step.
    expect(images.data[3]).toBe(Math.fround(0.25));
    expect(images.data[0]).not.toBe(Math.fround(0.25));
  });
});

describe('fromPretrained and DiffusionPipeline', () => {
  const sdxlParts = (dispose = vi.fn(async () => {})): LoadedPipelineParts => ({
    denoiser: new FakeSdxlUnet(4, { timeIdCount: 5 }),
    codec: new FakeSdxlVae(),
    scheduler: new FakeScheduler(),
    sdxl: { requiresAestheticsScore: true, forceZerosForEmptyPrompt: false },
    dispose,
  });
  const sdParts = (dispose = vi.fn(async () => {})): LoadedPipelineParts => ({
    denoiser: new FakeDenoiser(),
    codec: new FakeCodec(),
    scheduler: new FakeScheduler(),
    dispose,
  });
  const backend = (parts: LoadedPipelineParts): Backend => ({ name: 'fake', load: async () => parts });

  it('StableDiffusionXLPipeline.fromPretrained takes the config from parts.sdxl', async () => {
    const pipe = await StableDiffusionXLPipeline.fromPretrained('./refiner', {
      backend: backend(sdxlParts()),
    });
    expect(pipe.config).toEqual({ requiresAestheticsScore: true, forceZerosForEmptyPrompt: false });
  });

  it('refuses non-SDXL parts with ModelMismatchError naming the right class, after releasing them', async () => {
    const dispose = vi.fn(async () => {});
    const error = await StableDiffusionXLPipeline.fromPretrained('./sd15', {
      backend: backend(sdParts(dispose)),
    }).catch((e) => e);
    expect(error).toBeInstanceOf(ModelMismatchError);
    expect(error.message).toMatch(/not an SDXL model.*StableDiffusionPipeline\.fromPretrained/);
    expect(dispose).toHaveBeenCalledTimes(1);
  });

  it('StableDiffusionPipeline / GLIGEN / upscale fromPretrained refuse SDXL parts, pointing to StableDiffusionXLPipeline', async () => {
    for (const cls of [
      StableDiffusionPipeline,
      StableDiffusionGLIGENPipeline,
      StableDiffusionUpscalePipeline,
    ]) {
      const dispose = vi.fn(async () => {});
      const error = await cls
        .fromPretrained('./sdxl', { backend: backend(sdxlParts(dispose)) })
        .catch((e) => e);
      expect(error, cls.name).toBeInstanceOf(ModelMismatchError);
      expect(error.message).toMatch(
        new RegExp(`SDXL model.*${cls.name} cannot run.*StableDiffusionXLPipeline\\.fromPretrained`),
      );
      expect(dispose).toHaveBeenCalledTimes(1);
    }
  });

  it('DiffusionPipeline picks the class from the parts (SDXL, upscaler, GLIGEN, SD), loading once', async () => {
    const load = vi.fn(async () => sdxlParts());
    const xl = await DiffusionPipeline.fromPretrained('./sdxl', { backend: { name: 'fake', load } });
    expect(xl).toBeInstanceOf(StableDiffusionXLPipeline);
    expect(load).toHaveBeenCalledTimes(1);
    expect(await DiffusionPipeline.fromPretrained('./sd', { backend: backend(sdParts()) })).toBeInstanceOf(
      StableDiffusionPipeline,
    );
    expect(pipelineClassFor({ ...sdParts(), lowResScheduler: new FakeScheduler() })).toBe(
      'StableDiffusionUpscalePipeline',
    );
    const grounded = new FakeDenoiser();
    Object.assign(grounded, { grounding: { maxObjects: 30, embeddingDim: 8 } });
    expect(pipelineClassFor({ ...sdParts(), denoiser: grounded })).toBe('StableDiffusionGLIGENPipeline');
  });
});
