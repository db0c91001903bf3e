/**
 * Bad inputs to generateWithRefiner (one table row each): every one fails before the base runs (its fake
 * UNet is never called) with a typed LatentkitError naming the value, what was expected and the fix —
 * the hand-off's own options, and the refiner call's options checked against latents of the base's size.
 */
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError, NotImplementedError } from '../errors.js';
import { type BadInputCase, thrownBy } from '../pipeline/bad-input-case.js';
import { FakeSdxlPromptEncoder, FakeSdxlUnet, FakeSdxlVae } from '../pipeline/sdxl-test-fakes.js';
import { StableDiffusionXLPipeline } from '../pipeline/stable-diffusion-xl-pipeline.js';
import { FakeScheduler, testImage } from '../pipeline/test-fakes.js';
import { TorchGenerator } from '../random/torch-generator.js';
import { Tensor } from '../tensor.js';
import { generateWithRefiner } from './refiner-hand-off.js';
import type { RefinerHandOffOptions } from './refiner-hand-off-options.js';

let unets: FakeSdxlUnet[] = [];
function pipe(refiner = false): StableDiffusionXLPipeline {
  const unet = new FakeSdxlUnet(4, { timeIdCount: refiner ? 5 : 6, sampleSize: 4 });
  unets.push(unet);
  return new StableDiffusionXLPipeline(
    {
      promptEncoder: new FakeSdxlPromptEncoder(),
      denoiser: unet,
      codec: new FakeSdxlVae(),
      scheduler: new FakeScheduler(),
    },
    { requiresAestheticsScore: refiner },
  );
}

const run =
  (options: Partial<RefinerHandOffOptions> & Record<string, unknown>, base = pipe(), refiner = pipe(true)) =>
  () =>
    generateWithRefiner(base, refiner, {
      prompt: 'a cat',
      numInferenceSteps: 4,
      seed: 1,
      ...options,
    } as RefinerHandOffOptions);

const cases: BadInputCase[] = [
  {
    name: 'highNoiseFrac 1',
    run: run({ highNoiseFrac: 1 }),
    error: InvalidArgumentError,
    message: /^highNoiseFrac = 1 is invalid: expected a number in \(0, 1\).*Fix: use e\.g\. 0\.8/,
  },
  {
    name: 'highNoiseFrac 0',
    run: run({ highNoiseFrac: 0 }),
    error: InvalidArgumentError,
    message: /^highNoiseFrac = 0 is invalid: expected a number in \(0, 1\)/,
  },
  {
    name: 'highNoiseFrac as a string',
    run: run({ highNoiseFrac: '0.8' as never }),
    error: InvalidArgumentError,
    message: /^highNoiseFrac = "0\.8" is invalid: expected a number in \(0, 1\)/,
  },
  {
    name: 'highNoiseFrac NaN',
    run: run({ highNoiseFrac: Number.NaN }),
    error: InvalidArgumentError,
    message: /^highNoiseFrac = NaN is invalid/,
  },
  {
    name: 'denoisingEnd given (the switch is highNoiseFrac)',
    run: run({ denoisingEnd: 0.7 }),
    error: InvalidArgumentError,
    message: /^denoisingEnd = 0\.7 is invalid: .*Fix: pass highNoiseFrac instead/,
  },
  {
    name: 'denoisingStart given',
    run: run({ denoisingStart: 0.7 }),
    error: InvalidArgumentError,
    message: /^denoisingStart = 0\.7 is invalid: .*Fix: pass highNoiseFrac instead/,
  },
  {
    name: 'strength given',
    run: run({ strength: 0.3 }),
    error: InvalidArgumentError,
    message: /^strength = 0\.3 is invalid: .*Fix: drop strength/,
  },
  {
    name: 'promptEmbeds (two text encoders cannot share them)',
    run: run({
      prompt: undefined,
      promptEmbeds: { encoderHiddenStates: new Tensor(new Float32Array(24), [1, 3, 8]) },
    }),
    error: InvalidArgumentError,
    message: /^promptEmbeds = .* is invalid: .*different text encoders/,
  },
  {
    name: 'an image (img2img hand-off not supported)',
    run: run({ image: testImage(32) }),
    error: NotImplementedError,
    message: /image is not supported\. Fix: .*by hand/,
  },
  {
    name: 'a mask image',
    run: run({ maskImage: testImage(32) }),
    error: NotImplementedError,
    message: /maskImage is not supported\. Fix: .*maskImage, denoisingEnd/,
  },
  {
    name: 'a snake_case key (high_noise_frac)',
    run: run({ high_noise_frac: 0.8 }),
    error: InvalidArgumentError,
    message: /^generateWithRefiner key "high_noise_frac" .*did you mean highNoiseFrac\?/,
  },
  {
    name: 'options not an object',
    run: () => generateWithRefiner(pipe(), pipe(true), null as never),
    error: InvalidArgumentError,
    message: /^options = null is invalid: expected an options object/,
  },
  {
    name: 'refiner not a pipeline',
    run: () => generateWithRefiner(pipe(), {} as never, { prompt: 'a cat' }),
    error: InvalidArgumentError,
    message: /^refiner = .* is invalid: expected a StableDiffusionXLPipeline/,
  },
  {
    name: 'base not a pipeline',
    run: () => generateWithRefiner(undefined as never, pipe(true), { prompt: 'a cat' }),
    error: InvalidArgumentError,
    message: /^base = undefined is invalid: expected a StableDiffusionXLPipeline/,
  },
  {
    name: 'the refiner passed as the base (a refiner runs img2img only)',
    run: run({}, pipe(true), pipe(true)),
    error: InvalidArgumentError,
    message: /^base = .* is invalid: expected a text-to-image SDXL model.*Fix: pass the base model first/,
  },
  {
    name: 'aestheticScore with a base model as the refiner (checked before the base runs)',
    run: run({ aestheticScore: 7 }, pipe(), pipe(false)),
    error: InvalidArgumentError,
    message: /^aestheticScore = 7 is invalid: .*no aesthetic score/,
  },
  {
    name: 'a bad refiner option: aestheticScore Infinity',
    run: run({ aestheticScore: Number.POSITIVE_INFINITY }),
    error: InvalidArgumentError,
    message: /^aestheticScore = Infinity is invalid/,
  },
  {
    name: 'seed and generator together',
    run: run({ generator: new TorchGenerator(2) }),
    error: InvalidArgumentError,
    message: /^seed = 1 is invalid: expected either seed or generator, not both/,
  },
  {
    name: 'a bad base option: width not a multiple of 8',
    run: run({ width: 30 }),
    error: InvalidArgumentError,
    message: /^width = 30 is invalid/,
  },
];

describe('generateWithRefiner: bad input', () => {
  it.each(cases)('$name', async ({ run: call, error, message }) => {
    unets = [];
    const thrown = await thrownBy(call);
    expect(thrown).toBeInstanceOf(error);
    expect((thrown as Error).message).toMatch(message);
    // Nothing ran: no UNet call on either pipeline.
    expect(unets.map((u) => u.calls.length)).toEqual(unets.map(() => 0));
  });
});
