/**
 * Bad inputs to the pipeline's entry points and to the parts it runs (one table row each): every one
 * fails with a typed LatentkitError that names the value, never a TypeError, a crash, or a NaN image.
 * (The options of `generate()` are checked in validate-options.bad-input tests.)
 */
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError, NonFiniteOutputError, ShapeMismatchError } from '../errors.js';
import { approximateLatentsToRgb, decodeLatentsToRgb } from '../image/latent-preview.js';
import type { Backend, PipelineParts } from '../interfaces/backend.js';
import type { Conditioning } from '../interfaces/conditioning.js';
import type { DenoiserInput } from '../interfaces/denoiser.js';
import type { Scheduler } from '../interfaces/scheduler.js';
import { Tensor } from '../tensor.js';
import { type BadInputCase, thrownBy } from './bad-input-case.js';
import { StableDiffusionPipeline } from './stable-diffusion-pipeline.js';
import { FakeCodec, FakeDenoiser, FakePromptEncoder, FakeScheduler, testImage } from './test-fakes.js';

type Case = BadInputCase;

const fakeBackend: Backend = {
  name: 'fake',
  load: async () => ({
    denoiser: new FakeDenoiser(),
    codec: new FakeCodec(),
    scheduler: new FakeScheduler(),
  }),
};

function parts(overrides: Partial<PipelineParts> = {}): PipelineParts {
  return {
    promptEncoder: new FakePromptEncoder(),
    denoiser: new FakeDenoiser({ sampleSize: 2 }),
    codec: new FakeCodec(),
    scheduler: new FakeScheduler(),
    ...overrides,
  };
}

/** A generate() call on a pipeline built from `overrides`. */
function generateWith(overrides: Partial<PipelineParts>, options: object = {}) {
  return () =>
    new StableDiffusionPipeline(parts(overrides)).generate({
      prompt: 'a red circle',
      seed: 1,
      numInferenceSteps: 3,
      ...options,
    });
}

/** A FakeDenoiser whose output goes through `edit` at every call. */
function denoiserReturning(edit: (out: Tensor, call: number) => unknown): FakeDenoiser {
  const d = new FakeDenoiser({ sampleSize: 2 });
  const predict = d.predict.bind(d);
  d.predict = async (input: DenoiserInput) => edit(await predict(input), d.calls.length - 1) as Tensor;
  return d;
}

/** A FakeCodec whose decode (or encode) output goes through `edit`. */
function codecReturning(which: 'decode' | 'encode', edit: (out: Tensor) => unknown): FakeCodec {
  const c = new FakeCodec();
  const original = c[which].bind(c);
  c[which] = async (t: Tensor) => edit(await original(t)) as Tensor;
  return c;
}

function schedulerCloningTo(value: unknown): Scheduler {
  const s = new FakeScheduler() as FakeScheduler & { clone(): Scheduler };
  s.clone = () => value as Scheduler;
  return s;
}

const nan = (t: Tensor) => t.map((v, i) => (i === 3 ? Number.NaN : v));
const latents = new Tensor(new Float32Array(16), [1, 4, 2, 2]);

