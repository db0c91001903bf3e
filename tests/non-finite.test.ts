/**
 * Issue 14 §2: non-finite numbers never become an image. The latents are checked after every scheduler
 * step (the error names the 0-based step where NaN/±Infinity first appeared) and the VAE decoder's output
 * before it is turned into pixels. Fakes pin down the step arithmetic; the real shipped model shows the
 * same on onnxruntime-node, with its real UNet output pushed past float32's range at one step (what an
 * fp16 UNet that overflows does).
 */
import { nodeBackend } from '@latentkit/backend-node';
import {
  type Denoiser,
  type DenoiserInput,
  type LatentCodec,
  NonFiniteOutputError,
  StableDiffusionPipeline,
  type StepInfo,
  type Tensor,
} from '@latentkit/core';
import { shapesModelPath } from '@latentkit/model-shapes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  FakeCodec,
  FakeDenoiser,
  FakePromptEncoder,
  FakeScheduler,
  testImage,
} from '../packages/core/src/pipeline/test-fakes.js';

/** FakeDenoiser whose prediction at denoiser call `at` has `value` in one element. */
class PoisonedDenoiser extends FakeDenoiser {
  constructor(
    readonly at: number,
    readonly value: number,
  ) {
    super({ sampleSize: 2 });
  }
  override async predict(input: DenoiserInput): Promise<Tensor> {
    const out = await super.predict(input);
    if (this.calls.length - 1 === this.at) out.data[out.data.length - 1] = this.value;
    return out;
  }
}

/** FakeCodec whose decode puts `value` in one pixel. */
class PoisonedDecoder extends FakeCodec {
  constructor(readonly value: number) {
    super();
  }
  override async decode(latents: Tensor): Promise<Tensor> {
    const out = await super.decode(latents);
    out.data[5] = this.value;
    return out;
  }
}

/** FakeCodec whose encode returns NaN everywhere (an overflowing VAE encoder). */
class PoisonedEncoder extends FakeCodec {
  override async encode(image: Tensor): Promise<Tensor> {
    return (await super.encode(image)).map(() => Number.NaN);
  }
}

async function rejection(p: Promise<unknown>): Promise<NonFiniteOutputError> {
  const error = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(NonFiniteOutputError);
  return error as NonFiniteOutputError;
}

describe('non-finite latents: NonFiniteOutputError names the step (fakes)', () => {
  const cases = [
    { at: 0, value: Number.NaN, guidanceScale: 7.5 },
    { at: 3, value: Number.NaN, guidanceScale: 7.5 },
    { at: 5, value: Number.POSITIVE_INFINITY, guidanceScale: 1 },
    { at: 9, value: Number.NEGATIVE_INFINITY, guidanceScale: 3 },
  ];
  for (const { at, value, guidanceScale } of cases) {
    it(`${value} in the denoiser output at step ${at} of 10 (guidance ${guidanceScale}) → error .step === ${at}, no decode, onStep only before`, async () => {
      const denoiser = new PoisonedDenoiser(at, value);
      const codec = new FakeCodec();
      const pipe = new StableDiffusionPipeline({
        promptEncoder: new FakePromptEncoder(),
        denoiser,
        codec,
        scheduler: new FakeScheduler(),
      });
      const seen: StepInfo[] = [];
      const error = await rejection(
        pipe.generate({
          prompt: 'a red circle',
          seed: 1,
          numInferenceSteps: 10,
          guidanceScale,
          onStep: (info) => {
            seen.push(info);
          },
        }),
      );
      expect(error.step).toBe(at);
      expect(error.code).toBe('NON_FINITE_OUTPUT');
      expect(error.message).toContain(`after step ${at} of 10`);
      expect(error.message).toContain(`guidanceScale = ${guidanceScale}`);
      expect(error.message).toMatch(/prompt weights/);
      expect(seen.map((s) => s.step)).toEqual(Array.from({ length: at }, (_, i) => i));
      for (const s of seen) expect(s.latents.data.every(Number.isFinite)).toBe(true);
      expect(codec.decodeCalls).toHaveLength(0);
    });
  }

  it('outputType "latent" rejects too: non-finite latents are never returned', async () => {
    const pipe = new StableDiffusionPipeline({
      promptEncoder: new FakePromptEncoder(),
      denoiser: new PoisonedDenoiser(1, Number.NaN),
      codec: new FakeCodec(),
      scheduler: new FakeScheduler(),
    });
    const error = await rejection(
      pipe.generate({ prompt: 'a', seed: 1, numInferenceSteps: 3, outputType: 'latent' }),
    );
    expect(error.step).toBe(1);
  });

  it('an img2img image whose VAE encoding is NaN → error before the first step, no denoiser call', async () => {
    const denoiser = new FakeDenoiser({ sampleSize: 2 });
    const pipe = new StableDiffusionPipeline({
      promptEncoder: new FakePromptEncoder(),
      denoiser,
      codec: new PoisonedEncoder(),
      scheduler: new FakeScheduler(),
    });
    const error = await rejection(
      pipe.generate({ prompt: 'a', seed: 1, numInferenceSteps: 4, image: testImage(16), strength: 0.5 }),
    );
    expect(error.step).toBeUndefined();
    expect(error.message).toContain('the initial latents (before the first step)');
    expect(denoiser.calls).toHaveLength(0);
  });
});

