import { describe, expect, expectTypeOf, it, vi } from 'vitest';
import type { RgbaImage } from '../image/rgba-image.js';
import type { Backend } from '../interfaces/backend.js';
import { TorchGenerator } from '../random/torch-generator.js';
import { Tensor } from '../tensor.js';
import { StableDiffusionPipeline } from './stable-diffusion-pipeline.js';
import {
  constantConditioning,
  FakeCodec,
  FakeDenoiser,
  FakePromptEncoder,
  FakeScheduler,
  promptValue,
  testImage,
} from './test-fakes.js';

function setup(options: { inChannels?: number; stochastic?: boolean; draws?: boolean } = {}) {
  const promptEncoder = new FakePromptEncoder();
  const denoiser = new FakeDenoiser({ inChannels: options.inChannels ?? 4, sampleSize: 2 });
  const codec = new FakeCodec(options.draws ?? false);
  const scheduler = new FakeScheduler(options.stochastic ?? false);
  const pipe = new StableDiffusionPipeline({ promptEncoder, denoiser, codec, scheduler });
  return { pipe, promptEncoder, denoiser, codec, scheduler };
}

/** The first element of each batch row of a conditioning (the fakes fill rows with one value). */
function rowValues(t: Tensor): number[] {
  const row = t.size / t.shape[0]!;
  return Array.from({ length: t.shape[0]! }, (_, b) => t.data[b * row]!);
}

