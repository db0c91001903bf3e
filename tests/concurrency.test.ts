/**
 * Issue 14 §1: several generate() calls at once on one pipeline give exactly the images each gives alone.
 * The real shipped model on onnxruntime-node; mixed schedulers (deterministic and ancestral, single- and
 * multistep), step counts, sizes, batch sizes and modes; every concurrent result bit-identical to the same
 * call run alone on a fresh scheduler.
 */
import { nodeBackend } from '@latentkit/backend-node';
import {
  type GenerateOptions,
  type Scheduler,
  StableDiffusionPipeline,
  type Tensor,
  TorchGenerator,
} from '@latentkit/core';
import { shapesModelPath } from '@latentkit/model-shapes';
import { createScheduler } from '@latentkit/schedulers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

interface Call {
  scheduler: string;
  options: GenerateOptions;
  /** img2img from an image the model made. */
  img2img?: boolean;
}

/** 10 requests as a server gets them: 5 schedulers, 5–12 steps, 24–48 px, batches of 1–2, img2img. */
const CALLS: Call[] = [
  { scheduler: 'DDIM', options: { prompt: 'a red circle', seed: 1, numInferenceSteps: 10 } },
  { scheduler: 'DDIM', options: { prompt: 'a blue square', seed: 2, numInferenceSteps: 5, width: 48 } },
  {
    scheduler: 'Euler a',
    options: { prompt: 'a green triangle', seed: 3, numInferenceSteps: 12, width: 40, height: 24 },
  },
  {
    scheduler: 'DPM++ 2M Karras',
    options: { prompt: 'a yellow circle', seed: 4, numInferenceSteps: 8, numImagesPerPrompt: 2 },
  },
  { scheduler: 'PLMS', options: { prompt: 'an orange square', seed: 5, numInferenceSteps: 11, height: 40 } },
  { scheduler: 'UniPC', options: { prompt: 'a purple triangle', seed: 6, numInferenceSteps: 7, width: 24 } },
  {
    scheduler: 'Euler a',
    options: { prompt: ['a red square', 'a blue circle'], seed: 7, numInferenceSteps: 6, guidanceScale: 1 },
  },
  {
    scheduler: 'DPM++ 2M Karras',
    options: {
      prompt: 'a white circle',
      generator: [new TorchGenerator(8), new TorchGenerator(9)],
      numImagesPerPrompt: 2,
      numInferenceSteps: 9,
      width: 32,
      height: 48,
    },
  },
  { scheduler: 'UniPC', options: { prompt: 'a green square', seed: 10, numInferenceSteps: 12, width: 40 } },
  {
    scheduler: 'DDIM',
    options: { prompt: 'a blue triangle', seed: 11, numInferenceSteps: 10, strength: 0.6 },
    img2img: true,
  },
];

/** The options of a call, with fresh generators (a generator list is used up by one call). */
function optionsOf(call: Call, image: Tensor): GenerateOptions {
  const o = call.options;
  const generator = Array.isArray(o.generator)
    ? o.generator.map((g) => new TorchGenerator((g as TorchGenerator).initialSeed()))
    : undefined;
  return {
    ...o,
    ...(generator ? { generator } : {}),
    ...(call.img2img ? { image } : {}),
    outputType: 'tensor',
  };
}

/** The shipped scheduler, seen through an object without `clone` (a user's own scheduler class). */
function withoutClone(s: Scheduler): Scheduler {
  return {
    get config() {
      return s.config;
    },
    get order() {
      return s.order;
    },
    get initNoiseSigma() {
      return s.initNoiseSigma;
    },
    get timesteps() {
      return s.timesteps;
    },
    setTimesteps: (n) => s.setTimesteps(n),
    scaleModelInput: (x, t) => s.scaleModelInput(x, t),
    step: (m, t, x, o) => s.step(m, t, x, o),
    addNoise: (x, n, t) => s.addNoise(x, n, t),
    setBeginIndex: (i) => s.setBeginIndex?.(i),
  };
}

function differingValues(a: Tensor, b: Tensor): number {
  expect(a.shape).toEqual(b.shape);
  let n = 0;
  for (let i = 0; i < a.data.length; i++) if (!Object.is(a.data[i], b.data[i])) n++;
  return n;
}