describe('non-finite decoder output: NonFiniteOutputError names the VAE decoder (fakes)', () => {
  for (const [value, outputType] of [
    [Number.NaN, 'image'],
    [Number.POSITIVE_INFINITY, 'tensor'],
    [Number.NEGATIVE_INFINITY, 'image'],
  ] as const) {
    it(`decode output with ${value}, outputType ${outputType} → error, no image`, async () => {
      const pipe = new StableDiffusionPipeline({
        promptEncoder: new FakePromptEncoder(),
        denoiser: new FakeDenoiser({ sampleSize: 2 }),
        codec: new PoisonedDecoder(value),
        scheduler: new FakeScheduler(),
      });
      const error = await rejection(
        pipe.generate({ prompt: 'a', seed: 1, numInferenceSteps: 2, outputType }),
      );
      expect(error.step).toBeUndefined();
      expect(error.message).toContain("the VAE decoder's output (codec.decode)");
      expect(error.message).toContain(`is ${value}`);
      expect(error.message).toContain('1 of 768 values');
    });
  }
});

describe('non-finite numbers with the real shipped model (onnxruntime-node)', () => {
  let pipe: StableDiffusionPipeline;
  beforeAll(async () => {
    pipe = await StableDiffusionPipeline.fromPretrained(shapesModelPath, { backend: nodeBackend });
  });
  afterAll(async () => {
    await pipe?.dispose();
  });

  /** The real UNet, its output multiplied by `factor` at denoiser call `at` (float32 overflow → ±Inf). */
  function overflowingUnet(real: Denoiser, at: number, factor: number): Denoiser & { calls: number } {
    const wrapped = {
      inChannels: real.inChannels,
      sampleSize: real.sampleSize,
      sizeMultiple: real.sizeMultiple,
      calls: 0,
      async predict(input: DenoiserInput): Promise<Tensor> {
        const out = await real.predict(input);
        return wrapped.calls++ === at ? out.mul(factor) : out;
      },
    };
    return wrapped;
  }

  it('the real model runs clean at these settings (the control)', async () => {
    const { images } = await pipe.generate({
      prompt: 'a red circle',
      seed: 3,
      numInferenceSteps: 8,
      outputType: 'tensor',
    });
    expect(images.data.every(Number.isFinite)).toBe(true);
  });

  it('the real UNet overflowing float32 at step 4 of 8 → NonFiniteOutputError with .step 4, nothing decoded', async () => {
    const denoiser = overflowingUnet(pipe.denoiser, 4, 1e38);
    let decodes = 0;
    const codec: LatentCodec = {
      latentChannels: pipe.codec.latentChannels,
      downscale: pipe.codec.downscale,
      encode: (image, options) => pipe.codec.encode!(image, options),
      decode: (latents) => {
        decodes++;
        return pipe.codec.decode(latents);
      },
    };
    const broken = new StableDiffusionPipeline({
      promptEncoder: pipe.promptEncoder!,
      denoiser,
      codec,
      scheduler: pipe.scheduler,
    });
    const error = await rejection(broken.generate({ prompt: 'a red circle', seed: 3, numInferenceSteps: 8 }));
    expect(error.step).toBe(4);
    expect(error.message).toContain('after step 4 of 8');
    expect(decodes).toBe(0);
  });

  it('the real VAE decoder given latents pushed to ±Infinity → NonFiniteOutputError naming the decoder', async () => {
    const codec: LatentCodec = {
      latentChannels: pipe.codec.latentChannels,
      downscale: pipe.codec.downscale,
      encode: (image, options) => pipe.codec.encode!(image, options),
      decode: (latents) => pipe.codec.decode(latents.mul(Number.POSITIVE_INFINITY)),
    };
    const broken = new StableDiffusionPipeline({
      promptEncoder: pipe.promptEncoder!,
      denoiser: pipe.denoiser,
      codec,
      scheduler: pipe.scheduler,
    });
    const error = await rejection(broken.generate({ prompt: 'a red circle', seed: 3, numInferenceSteps: 4 }));
    expect(error.step).toBeUndefined();
    expect(error.message).toContain('VAE decoder');
  });
});