describe('StableDiffusionPipeline.generate: the loop', () => {
  it('text-to-image: default size from sampleSize·downscale, noise·initNoiseSigma, one call per step', async () => {
    const { pipe, denoiser, scheduler } = setup();
    const { images } = await pipe.generate({
      prompt: 'a cat',
      seed: 7,
      numInferenceSteps: 3,
      outputType: 'latent',
    });
    expect(images.shape).toEqual([1, 4, 2, 2]);
    expect(denoiser.calls.map((c) => c.timestep)).toEqual([300, 200, 100]);
    // First step's sample (before the CFG doubling and 0.5 scaling) is randn · 2.
    const noise = new TorchGenerator(7).randn([1, 4, 2, 2]);
    expect(Array.from(scheduler.stepCalls[0]!.sample.data)).toEqual(Array.from(noise.mul(2).data));
    expect(Array.from(scheduler.scaleCalls[0]!.data)).toEqual(
      Array.from(Tensor.cat([noise.mul(2), noise.mul(2)]).data),
    );
  });

  it('CFG: one denoiser call per step with batch 2N, uncond first, guidance u + g·(c − u)', async () => {
    const { pipe, denoiser, scheduler, promptEncoder } = setup();
    await pipe.generate({
      prompt: 'a cat',
      negativePrompt: 'blurry',
      guidanceScale: 5,
      numInferenceSteps: 2,
      seed: 1,
    });
    expect(denoiser.calls).toHaveLength(2);
    expect(promptEncoder.calls).toEqual([['blurry', 'a cat']]);
    for (const call of denoiser.calls) {
      expect(call.sample.shape).toEqual([2, 4, 2, 2]);
      expect(rowValues(call.conditioning.encoderHiddenStates)).toEqual([
        promptValue('blurry'),
        promptValue('a cat'),
      ]);
    }
    // The fake predicts 0.5·x + cond + 0.01·c; x is the scaled sample, the same in both halves.
    const x = denoiser.calls[0]!.sample.slice(0, 1);
    const u = x.mul(0.5).map((v, i) => v + promptValue('blurry') + 0.01 * Math.floor(i / 4));
    const c = x.mul(0.5).map((v, i) => v + promptValue('a cat') + 0.01 * Math.floor(i / 4));
    const expected = u.add(c.sub(u).mul(5));
    expect(Array.from(scheduler.stepCalls[0]!.modelOutput.data)).toEqual(Array.from(expected.data));
  });

  it('CFG with no negative prompt encodes "" (diffusers)', async () => {
    const { pipe, promptEncoder } = setup();
    await pipe.generate({ prompt: ['a', 'b'], numInferenceSteps: 1, seed: 1 });
    expect(promptEncoder.calls).toEqual([['', '', 'a', 'b']]);
  });

  it('clipSkip reaches the prompt encoder; a bad clipSkip fails before any work', async () => {
    const { pipe, promptEncoder, denoiser } = setup();
    await pipe.generate({ prompt: 'a', numInferenceSteps: 1, seed: 1, clipSkip: 2 });
    expect(promptEncoder.options).toEqual([{ clipSkip: 2 }]);
    await expect(pipe.generate({ prompt: 'a', clipSkip: 0 })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: expect.stringContaining('clipSkip = 0'),
    });
    expect(denoiser.calls.length).toBe(1);
  });

  it('guidanceScale ≤ 1: batch N, no negative prompt encoded, prediction passed as is', async () => {
    const { pipe, denoiser, promptEncoder, scheduler } = setup();
    await pipe.generate({
      prompt: 'a cat',
      negativePrompt: 'x',
      guidanceScale: 1,
      numInferenceSteps: 2,
      seed: 1,
    });
    expect(promptEncoder.calls).toEqual([['a cat']]);
    expect(denoiser.calls.map((c) => c.sample.shape[0])).toEqual([1, 1]);
    const out = await denoiser.predict(denoiser.calls[0]!);
    expect(Array.from(scheduler.stepCalls[0]!.modelOutput.data)).toEqual(Array.from(out.data));
  });

  it('numImagesPerPrompt repeats each prompt in a row: [nA, nA, nB, nB, A, A, B, B]', async () => {
    const { pipe, denoiser } = setup();
    await pipe.generate({
      prompt: ['A', 'BB'],
      negativePrompt: ['n', 'mm'],
      numImagesPerPrompt: 2,
      numInferenceSteps: 1,
      seed: 3,
    });
    const rows = rowValues(denoiser.calls[0]!.conditioning.encoderHiddenStates);
    const [nA, nB, A, B] = ['n', 'mm', 'A', 'BB'].map(promptValue);
    expect(rows).toEqual([nA, nA, nB, nB, A, A, B, B]);
    expect(denoiser.calls[0]!.sample.shape).toEqual([8, 4, 2, 2]);
  });

  it('promptEmbeds with textEmbeds/timeIds: concatenated uncond first and repeated per image', async () => {
    const { pipe, denoiser } = setup();
    const pos = {
      ...constantConditioning([1]),
      textEmbeds: Tensor.full([1, 2], 10),
      timeIds: Tensor.full([1, 6], 20),
    };
    const neg = {
      ...constantConditioning([-1]),
      textEmbeds: Tensor.full([1, 2], -10),
      timeIds: Tensor.full([1, 6], -20),
    };
    await pipe.generate({
      promptEmbeds: pos,
      negativePromptEmbeds: neg,
      numImagesPerPrompt: 2,
      numInferenceSteps: 1,
      seed: 1,
    });
    const c = denoiser.calls[0]!.conditioning;
    expect(rowValues(c.encoderHiddenStates)).toEqual([-1, -1, 1, 1]);
    expect(rowValues(c.textEmbeds!)).toEqual([-10, -10, 10, 10]);
    expect(rowValues(c.timeIds!)).toEqual([-20, -20, 20, 20]);
  });

  it('a list of generators: image i starts from generator i, and the scheduler draws item i from it', async () => {
    const { pipe, scheduler } = setup({ stochastic: true });
    await pipe.generate({
      prompt: 'a',
      numImagesPerPrompt: 2,
      guidanceScale: 1,
      numInferenceSteps: 2,
      generator: [new TorchGenerator(11), new TorchGenerator(22)],
    });
    const g = [new TorchGenerator(11), new TorchGenerator(22)];
    const start = Tensor.cat(g.map((x) => x.randn([1, 4, 2, 2]))).mul(2);
    expect(Array.from(scheduler.stepCalls[0]!.sample.data)).toEqual(Array.from(start.data));
    // Step 0's noise: the next draw of each generator, item by item.
    const noise = Tensor.cat(g.map((x) => x.randn([1, 4, 2, 2])));
    const expected = start.sub(scheduler.stepCalls[0]!.modelOutput.mul(0.1)).add(noise.mul(0.1));
    expect(Array.from(scheduler.stepCalls[1]!.sample.data)).toEqual(Array.from(expected.data));
  });

  it('a single generator draws the whole batch at once; seed = TorchGenerator(seed); eta reaches step', async () => {
    const { pipe, scheduler } = setup();
    await pipe.generate({ prompt: 'a', numImagesPerPrompt: 2, numInferenceSteps: 1, seed: 5, eta: 0.3 });
    const start = new TorchGenerator(5).randn([2, 4, 2, 2]).mul(2);
    expect(Array.from(scheduler.stepCalls[0]!.sample.data)).toEqual(Array.from(start.data));
    expect(scheduler.stepCalls[0]!.options?.eta).toBe(0.3);
  });

  it('caller-given latents are multiplied by initNoiseSigma', async () => {
    const { pipe, scheduler } = setup();
    const latents = Tensor.full([1, 4, 2, 2], 0.25);
    await pipe.generate({ prompt: 'a', latents, numInferenceSteps: 1 });
    expect(Array.from(scheduler.stepCalls[0]!.sample.data)).toEqual(new Array(16).fill(0.5));
  });

  it('outputType: image (default) → RgbaImage[], tensor → [N,3,H,W] in [0,1], latent → no decode', async () => {
    const { pipe, codec } = setup();
    const opts = { prompt: 'a', numInferenceSteps: 1, seed: 2, numImagesPerPrompt: 2 } as const;
    const a = await pipe.generate(opts);
    expectTypeOf(a.images).toEqualTypeOf<RgbaImage[]>();
    expect(a.images).toHaveLength(2);
    expect([a.images[0]!.width, a.images[0]!.height, a.images[0]!.data.length]).toEqual([
      16,
      16,
      16 * 16 * 4,
    ]);
    const t = await pipe.generate({ ...opts, outputType: 'tensor' });
    expectTypeOf(t.images).toEqualTypeOf<Tensor>();
    expect(t.images.shape).toEqual([2, 3, 16, 16]);
    // clamp(tanh(z)·0.5 + 0.5): the decoder output mapped to [0, 1].
    const decoded = await codec.decode(codec.decodeCalls[1]!);
    expect(Array.from(t.images.data)).toEqual(
      Array.from(decoded.map((v) => Math.fround(Math.fround(v * 0.5) + 0.5)).data),
    );
    // Bytes are round(x · 255).
    expect(a.images[0]!.data[0]).toBe(Math.round(t.images.data[0]! * 255));
    const before = codec.decodeCalls.length;
    const l = await pipe.generate({ ...opts, outputType: 'latent' });
    expect(l.images.shape).toEqual([2, 4, 2, 2]);
    expect(codec.decodeCalls).toHaveLength(before);
  });

  it('onStep: once per step, awaited, with step index, totals, timestep and the latents', async () => {
    const { pipe, scheduler } = setup();
    const seen: unknown[] = [];
    let pending = 0;
    await pipe.generate({
      prompt: 'a',
      numInferenceSteps: 3,
      seed: 1,
      onStep: async ({ step, totalSteps, timestep, latents }) => {
        expect(pending).toBe(0);
        pending++;
        await new Promise((r) => setTimeout(r, 1));
        pending--;
        seen.push([step, totalSteps, timestep, latents.shape]);
        // The latents reported are what the scheduler just returned: the next step starts from them.
        expect(scheduler.stepCalls).toHaveLength(step + 1);
      },
    });
    expect(seen).toEqual([
      [0, 3, 300, [1, 4, 2, 2]],
      [1, 3, 200, [1, 4, 2, 2]],
      [2, 3, 100, [1, 4, 2, 2]],
    ]);
  });
});