describe('concurrent generate() calls on one pipeline (real shipped model, onnxruntime-node)', () => {
  let pipe: StableDiffusionPipeline;
  let modelConfig: Readonly<Record<string, unknown>>;
  let initImage: Tensor;
  /** Each call run alone, one after another, on a fresh scheduler: the reference. */
  let alone: Tensor[];

  beforeAll(async () => {
    pipe = await StableDiffusionPipeline.fromPretrained(shapesModelPath, { backend: nodeBackend });
    modelConfig = pipe.scheduler.config;
    // The img2img call starts from an image the model made.
    initImage = (
      await pipe.generate({ prompt: 'a red square', seed: 99, numInferenceSteps: 6, outputType: 'tensor' })
    ).images;
    alone = [];
    for (const call of CALLS) {
      pipe.scheduler = createScheduler(call.scheduler, modelConfig);
      alone.push((await pipe.generate({ ...optionsOf(call, initImage), outputType: 'tensor' })).images);
    }
  });
  afterAll(async () => {
    await pipe?.dispose();
  });

  it('the schedulers under test have clone (each call runs on its own copy)', () => {
    for (const name of new Set(CALLS.map((c) => c.scheduler))) {
      expect(typeof createScheduler(name, modelConfig).clone, name).toBe('function');
    }
  });

  it('DDIM 10 and 25 steps at once on the pipeline’s scheduler (the issue’s reproduction): each as alone', async () => {
    pipe.scheduler = createScheduler('DDIM', modelConfig);
    const options = (steps: number): GenerateOptions => ({
      prompt: 'a red circle',
      seed: 1,
      numInferenceSteps: steps,
      outputType: 'tensor',
    });
    const ten = (await pipe.generate(options(10))).images as Tensor;
    const twentyFive = (await pipe.generate(options(25))).images as Tensor;
    const [a, b] = await Promise.all([pipe.generate(options(10)), pipe.generate(options(25))]);
    expect(differingValues(a.images as Tensor, ten)).toBe(0);
    expect(differingValues(b.images as Tensor, twentyFive)).toBe(0);
  });

  it('10 calls at once, pipe.scheduler swapped before each (5 schedulers, 5–12 steps, 24–48 px): each bit-identical to alone', async () => {
    const running = CALLS.map((call) => {
      pipe.scheduler = createScheduler(call.scheduler, modelConfig);
      return pipe.generate({ ...optionsOf(call, initImage), outputType: 'tensor' });
    });
    const results = await Promise.all(running);
    const diffs = results.map((r, i) => differingValues(r.images as Tensor, alone[i]!));
    expect(diffs).toEqual(CALLS.map(() => 0));
    // The parameters name the scheduler each call ran with, though pipe.scheduler changed meanwhile.
    expect(results.map((r) => r.parameters.scheduler)).toEqual(
      CALLS.map((c) => String(createScheduler(c.scheduler, modelConfig).config['_class_name'])),
    );
  });

  it('10 calls at once sharing one scheduler object per kind (as after one swap): each bit-identical to alone', async () => {
    const shared = new Map(CALLS.map((c) => [c.scheduler, createScheduler(c.scheduler, modelConfig)]));
    const results = await Promise.all(
      CALLS.map((call) =>
        new StableDiffusionPipeline({
          promptEncoder: pipe.promptEncoder!,
          denoiser: pipe.denoiser,
          codec: pipe.codec,
          scheduler: shared.get(call.scheduler)!,
        }).generate({ ...optionsOf(call, initImage), outputType: 'tensor' }),
      ),
    );
    expect(results.map((r, i) => differingValues(r.images as Tensor, alone[i]!))).toEqual(CALLS.map(() => 0));
  });

  it('a scheduler without clone: concurrent calls queue on it and still match alone', async () => {
    const picks = [0, 2, 4, 6]; // DDIM, Euler a, PLMS, Euler a (batch of 2): stateful and stochastic ones
    const results = await Promise.all(
      picks.map((i) => {
        pipe.scheduler = withoutClone(createScheduler(CALLS[i]!.scheduler, modelConfig));
        return pipe.generate({ ...optionsOf(CALLS[i]!, initImage), outputType: 'tensor' });
      }),
    );
    expect(results.map((r, k) => differingValues(r.images as Tensor, alone[picks[k]!]!))).toEqual([
      0, 0, 0, 0,
    ]);
    // One clone-less scheduler shared by calls of different step counts: queued, each still as alone.
    const one = withoutClone(createScheduler('PLMS', modelConfig));
    pipe.scheduler = one;
    const mixed = [4, 4, 4].map((i, k) => ({
      ...optionsOf(CALLS[i]!, initImage),
      numInferenceSteps: 5 + 3 * k,
      outputType: 'tensor' as const,
    }));
    const together = await Promise.all(mixed.map((o) => pipe.generate(o)));
    for (const [k, o] of mixed.entries()) {
      pipe.scheduler = createScheduler('PLMS', modelConfig);
      const single = (await pipe.generate(o)).images as Tensor;
      expect(differingValues(together[k]!.images as Tensor, single)).toBe(0);
    }
  });
});
