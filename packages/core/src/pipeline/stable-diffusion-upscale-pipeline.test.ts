import { describe, expect, it } from 'vitest';
import type { RgbaImage } from '../image/rgba-image.js';
import type { Backend, LoadedPipelineParts } from '../interfaces/backend.js';
import { TorchGenerator } from '../random/torch-generator.js';
import { Tensor } from '../tensor.js';
import { StableDiffusionUpscalePipeline } from './stable-diffusion-upscale-pipeline.js';
import { constantConditioning, FakeDenoiser, FakeScheduler, promptValue, testImage } from './test-fakes.js';
import { FakeX4Codec, fakeUpscaler } from './upscale-test-fakes.js';

/** Row `b` of a `[N, …]` tensor as a plain array. */
function row(t: Tensor, b: number): number[] {
  const size = t.size / t.shape[0]!;
  return Array.from(t.data.subarray(b * size, (b + 1) * size));
}

/** Channels `from..to` of row `b` of a `[N, C, h, w]` tensor. */
function channels(t: Tensor, b: number, from: number, to: number): number[] {
  const [, c, h, w] = t.shape as [number, number, number, number];
  return Array.from(t.data.subarray((b * c + from) * h * w, (b * c + to) * h * w));
}

describe('StableDiffusionUpscalePipeline', () => {
  it("uses diffusers' defaults: 75 steps, guidance 9, noise level 20; output 4× the image; parameters", async () => {
    const { pipe, denoiser, scheduler, lowResScheduler } = fakeUpscaler();
    const { images, parameters } = await pipe.generate({
      prompt: 'a red circle',
      image: testImage(8),
      seed: 5,
    });
    expect(scheduler.stepCalls).toHaveLength(75);
    expect(lowResScheduler.addNoiseCalls.map((c) => c.timestep)).toEqual([20]);
    expect(Array.from(denoiser.calls[0]!.classLabels!.data)).toEqual([20, 20]);
    expect(images).toHaveLength(1);
    expect([images[0]!.width, images[0]!.height]).toEqual([32, 32]);
    expect(parameters).toEqual({
      mode: 'upscale',
      width: 32,
      height: 32,
      numInferenceSteps: 75,
      guidanceScale: 9,
      guidanceRescale: 0,
      eta: 0,
      noiseLevel: 20,
      scheduler: 'FakeScheduler',
      schedulerConfig: { num_train_timesteps: 1000 },
      images: [{ prompt: 'a red circle', negativePrompt: '', seed: 5, batchIndex: 0 }],
    });
  });

  it('noises the normalized image first, then draws the latents at the low-res size (one generator)', async () => {
    const { pipe, denoiser, lowResScheduler } = fakeUpscaler();
    const image = testImage(8);
    await pipe.generate({
      promptEmbeds: constantConditioning([1]),
      image,
      guidanceScale: 1,
      noiseLevel: 100,
      numInferenceSteps: 1,
      generator: new TorchGenerator(3),
    });
    const g = new TorchGenerator(3);
    const noise = g.randn([1, 3, 8, 8]);
    const latents = g.randn([1, 4, 8, 8]).mul(2); // FakeScheduler.initNoiseSigma = 2
    const call = lowResScheduler.addNoiseCalls[0]!;
    expect(Array.from(call.original.data)).toEqual(Array.from(image.mul(2).sub(1).data));
    expect(Array.from(call.noise.data)).toEqual(Array.from(noise.data));
    // FakeScheduler: scaleModelInput halves the latents; the image channels are never scaled.
    const sample = denoiser.calls[0]!.sample;
    expect(sample.shape).toEqual([1, 7, 8, 8]);
    expect(channels(sample, 0, 0, 4)).toEqual(Array.from(latents.mul(0.5).data));
    const noised = image.mul(2).sub(1).add(noise.mul(0.1));
    expect(channels(sample, 0, 4, 7)).toEqual(Array.from(noised.data));
  });

  it('with a generator list: the low-res noise from generators[0] only, latent i from generator i', async () => {
    const { pipe, denoiser, lowResScheduler } = fakeUpscaler();
    await pipe.generate({
      promptEmbeds: constantConditioning([1]),
      image: testImage(8),
      guidanceScale: 1,
      numImagesPerPrompt: 2,
      numInferenceSteps: 1,
      generator: [new TorchGenerator(10), new TorchGenerator(11)],
    });
    const g0 = new TorchGenerator(10);
    const g1 = new TorchGenerator(11);
    expect(Array.from(lowResScheduler.addNoiseCalls[0]!.noise.data)).toEqual(
      Array.from(g0.randn([1, 3, 8, 8]).data),
    );
    const sample = denoiser.calls[0]!.sample;
    expect(channels(sample, 0, 0, 4)).toEqual(Array.from(g0.randn([1, 4, 8, 8]).data));
    expect(channels(sample, 1, 0, 4)).toEqual(Array.from(g1.randn([1, 4, 8, 8]).data));
  });

  it('repeats the image batch as torch.cat([image] * k) while prompt rows are repeat-interleaved', async () => {
    const { pipe, denoiser } = fakeUpscaler();
    const image = new Tensor(
      Float32Array.from({ length: 2 * 3 * 8 * 8 }, (_, i) => (i < 192 ? 0.25 : 0.75)),
      [2, 3, 8, 8],
    );
    await pipe.generate({
      promptEmbeds: constantConditioning([1, 2]),
      negativePromptEmbeds: constantConditioning([-1, -2]),
      image,
      noiseLevel: 0,
      guidanceScale: 7,
      numImagesPerPrompt: 2,
      numInferenceSteps: 1,
      seed: 1,
    });
    const { sample, conditioning, classLabels } = denoiser.calls[0]!;
    expect(sample.shape).toEqual([8, 7, 8, 8]);
    const firstPixel = (b: number) => row(conditioning.encoderHiddenStates, b)[0];
    expect([0, 1, 2, 3, 4, 5, 6, 7].map(firstPixel)).toEqual([-1, -1, -2, -2, 1, 1, 2, 2]);
    // FakeScheduler.addNoise at level 0 leaves the normalized image: -0.5 for image 0, 0.5 for image 1.
    const imageOf = (b: number) => channels(sample, b, 4, 5)[0];
    expect([0, 1, 2, 3, 4, 5, 6, 7].map(imageOf)).toEqual([-0.5, 0.5, -0.5, 0.5, -0.5, 0.5, -0.5, 0.5]);
    expect(Array.from(classLabels!.data)).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
  });

  it('encodes negative and positive prompts in one encoder call, uncond first', async () => {
    const { pipe, promptEncoder, denoiser } = fakeUpscaler();
    await pipe.generate({
      prompt: 'a cat',
      negativePrompt: 'blurry',
      image: testImage(8),
      numInferenceSteps: 1,
      seed: 1,
      clipSkip: 2,
    });
    expect(promptEncoder.calls).toEqual([['blurry', 'a cat']]);
    expect(promptEncoder.options).toEqual([{ clipSkip: 2 }]);
    const ehs = denoiser.calls[0]!.conditioning.encoderHiddenStates;
    expect([row(ehs, 0)[0], row(ehs, 1)[0]]).toEqual([promptValue('blurry'), promptValue('a cat')]);
  });

  it("takes an RgbaImage; outputType 'tensor' and 'latent' give [N,3,4h,4w] and [N,4,h,w]", async () => {
    const rgba: RgbaImage = { width: 8, height: 4, data: new Uint8ClampedArray(8 * 4 * 4).fill(128) };
    const { pipe } = fakeUpscaler();
    const base = { prompt: 'a', image: rgba, numInferenceSteps: 2, seed: 9 } as const;
    const tensor = await pipe.generate({ ...base, outputType: 'tensor' });
    expect(tensor.images.shape).toEqual([1, 3, 16, 32]);
    const latent = await pipe.generate({ ...base, outputType: 'latent' });
    expect(latent.images.shape).toEqual([1, 4, 4, 8]);
    const again = await pipe.generate({ ...base, outputType: 'tensor' });
    expect(Array.from(again.images.data)).toEqual(Array.from(tensor.images.data));
  });

  it('calls onStep after each step and stops on abort before the next denoiser call', async () => {
    const { pipe, denoiser } = fakeUpscaler();
    const controller = new AbortController();
    const steps: number[] = [];
    const run = pipe.generate({
      prompt: 'a',
      image: testImage(8),
      numInferenceSteps: 5,
      seed: 1,
      signal: controller.signal,
      onStep: ({ step }) => {
        steps.push(step);
        if (step === 1) controller.abort(new Error('stop'));
      },
    });
    await expect(run).rejects.toThrow('stop');
    expect(steps).toEqual([0, 1]);
    expect(denoiser.calls).toHaveLength(2);
  });

  it('concurrent calls give exactly what each gives alone (clone-less scheduler: queued)', async () => {
    const { pipe } = fakeUpscaler({}, { stochastic: true });
    const call = (seed: number) =>
      pipe.generate({ prompt: 'a', image: testImage(8), numInferenceSteps: 3, seed, outputType: 'latent' });
    const alone = [await call(1), await call(2)];
    const together = await Promise.all([call(1), call(2)]);
    expect(Array.from(together[0].images.data)).toEqual(Array.from(alone[0]!.images.data));
    expect(Array.from(together[1].images.data)).toEqual(Array.from(alone[1]!.images.data));
  });

  it('fromPretrained takes lowResScheduler and maxNoiseLevel from the backend, limits, and dispose', async () => {
    const disposed: string[] = [];
    const backend: Backend<{ flavour?: string }> = {
      name: 'fake',
      load: async (_source, options) => {
        expect(options).toMatchObject({ flavour: 'x4' });
        const parts: LoadedPipelineParts = {
          denoiser: new FakeDenoiser({ inChannels: 7 }),
          codec: new FakeX4Codec(),
          scheduler: new FakeScheduler(),
          lowResScheduler: new FakeScheduler(),
          maxNoiseLevel: 250,
          limits: { maxImageSize: 1024 },
          dispose: async () => {
            disposed.push('x');
          },
        };
        return parts;
      },
    };
    const pipe = await StableDiffusionUpscalePipeline.fromPretrained('./up', {
      backend,
      flavour: 'x4',
      limits: { maxImagesPerCall: 3 },
    });
    expect(pipe.maxNoiseLevel).toBe(250);
    expect(pipe.limits.maxImageSize).toBe(1024);
    expect(pipe.limits.maxImagesPerCall).toBe(3);
    await expect(
      pipe.generate({
        promptEmbeds: constantConditioning([1]),
        image: testImage(8),
        noiseLevel: 251,
        guidanceScale: 1,
      }),
    ).rejects.toThrow(/noiseLevel = 251 is invalid: expected an integer in \[0, 250\]/);
    await pipe.dispose();
    await pipe.dispose();
    expect(disposed).toEqual(['x']);
  });
});