describe('StableDiffusionPipeline.generate: abort', () => {
  it('a signal aborted before the call: rejects with its reason, nothing runs', async () => {
    const { pipe, denoiser, promptEncoder } = setup();
    const controller = new AbortController();
    const reason = new Error('stop');
    controller.abort(reason);
    await expect(pipe.generate({ prompt: 'a', signal: controller.signal })).rejects.toBe(reason);
    expect(denoiser.calls).toHaveLength(0);
    expect(promptEncoder.calls).toHaveLength(0);
  });

  it('aborted from onStep: rejects with the reason, the denoiser is not called again, no decode', async () => {
    const { pipe, denoiser, codec } = setup();
    const controller = new AbortController();
    const promise = pipe.generate({
      prompt: 'a',
      numInferenceSteps: 5,
      seed: 1,
      signal: controller.signal,
      onStep: ({ step }) => {
        if (step === 1) controller.abort('user cancelled');
      },
    });
    await expect(promise).rejects.toBe('user cancelled');
    expect(denoiser.calls).toHaveLength(2);
    expect(codec.decodeCalls).toHaveLength(0);
  });

  it('aborted during the last step: no decode', async () => {
    const { pipe, codec } = setup();
    const controller = new AbortController();
    const promise = pipe.generate({
      prompt: 'a',
      numInferenceSteps: 2,
      seed: 1,
      signal: controller.signal,
      onStep: ({ step }) => {
        if (step === 1) controller.abort();
      },
    });
    await expect(promise).rejects.toMatchObject({ name: 'AbortError' });
    expect(codec.decodeCalls).toHaveLength(0);
  });
});

