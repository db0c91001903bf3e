import { describe, expect, it } from 'vitest';
import { ModelMismatchError } from '../errors.js';
import type { Backend, LoadedPipelineParts } from '../interfaces/backend.js';
import type { LayoutInput } from '../layout/layout-input.js';
import { Tensor } from '../tensor.js';
import {
  FakeGroundedDenoiser,
  FakePooledPromptEncoder,
  fakeGligen,
  TWO_OBJECTS,
} from './gligen-test-fakes.js';
import { StableDiffusionGLIGENPipeline } from './stable-diffusion-gligen-pipeline.js';
import { FakeCodec, FakeDenoiser, FakeScheduler, promptValue } from './test-fakes.js';

/** Row `b` of a `[N, …]` tensor as a plain array. */
function row(t: Tensor, b: number): number[] {
  const size = t.size / t.shape[0]!;
  return Array.from(t.data.subarray(b * size, (b + 1) * size));
}

const fl = Math.fround;

describe('StableDiffusionGLIGENPipeline', () => {
  it("uses diffusers' defaults (50 steps, guidance 7.5, beta 0.3 → 15 grounded calls) and records the layout", async () => {
    const { pipe, denoiser, promptEncoder } = fakeGligen();
    const { images, parameters } = await pipe.generate({
      prompt: 'two shapes',
      layout: TWO_OBJECTS,
      seed: 3,
    });
    expect(denoiser.gligenCalls).toHaveLength(50);
    expect(denoiser.gligenCalls.map((g) => g!.enabled)).toEqual(Array.from({ length: 50 }, (_, i) => i < 15));
    expect(promptEncoder.pooledCalls).toEqual([['a red circle', 'a blue square']]);
    expect(images).toHaveLength(1);
    expect([images[0]!.width, images[0]!.height]).toEqual([16, 16]);
    expect(parameters).toEqual({
      mode: 'txt2img',
      width: 16,
      height: 16,
      numInferenceSteps: 50,
      guidanceScale: 7.5,
      guidanceRescale: 0,
      eta: 0,
      layout: {
        phrases: ['a red circle', 'a blue square'],
        boxes: [
          [0.05, 0.05, 0.45, 0.45],
          [0.55, 0.55, 0.95, 0.95],
        ],
        scheduledSamplingBeta: 0.3,
      },
      scheduler: 'FakeScheduler',
      schedulerConfig: { num_train_timesteps: 1000 },
      images: [{ prompt: 'two shapes', negativePrompt: '', seed: 3, batchIndex: 0 }],
    });
  });

  it('zero-pads the objects to 30 slots; boxes are float32 of the numbers given, in order', async () => {
    const { pipe, denoiser } = fakeGligen();
    const boxes: [number, number, number, number][] = [
      [0.1, 0.2, 0.3, 0.4],
      [0, 0, 1, 1],
      [0.7, 0.05, 0.9, 0.333],
    ];
    await pipe.generate({
      prompt: 'p',
      gligenPhrases: ['a', 'b', 'c'],
      gligenBoxes: boxes,
      guidanceScale: 1,
      numInferenceSteps: 1,
      seed: 1,
      outputType: 'latent',
    });
    const g = denoiser.gligenCalls[0]!;
    expect(g.boxes.shape).toEqual([1, 30, 4]);
    expect(g.positiveEmbeddings.shape).toEqual([1, 30, 8]);
    expect(g.masks.shape).toEqual([1, 30]);
    expect(row(g.boxes, 0)).toEqual([...boxes.flat().map(fl), ...Array(27 * 4).fill(0)]);
    expect(row(g.masks, 0)).toEqual([1, 1, 1, ...Array(27).fill(0)]);
    const emb = row(g.positiveEmbeddings, 0);
    ['a', 'b', 'c'].forEach((p, k) => {
      expect(emb.slice(k * 8, k * 8 + 8)).toEqual(
        Array.from({ length: 8 }, (_, j) => fl(promptValue(p) + 0.01 * j)),
      );
    });
    expect(emb.slice(24).every((v) => v === 0)).toBe(true);
  });

  it('prompt lists × numImagesPerPrompt under CFG: the same objects in every row, the uncond half with masks 0', async () => {
    const { pipe, denoiser } = fakeGligen();
    await pipe.generate({
      prompt: ['a', 'b'],
      numImagesPerPrompt: 3,
      layout: TWO_OBJECTS,
      numInferenceSteps: 2,
      seed: 1,
      outputType: 'latent',
    });
    const g = denoiser.gligenCalls[0]!;
    expect(g.masks.shape).toEqual([12, 30]);
    expect(g.boxes.shape).toEqual([12, 30, 4]);
    expect(g.positiveEmbeddings.shape).toEqual([12, 30, 8]);
    for (let b = 0; b < 12; b++) {
      expect(row(g.boxes, b)).toEqual(row(g.boxes, 0));
      expect(row(g.positiveEmbeddings, b)).toEqual(row(g.positiveEmbeddings, 0));
      const mask = row(g.masks, b);
      expect(mask.slice(0, 2)).toEqual(b < 6 ? [0, 0] : [1, 1]);
      expect(mask.slice(2).every((m) => m === 0)).toBe(true);
    }
    // The denoiser batch: uncond rows first, then the prompts repeated per image.
    const ehs = denoiser.calls[0]!.conditioning.encoderHiddenStates;
    expect(Array.from({ length: 12 }, (_, b) => ehs.data[b * 12])).toEqual([
      ...Array(6).fill(promptValue('')),
      ...Array(3).fill(promptValue('a')),
      ...Array(3).fill(promptValue('b')),
    ]);
  });

  it('without guidance the batch is the images only, every mask on', async () => {
    const { pipe, denoiser } = fakeGligen();
    await pipe.generate({
      prompt: 'a',
      numImagesPerPrompt: 2,
      layout: TWO_OBJECTS,
      guidanceScale: 1,
      numInferenceSteps: 1,
      seed: 1,
      outputType: 'latent',
    });
    const g = denoiser.gligenCalls[0]!;
    expect(g.masks.shape).toEqual([2, 30]);
    expect(row(g.masks, 0).slice(0, 3)).toEqual([1, 1, 0]);
    expect(row(g.masks, 1).slice(0, 3)).toEqual([1, 1, 0]);
  });

  it('grounding changes the result only while it is on: beta 0 equals a plain StableDiffusion run of the same denoiser', async () => {
    const off = fakeGligen();
    const grounded = await off.pipe.generate({
      prompt: 'a',
      layout: TWO_OBJECTS,
      gligenScheduledSamplingBeta: 0,
      numInferenceSteps: 3,
      seed: 9,
      outputType: 'latent',
    });
    const on = fakeGligen();
    const full = await on.pipe.generate({
      prompt: 'a',
      layout: TWO_OBJECTS,
      gligenScheduledSamplingBeta: 1,
      numInferenceSteps: 3,
      seed: 9,
      outputType: 'latent',
    });
    const { StableDiffusionPipeline } = await import('./stable-diffusion-pipeline.js');
    const plain = fakeGligen();
    const sd = new StableDiffusionPipeline({
      denoiser: plain.denoiser,
      codec: plain.codec,
      scheduler: plain.scheduler,
      promptEncoder: plain.promptEncoder,
    });
    const base = await sd.generate({ prompt: 'a', numInferenceSteps: 3, seed: 9, outputType: 'latent' });
    expect(Array.from(grounded.images.data)).toEqual(Array.from(base.images.data));
    expect(Array.from(full.images.data)).not.toEqual(Array.from(base.images.data));
  });

  it('phrase embeddings instead of phrases: no encodePooled call, the rows used as given', async () => {
    const { pipe, denoiser, promptEncoder } = fakeGligen();
    const embeds = new Tensor(
      Float32Array.from({ length: 16 }, (_, i) => i / 16),
      [2, 8],
    );
    const { parameters } = await pipe.generate({
      prompt: 'a',
      gligenPhraseEmbeds: embeds,
      gligenBoxes: TWO_OBJECTS.map((o) => o.box),
      numInferenceSteps: 1,
      seed: 1,
      outputType: 'latent',
    });
    expect(promptEncoder.pooledCalls).toEqual([]);
    expect(row(denoiser.gligenCalls[0]!.positiveEmbeddings, 1).slice(0, 16)).toEqual(Array.from(embeds.data));
    expect(parameters.layout).toEqual({ boxes: TWO_OBJECTS.map((o) => o.box), scheduledSamplingBeta: 0.3 });
  });

  it('a replacement layout conditioner: the pipeline hands it the checked layout and grows its row', async () => {
    const seen: LayoutInput[] = [];
    const layoutEncoder = {
      async encode(layout: LayoutInput) {
        seen.push(layout);
        return {
          boxes: Tensor.full([1, 30, 4], 0.5),
          positiveEmbeddings: Tensor.full([1, 30, 8], 2),
          masks: Tensor.full([1, 30], 1),
        };
      },
    };
    const denoiser = new FakeGroundedDenoiser();
    const pipe = new StableDiffusionGLIGENPipeline({
      denoiser,
      codec: new FakeCodec(),
      scheduler: new FakeScheduler(),
      promptEncoder: new FakePooledPromptEncoder(),
      layoutEncoder,
    });
    await pipe.generate({
      prompt: 'a',
      layout: TWO_OBJECTS,
      numInferenceSteps: 1,
      seed: 1,
      outputType: 'latent',
    });
    expect(seen).toEqual([
      { phrases: ['a red circle', 'a blue square'], boxes: TWO_OBJECTS.map((o) => o.box) },
    ]);
    const g = denoiser.gligenCalls[0]!;
    expect(row(g.masks, 0).every((m) => m === 0)).toBe(true);
    expect(row(g.masks, 1).every((m) => m === 1)).toBe(true);
    expect(row(g.positiveEmbeddings, 0).every((v) => v === 2)).toBe(true);
  });

  it('the same seed gives the same images; onStep sees every step; an aborted signal stops before the first call', async () => {
    const a = await fakeGligen().pipe.generate({
      prompt: 'x',
      layout: TWO_OBJECTS,
      numInferenceSteps: 3,
      seed: 4,
    });
    const steps: number[] = [];
    const b = await fakeGligen().pipe.generate({
      prompt: 'x',
      layout: TWO_OBJECTS,
      numInferenceSteps: 3,
      seed: 4,
      onStep: ({ step }) => {
        steps.push(step);
      },
    });
    expect(Array.from(a.images[0]!.data)).toEqual(Array.from(b.images[0]!.data));
    expect(steps).toEqual([0, 1, 2]);
    const { pipe, denoiser, promptEncoder } = fakeGligen();
    const controller = new AbortController();
    controller.abort(new Error('stop'));
    await expect(
      pipe.generate({ prompt: 'x', layout: TWO_OBJECTS, seed: 1, signal: controller.signal }),
    ).rejects.toThrow('stop');
    expect(denoiser.calls).toHaveLength(0);
    expect(promptEncoder.pooledCalls).toHaveLength(0);
  });

  it('fromPretrained builds the pipeline from a grounded model and keeps its disposer', async () => {
    let disposed = 0;
    const backend: Backend = {
      name: 'fake',
      load: async () =>
        ({
          denoiser: new FakeGroundedDenoiser(),
          codec: new FakeCodec(),
          scheduler: new FakeScheduler(),
          promptEncoder: new FakePooledPromptEncoder(),
          dispose: async () => {
            disposed++;
          },
        }) as LoadedPipelineParts,
    };
    const pipe = await StableDiffusionGLIGENPipeline.fromPretrained('./layout', { backend });
    const { images } = await pipe.generate({
      prompt: 'a',
      layout: TWO_OBJECTS,
      numInferenceSteps: 1,
      seed: 1,
    });
    expect(images).toHaveLength(1);
    await pipe.dispose();
    await pipe.dispose();
    expect(disposed).toBe(1);
  });

  it('fromPretrained refuses a model without a grounded UNet, releasing it first', async () => {
    let disposed = 0;
    const backend: Backend = {
      name: 'fake',
      load: async () =>
        ({
          denoiser: new FakeDenoiser(),
          codec: new FakeCodec(),
          scheduler: new FakeScheduler(),
          dispose: async () => {
            disposed++;
          },
        }) as LoadedPipelineParts,
    };
    const err = await StableDiffusionGLIGENPipeline.fromPretrained('./sd', { backend }).catch((e) => e);
    expect(err).toBeInstanceOf(ModelMismatchError);
    expect(err.message).toMatch(
      /\.\/sd is not a grounded \(GLIGEN\) model.*Fix: load a GLIGEN export.*StableDiffusionPipeline\.fromPretrained/,
    );
    expect(disposed).toBe(1);
  });
});