const cases: Case[] = [
  // fromPretrained
  {
    name: 'fromPretrained without options',
    run: () => (StableDiffusionPipeline.fromPretrained as (s: string) => unknown)('./x'),
    error: InvalidArgumentError,
    message: /^options = undefined is invalid: .*Fix: pass \{ backend: nodeBackend \}/,
  },
  {
    name: 'fromPretrained with options null',
    run: () => StableDiffusionPipeline.fromPretrained('./x', null as never),
    error: InvalidArgumentError,
    message: /^options = null is invalid/,
  },
  {
    name: 'fromPretrained with a backend name instead of options',
    run: () => StableDiffusionPipeline.fromPretrained('./x', 'node' as never),
    error: InvalidArgumentError,
    message: /^options = "node" is invalid/,
  },
  {
    name: 'fromPretrained with options but no backend',
    run: () => StableDiffusionPipeline.fromPretrained('./x', {} as never),
    error: InvalidArgumentError,
    message: /^options\.backend = undefined is invalid: .*nodeBackend/,
  },
  {
    name: 'fromPretrained with a backend without load',
    run: () => StableDiffusionPipeline.fromPretrained('./x', { backend: { name: 'x' } as never }),
    error: InvalidArgumentError,
    message: /^options\.backend = .* is invalid: expected a Backend with load/,
  },
  {
    name: 'fromPretrained without a source',
    run: () => StableDiffusionPipeline.fromPretrained(undefined as never, { backend: fakeBackend }),
    error: InvalidArgumentError,
    message: /^source = undefined is invalid: expected a model folder path or URL/,
  },
  {
    name: 'fromPretrained with an empty source',
    run: () => StableDiffusionPipeline.fromPretrained('', { backend: fakeBackend }),
    error: InvalidArgumentError,
    message: /^source = "" is invalid/,
  },
  {
    name: 'fromPretrained with a number as source',
    run: () => StableDiffusionPipeline.fromPretrained(42 as never, { backend: fakeBackend }),
    error: InvalidArgumentError,
    message: /^source = 42 is invalid/,
  },
  // constructor
  {
    name: 'constructor without parts',
    run: () => new StableDiffusionPipeline(undefined as never),
    error: InvalidArgumentError,
    message: /^parts\.denoiser = undefined is invalid/,
  },
  {
    name: 'constructor without a codec',
    run: () => new StableDiffusionPipeline({ ...parts(), codec: undefined as never }),
    error: InvalidArgumentError,
    message: /^parts\.codec = undefined is invalid: expected a LatentCodec/,
  },
  {
    name: 'constructor with a scheduler name instead of a scheduler',
    run: () => new StableDiffusionPipeline({ ...parts(), scheduler: 'DDIM' as never }),
    error: InvalidArgumentError,
    message: /^parts\.scheduler = "DDIM" is invalid: expected a Scheduler/,
  },
  // scheduler.clone
  {
    name: 'scheduler.clone() returning undefined',
    run: generateWith({ scheduler: schedulerCloningTo(undefined) }),
    error: InvalidArgumentError,
    message:
      /^scheduler\.clone\(\) = undefined is invalid: expected a new Scheduler.*Fix: make clone\(\) return/,
  },
  {
    name: 'scheduler.clone() returning a plain object',
    run: generateWith({ scheduler: schedulerCloningTo({ timesteps: [] }) }),
    error: InvalidArgumentError,
    message: /^scheduler\.clone\(\) = \[object Object\] is invalid/,
  },
  // what the parts return
  {
    name: 'denoiser output of the wrong shape',
    run: generateWith({ denoiser: denoiserReturning((t) => t.slice(0, 1)) }),
    error: ShapeMismatchError,
    message:
      /^denoiser\.predict output = \[1, 4, 2, 2\] is invalid: expected a Tensor of shape \[2, 4, 2, 2\]/,
  },
  {
    name: 'denoiser output that is not a Tensor',
    run: generateWith({ denoiser: denoiserReturning((t) => Array.from(t.data)) }),
    error: ShapeMismatchError,
    message: /^denoiser\.predict output = \[.*\] is invalid/,
  },
  {
    name: 'denoiser output with NaN at step 2',
    run: generateWith({ denoiser: denoiserReturning((t, call) => (call === 2 ? nan(t) : t)) }),
    error: NonFiniteOutputError,
    message: /^Non-finite values in the latents after step 2 of 3 .*Fix: use a usual guidance scale/,
  },
  {
    name: 'denoiser output with +Infinity at step 0, no guidance',
    run: generateWith(
      { denoiser: denoiserReturning((t) => t.map((v, i) => (i === 0 ? Number.POSITIVE_INFINITY : v))) },
      { guidanceScale: 1 },
    ),
    error: NonFiniteOutputError,
    message: /after step 0 of 3 .*the first, at flat index 0, is -Infinity/, // sample − 0.1·(+Inf)
  },
  {
    name: 'VAE decoder output with NaN',
    run: generateWith({ codec: codecReturning('decode', nan) }),
    error: NonFiniteOutputError,
    message: /^Non-finite values in the VAE decoder's output .*Fix: run the VAE decoder in fp32/,
  },
  {
    name: 'VAE decoder output of the wrong size',
    run: generateWith({
      codec: codecReturning('decode', () => new Tensor(new Float32Array(3 * 8 * 8), [1, 3, 8, 8])),
    }),
    error: ShapeMismatchError,
    message: /^codec\.decode output = \[1, 3, 8, 8\] is invalid: expected shape \[1, 3, 16, 16\]/,
  },
  {
    name: 'VAE encoder output with NaN (img2img)',
    run: generateWith({ codec: codecReturning('encode', nan) }, { image: testImage(16), strength: 0.7 }),
    error: NonFiniteOutputError,
    message: /^Non-finite values in the initial latents \(before the first step\)/,
  },
  {
    name: 'prompt encoder returning one row for two prompts',
    run: generateWith({
      promptEncoder: {
        encode: async (): Promise<Conditioning> => ({
          encoderHiddenStates: new Tensor(new Float32Array(12), [1, 3, 4]),
        }),
      },
    }),
    error: ShapeMismatchError,
    message: /^promptEncoder\.encode output batch = 1 is invalid: expected 2, one row per prompt/,
  },
  // previews
  {
    name: 'approximateLatentsToRgb with an array instead of a Tensor',
    run: () => approximateLatentsToRgb([1, 2, 3] as never),
    error: ShapeMismatchError,
    message: /^latents = \[1, 2, 3\] is invalid: expected a Tensor of shape \[N, C, h, w\]/,
  },
  {
    name: 'approximateLatentsToRgb with 3-D latents',
    run: () => approximateLatentsToRgb(new Tensor(new Float32Array(16), [4, 2, 2])),
    error: ShapeMismatchError,
    message: /^latents = a tensor of shape \[4, 2, 2\] is invalid/,
  },
  {
    name: 'approximateLatentsToRgb with 3 factor rows for 4 channels',
    run: () =>
      approximateLatentsToRgb(latents, [
        [1, 0, 0],
        [0, 1, 0],
        [0, 0, 1],
      ]),
    error: InvalidArgumentError,
    message: /^preview factors = 3 is invalid: expected 4 rows of \[R, G, B\]/,
  },
  {
    name: 'approximateLatentsToRgb with a NaN factor',
    run: () =>
      approximateLatentsToRgb(latents, [
        [1, 0, 0],
        [0, 1, 0],
        [0, 0, Number.NaN],
        [0, 0, 0],
      ]),
    error: InvalidArgumentError,
    message: /^preview factors = 4 is invalid: expected 4 rows of \[R, G, B\] \(finite numbers\)/,
  },
  {
    name: 'decodeLatentsToRgb without a codec',
    run: () => decodeLatentsToRgb(undefined as never, latents),
    error: InvalidArgumentError,
    message: /^codec = undefined is invalid: expected a LatentCodec.*Fix: pass the pipeline's codec/,
  },
  {
    name: 'decodeLatentsToRgb with a decoder that returns NaN',
    run: () => decodeLatentsToRgb(codecReturning('decode', nan), latents),
    error: NonFiniteOutputError,
    message: /VAE decoder's output/,
  },
];

describe('StableDiffusionPipeline and previews: bad inputs', () => {
  it.each(cases)('$name → typed error', async ({ run, error, message }) => {
    const thrown = await thrownBy(run);
    expect(thrown).toBeInstanceOf(error);
    expect((thrown as Error).message).toMatch(message);
  });
});