describe('StableDiffusionPipeline.generate: img2img', () => {
  it('starts at floor(steps·strength), encode draws first then the noise, addNoise at the first timestep', async () => {
    const { pipe, scheduler, codec, denoiser } = setup({ draws: true });
    const image = testImage(16);
    await pipe.generate({
      prompt: 'a',
      image,
      strength: 0.6,
      numInferenceSteps: 5,
      seed: 9,
      onStep: () => {},
    });
    // 5 steps · 0.6 = 3 steps: timesteps [500 … 100] from index 2.
    expect(scheduler.beginIndex).toBe(2);
    expect(denoiser.calls.map((c) => c.timestep)).toEqual([300, 200, 100]);
    // The codec got the image in [-1, 1] = fl(fl(2x) − 1).
    expect(Array.from(codec.encodeCalls[0]!.image.data)).toEqual(
      Array.from(image.data, (x) => Math.fround(Math.fround(2 * x) - 1)),
    );
    const g = new TorchGenerator(9);
    const encoded = FakeCodec.blockMeans(codec.encodeCalls[0]!.image).add(g.randn([1, 4, 2, 2]).mul(0.01));
    const noise = g.randn([1, 4, 2, 2]);
    expect(scheduler.addNoiseCalls).toHaveLength(1);
    expect(scheduler.addNoiseCalls[0]!.timestep).toBe(300);
    expect(Array.from(scheduler.addNoiseCalls[0]!.original.data)).toEqual(Array.from(encoded.data));
    expect(Array.from(scheduler.addNoiseCalls[0]!.noise.data)).toEqual(Array.from(noise.data));
    expect(Array.from(scheduler.stepCalls[0]!.sample.data)).toEqual(
      Array.from(encoded.add(noise.mul(0.3)).data),
    );
  });

  it('one image for two prompts × 2 images: encoded once, repeated to 4; RgbaImage input accepted', async () => {
    const { pipe, codec, scheduler } = setup();
    const rgba: RgbaImage = { width: 16, height: 16, data: new Uint8ClampedArray(16 * 16 * 4).fill(255) };
    await pipe.generate({
      prompt: ['a', 'b'],
      numImagesPerPrompt: 2,
      image: rgba,
      strength: 1,
      numInferenceSteps: 1,
      seed: 1,
    });
    expect(codec.encodeCalls).toHaveLength(1);
    expect(codec.encodeCalls[0]!.image.shape).toEqual([1, 3, 16, 16]);
    expect(Array.from(new Set(codec.encodeCalls[0]!.image.data))).toEqual([1]);
    expect(scheduler.addNoiseCalls[0]!.original.shape).toEqual([4, 4, 2, 2]);
  });

  it('with a list of generators: each image encoded alone with its own generator', async () => {
    const { pipe, codec } = setup({ draws: true });
    const gens = [new TorchGenerator(1), new TorchGenerator(2)];
    await pipe.generate({
      prompt: 'a',
      numImagesPerPrompt: 2,
      image: testImage(16),
      numInferenceSteps: 2,
      generator: gens,
    });
    expect(codec.encodeCalls.map((c) => [c.image.shape[0], c.generator])).toEqual([
      [1, gens[0]],
      [1, gens[1]],
    ]);
  });
});

describe('StableDiffusionPipeline.generate: inpainting', () => {
  // Left half (x < 8) repaint, right half keep; at latent size (2×2) the left column is 1.
  const mask = new Tensor(
    Float32Array.from({ length: 256 }, (_, i) => (i % 16 < 8 ? 0.9 : 0.1)),
    [1, 1, 16, 16],
  );

  it('9 channels: [scaled latents, mask, maskedImageLatents] into the denoiser, doubled under CFG', async () => {
    const { pipe, denoiser, codec } = setup({ inChannels: 9 });
    const image = testImage(16);
    await pipe.generate({ prompt: 'a', image, maskImage: mask, numInferenceSteps: 2, seed: 4 });
    // strength 1 (default): no image encode; only the masked image is encoded.
    expect(codec.encodeCalls).toHaveLength(1);
    const masked = codec.encodeCalls[0]!.image;
    const normalized = image.mul(2).sub(1);
    for (let i = 0; i < masked.size; i++) {
      expect(masked.data[i]).toBe(i % 16 < 8 ? 0 : normalized.data[i]);
    }
    const maskedLatents = FakeCodec.blockMeans(masked);
    const sample = denoiser.calls[0]!.sample;
    expect(sample.shape).toEqual([2, 9, 2, 2]);
    const noise = new TorchGenerator(4).randn([1, 4, 2, 2]).mul(2).mul(0.5);
    for (let b = 0; b < 2; b++) {
      const item = Array.from(sample.data.subarray(b * 36, (b + 1) * 36));
      expect(item.slice(0, 16)).toEqual(Array.from(noise.data));
      expect(item.slice(16, 20)).toEqual([1, 0, 1, 0]);
      expect(item.slice(20, 36)).toEqual(Array.from(maskedLatents.data));
    }
  });

  it('9 channels with strength < 1: encode image, noise, then masked image (diffusers order)', async () => {
    const { pipe, codec, scheduler } = setup({ inChannels: 9, draws: true });
    await pipe.generate({
      prompt: 'a',
      image: testImage(16),
      maskImage: mask,
      strength: 0.5,
      numInferenceSteps: 4,
      seed: 4,
    });
    const g = new TorchGenerator(4);
    const first = FakeCodec.blockMeans(codec.encodeCalls[0]!.image).add(g.randn([1, 4, 2, 2]).mul(0.01));
    const noise = g.randn([1, 4, 2, 2]);
    expect(Array.from(scheduler.addNoiseCalls[0]!.original.data)).toEqual(Array.from(first.data));
    expect(Array.from(scheduler.addNoiseCalls[0]!.noise.data)).toEqual(Array.from(noise.data));
    expect(codec.encodeCalls).toHaveLength(2);
  });

  it('4 channels: after each step the kept region equals the known latents re-noised to the next timestep', async () => {
    const { pipe, scheduler, codec } = setup();
    const image = testImage(16);
    const perStep: Tensor[] = [];
    await pipe.generate({
      prompt: 'a',
      image,
      maskImage: mask,
      strength: 0.75,
      numInferenceSteps: 4,
      seed: 8,
      onStep: ({ latents }) => {
        perStep.push(latents);
      },
    });
    const known = FakeCodec.blockMeans(image.mul(2).sub(1));
    const noise = new TorchGenerator(8).randn([1, 4, 2, 2]);
    // The image and the masked image are both encoded (diffusers draws for both).
    expect(codec.encodeCalls).toHaveLength(2);
    const timesteps = [300, 200, 100];
    perStep.forEach((latents, i) => {
      const expected = i < 2 ? known.add(noise.mul(timesteps[i + 1]! / 1000)) : known;
      const stepped = scheduler.stepCalls[i]!;
      const fresh = stepped.sample.sub(stepped.modelOutput.mul(0.1));
      for (let k = 0; k < 16; k++) {
        const repaint = k % 2 === 0;
        expect(latents.data[k]).toBe(repaint ? fresh.data[k] : expected.data[k]);
      }
    });
  });

  it('RGBA mask uses luminance, binarised at 0.5', async () => {
    const { pipe, denoiser } = setup({ inChannels: 9 });
    const data = new Uint8ClampedArray(16 * 16 * 4);
    for (let p = 0; p < 256; p++) {
      // Left: grey 128 (luminance 128 ≥ 127.5 → repaint); right: pure blue 255 (luminance 29 → keep).
      data.set(p % 16 < 8 ? [128, 128, 128, 255] : [0, 0, 255, 255], p * 4);
    }
    await pipe.generate({
      prompt: 'a',
      image: testImage(16),
      maskImage: { width: 16, height: 16, data },
      guidanceScale: 1,
      numInferenceSteps: 1,
      seed: 1,
    });
    expect(Array.from(denoiser.calls[0]!.sample.data.subarray(16, 20))).toEqual([1, 0, 1, 0]);
  });
});

describe('StableDiffusionPipeline.fromPretrained / dispose', () => {
  it('calls backend.load(source, rest) and disposes once', async () => {
    const dispose = vi.fn(async () => {});
    const load = vi.fn(async () => ({
      denoiser: new FakeDenoiser(),
      codec: new FakeCodec(),
      scheduler: new FakeScheduler(),
      dispose,
    }));
    const backend: Backend<{ executionProviders: string[] }> = { name: 'fake', load };
    const pipe = await StableDiffusionPipeline.fromPretrained('./model', {
      backend,
      executionProviders: ['cpu'],
    });
    expect(load).toHaveBeenCalledWith('./model', { executionProviders: ['cpu'] });
    expect(pipe.promptEncoder).toBeUndefined();
    await pipe.dispose();
    await pipe.dispose();
    expect(dispose).toHaveBeenCalledTimes(1);
  });

  it('the scheduler can be swapped between calls', async () => {
    const { pipe, denoiser } = setup();
    const other = new FakeScheduler();
    pipe.scheduler = other;
    await pipe.generate({ prompt: 'a', numInferenceSteps: 2, seed: 1 });
    expect(other.stepCalls).toHaveLength(2);
    expect(denoiser.calls).toHaveLength(2);
  });
});

describe('StableDiffusionPipeline.generate: parameters (the resolved settings, per image prompt and seed)', () => {
  it('txt2img with seed: defaults filled in, one generator → seed for all, batchIndex 0..N-1', async () => {
    const { pipe } = setup();
    const { parameters } = await pipe.generate({
      prompt: 'a cat',
      seed: 42,
      numInferenceSteps: 3,
      numImagesPerPrompt: 2,
    });
    expect(parameters).toEqual({
      mode: 'txt2img',
      width: 16,
      height: 16,
      numInferenceSteps: 3,
      guidanceScale: 7.5,
      guidanceRescale: 0,
      eta: 0,
      scheduler: 'FakeScheduler',
      schedulerConfig: { num_train_timesteps: 1000 },
      images: [
        { prompt: 'a cat', negativePrompt: '', seed: 42, batchIndex: 0 },
        { prompt: 'a cat', negativePrompt: '', seed: 42, batchIndex: 1 },
      ],
    });
  });

  it('no seed: the random seed chosen is reported, and passing it back gives the same images', async () => {
    const { pipe } = setup();
    const first = await pipe.generate({ prompt: 'a', numInferenceSteps: 2, outputType: 'latent' });
    const seed = first.parameters.images[0]!.seed;
    expect(Number.isSafeInteger(seed)).toBe(true);
    const again = await pipe.generate({
      prompt: 'a',
      numInferenceSteps: 2,
      outputType: 'latent',
      seed: seed!,
    });
    expect(Array.from(again.images.data)).toEqual(Array.from(first.images.data));
  });

  it('numImagesPerPrompt 2 with 2 prompts and 2 negative prompts: images in order [A, A, B, B]', async () => {
    const { pipe } = setup();
    const { parameters, images } = await pipe.generate({
      prompt: ['A', 'B'],
      negativePrompt: ['nA', 'nB'],
      numImagesPerPrompt: 2,
      seed: 7n,
      numInferenceSteps: 1,
      clipSkip: 2,
    });
    expect(images).toHaveLength(4);
    expect(parameters.clipSkip).toBe(2);
    expect(parameters.images).toEqual([
      { prompt: 'A', negativePrompt: 'nA', seed: 7n, batchIndex: 0 },
      { prompt: 'A', negativePrompt: 'nA', seed: 7n, batchIndex: 1 },
      { prompt: 'B', negativePrompt: 'nB', seed: 7n, batchIndex: 2 },
      { prompt: 'B', negativePrompt: 'nB', seed: 7n, batchIndex: 3 },
    ]);
  });

  it('a generator list of TorchGenerators: each image has its generator’s initial seed, batchIndex 0', async () => {
    const { pipe } = setup();
    const { parameters } = await pipe.generate({
      prompt: 'a',
      numImagesPerPrompt: 3,
      guidanceScale: 1,
      numInferenceSteps: 1,
      generator: [new TorchGenerator(11), new TorchGenerator(2n ** 60n), new TorchGenerator(-1)],
    });
    expect(parameters.guidanceScale).toBe(1);
    // Seeds up to 2^53 come back as numbers; larger ones (and -1, which torch stores as 2^64 − 1) as bigints.
    expect(parameters.images).toEqual([
      { prompt: 'a', seed: 11, batchIndex: 0 },
      { prompt: 'a', seed: 2n ** 60n, batchIndex: 0 },
      { prompt: 'a', seed: 2n ** 64n - 1n, batchIndex: 0 },
    ]);
  });

  it('one generator: a TorchGenerator reports its initial seed; another generator reports no seed', async () => {
    const { pipe } = setup();
    const torch = await pipe.generate({
      prompt: 'a',
      numInferenceSteps: 1,
      generator: new TorchGenerator(9),
    });
    expect(torch.parameters.images).toEqual([{ prompt: 'a', negativePrompt: '', seed: 9, batchIndex: 0 }]);
    const custom = {
      randn: (shape: readonly number[]) => Tensor.full(shape, 0),
      rand: (shape: readonly number[]) => Tensor.full(shape, 0),
    };
    const other = await pipe.generate({ prompt: 'a', numInferenceSteps: 1, generator: custom });
    expect(other.parameters.images).toEqual([{ prompt: 'a', negativePrompt: '', batchIndex: 0 }]);
  });

  it('img2img: mode, strength and the image size; promptEmbeds: no prompt text', async () => {
    const { pipe } = setup();
    const { parameters } = await pipe.generate({
      promptEmbeds: constantConditioning([1]),
      negativePromptEmbeds: constantConditioning([-1]),
      image: testImage(24),
      strength: 0.5,
      numInferenceSteps: 4,
      seed: 3,
    });
    expect(parameters.mode).toBe('img2img');
    expect(parameters.strength).toBe(0.5);
    expect([parameters.width, parameters.height]).toEqual([24, 24]);
    expect(parameters.images).toEqual([{ seed: 3, batchIndex: 0 }]);
  });

  it('inpainting: mode inpaint, default strength 1; the scheduler name comes from config._class_name', async () => {
    const { pipe } = setup();
    const named = new FakeScheduler();
    (named as { config: Record<string, unknown> }).config = { _class_name: 'DDIMScheduler', steps_offset: 1 };
    pipe.scheduler = named;
    const mask = Tensor.full([1, 1, 16, 16], 1);
    const { parameters } = await pipe.generate({
      prompt: 'a',
      image: testImage(16),
      maskImage: mask,
      numInferenceSteps: 2,
      seed: 1,
    });
    expect(parameters.mode).toBe('inpaint');
    expect(parameters.strength).toBe(1);
    expect(parameters.scheduler).toBe('DDIMScheduler');
    expect(parameters.schedulerConfig).toEqual({ _class_name: 'DDIMScheduler', steps_offset: 1 });
  });
});
