/**
 * Bad inputs to StableDiffusionXLPipeline (one table row each): every one fails before any work with a
 * typed LatentkitError that names the value, what was expected and the fix — where diffusers raises, and
 * where it silently ignores the value (a denoisingEnd of 1.5, an aesthetic score on a base model).
 */
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError, LimitExceededError, ShapeMismatchError } from '../errors.js';
import type { Conditioning } from '../interfaces/conditioning.js';
import { Tensor } from '../tensor.js';
import { type BadInputCase, thrownBy } from './bad-input-case.js';
import type { SdxlGenerateOptions } from './sdxl-options.js';
import { FakeSdxlPromptEncoder, FakeSdxlUnet, FakeSdxlVae } from './sdxl-test-fakes.js';
import { StableDiffusionXLPipeline } from './stable-diffusion-xl-pipeline.js';
import { FakePromptEncoder, FakeScheduler, testImage } from './test-fakes.js';

function pipe(
  options: { refiner?: boolean; unetIds?: number; inChannels?: number; textEmbedsDim?: number } = {},
) {
  return new StableDiffusionXLPipeline(
    {
      promptEncoder: new FakeSdxlPromptEncoder(),
      denoiser: new FakeSdxlUnet(options.inChannels ?? 4, {
        timeIdCount: options.unetIds ?? (options.refiner ? 5 : 6),
        sampleSize: 4,
        ...(options.textEmbedsDim ? { textEmbedsDim: options.textEmbedsDim } : {}),
      }),
      codec: new FakeSdxlVae(),
      scheduler: new FakeScheduler(),
    },
    { requiresAestheticsScore: options.refiner ?? false },
  );
}

const gen =
  (options: Partial<SdxlGenerateOptions> & Record<string, unknown>, p = pipe()) =>
  () =>
    p.generate({ prompt: 'a cat', numInferenceSteps: 4, seed: 1, ...options } as SdxlGenerateOptions);

const embeds = (withPooled = true, rows = 1): Conditioning => ({
  encoderHiddenStates: new Tensor(new Float32Array(rows * 3 * 8).fill(0.1), [rows, 3, 8]),
  ...(withPooled ? { textEmbeds: new Tensor(new Float32Array(rows * 4).fill(0.2), [rows, 4]) } : {}),
});
const latents = (h = 4, w = 4, fill = 0.5) =>
  new Tensor(new Float32Array(4 * h * w).fill(fill), [1, 4, h, w]);
const mask = () => new Tensor(new Float32Array(32 * 32).fill(1), [1, 1, 32, 32]);

const cases: BadInputCase[] = [
  {
    name: 'originalSize not a pair',
    run: gen({ originalSize: [1024] as never }),
    error: InvalidArgumentError,
    message:
      /^originalSize = \[1024\] is invalid: expected \[height, width\] in pixels: an array of two integers ≥ 1\. Fix: pass e\.g\. originalSize: \[1024, 1024\]/,
  },
  {
    name: 'targetSize with a zero side',
    run: gen({ targetSize: [0, 512] }),
    error: InvalidArgumentError,
    message: /^targetSize = \[0, 512\] is invalid: expected .*integers ≥ 1/,
  },
  {
    name: 'negativeOriginalSize with a fraction',
    run: gen({ negativeOriginalSize: [512.5, 512] }),
    error: InvalidArgumentError,
    message: /^negativeOriginalSize = .*integers ≥ 1/,
  },
  {
    name: 'cropsCoordsTopLeft negative',
    run: gen({ cropsCoordsTopLeft: [-8, 0] }),
    error: InvalidArgumentError,
    message:
      /^cropsCoordsTopLeft = \[-8, 0\] is invalid: expected \[top, left\] in pixels: an array of two integers ≥ 0/,
  },
  {
    name: 'aestheticScore NaN on the refiner',
    run: gen({ image: testImage(32), aestheticScore: Number.NaN }, pipe({ refiner: true })),
    error: InvalidArgumentError,
    message: /^aestheticScore = NaN is invalid: expected a finite number.*Fix: use e\.g\. 6/,
  },
  {
    name: 'aestheticScore on a base model (diffusers ignores it silently)',
    run: gen({ aestheticScore: 6 }),
    error: InvalidArgumentError,
    message:
      /^aestheticScore = 6 is invalid: expected no aesthetic score: only a refiner's .*Fix: drop aestheticScore/,
  },
  {
    name: 'targetSize on the refiner (its time ids hold the aesthetic score)',
    run: gen({ image: testImage(32), targetSize: [32, 32] }, pipe({ refiner: true })),
    error: InvalidArgumentError,
    message: /^targetSize = \[32, 32\] is invalid: expected no target size: a refiner's/,
  },
  {
    name: 'denoisingEnd 1 (outside (0, 1); diffusers ignores it)',
    run: gen({ denoisingEnd: 1 }),
    error: InvalidArgumentError,
    message: /^denoisingEnd = 1 is invalid: expected a number strictly between 0 and 1.*Fix: use e\.g\. 0\.8/,
  },
  {
    name: 'denoisingStart NaN',
    run: gen({ image: testImage(32), denoisingStart: Number.NaN }),
    error: InvalidArgumentError,
    message: /^denoisingStart = NaN is invalid: expected a number strictly between 0 and 1/,
  },
  {
    name: 'denoisingStart for txt2img',
    run: gen({ denoisingStart: 0.8 }),
    error: InvalidArgumentError,
    message: /^denoisingStart = 0\.8 is invalid: expected an image to continue from.*Fix: pass image/,
  },
  {
    name: 'denoisingStart ≥ denoisingEnd',
    run: gen({ image: testImage(32), denoisingStart: 0.8, denoisingEnd: 0.5 }),
    error: InvalidArgumentError,
    message: /^denoisingStart = 0\.8 is invalid: expected less than denoisingEnd 0\.5/,
  },
  {
    name: 'denoisingStart that leaves no timestep',
    run: gen({ image: testImage(32), denoisingStart: 0.95 }),
    error: InvalidArgumentError,
    message:
      /^denoisingStart = 0\.95 is invalid: expected a fraction that leaves at least one timestep below its cutoff 50.*Fix: lower denoisingStart/,
  },
  {
    name: 'denoisingEnd that keeps no timestep',
    run: gen({ denoisingEnd: 0.05 }),
    error: InvalidArgumentError,
    message:
      /^denoisingEnd = 0\.05 is invalid: expected a fraction that keeps at least one timestep at or above its cutoff 950 \(the run's first timestep is 400\)/,
  },
  {
    name: 'latents with denoisingStart',
    run: gen({
      image: testImage(32),
      maskImage: mask(),
      latents: latents(),
      denoisingStart: 0.5,
    }),
    error: InvalidArgumentError,
    message: /^latents = .* is invalid: expected no latents with denoisingStart/,
  },
  {
    name: 'promptEmbeds without the pooled textEmbeds',
    run: gen({ prompt: undefined, promptEmbeds: embeds(false) }),
    error: InvalidArgumentError,
    message: /^promptEmbeds\.textEmbeds = undefined is invalid: expected the pooled text embeddings/,
  },
  {
    name: 'negativePromptEmbeds without the pooled textEmbeds',
    run: gen({ prompt: undefined, promptEmbeds: embeds(), negativePromptEmbeds: { ...embeds(false) } }),
    error: ShapeMismatchError,
    message: /^negativePromptEmbeds\.textEmbeds = "missing" is invalid: expected present, as in promptEmbeds/,
  },
  {
    name: 'promptEmbeds with timeIds (the pipeline makes them)',
    run: gen({
      prompt: undefined,
      promptEmbeds: { ...embeds(), timeIds: new Tensor(new Float32Array(6), [1, 6]) },
    }),
    error: InvalidArgumentError,
    message: /^promptEmbeds\.timeIds = \[1, 6\] is invalid: expected no timeIds/,
  },
  {
    name: 'pooled width the UNet does not take',
    run: gen({ prompt: undefined, promptEmbeds: embeds() }, pipe({ textEmbedsDim: 1280 })),
    error: ShapeMismatchError,
    message: /^promptEmbeds\.textEmbeds width = 4 is invalid: expected 1280/,
  },
  {
    name: 'a refiner UNet (5 time ids) with the base config',
    run: gen({ image: testImage(32) }, pipe({ unetIds: 5 })),
    error: InvalidArgumentError,
    message:
      /^requiresAestheticsScore = false is invalid: expected true: the denoiser takes 5 time ids.*Fix: construct the pipeline with \{ requiresAestheticsScore: true \}/,
  },
  {
    name: 'a base UNet (6 time ids) with the refiner config',
    run: gen({ image: testImage(32) }, pipe({ refiner: true, unetIds: 6 })),
    error: InvalidArgumentError,
    message: /^requiresAestheticsScore = true is invalid: expected false: the denoiser takes 6 time ids/,
  },
  {
    name: 'txt2img on the refiner',
    run: gen({}, pipe({ refiner: true })),
    error: InvalidArgumentError,
    message:
      /^image = undefined is invalid: expected an image .*a refiner \(requiresAestheticsScore\) runs img2img and inpainting only/,
  },
  {
    name: 'prompt2 with promptEmbeds',
    run: gen({ prompt: undefined, promptEmbeds: embeds(), prompt2: 'x' }),
    error: InvalidArgumentError,
    message: /^prompt2 = "x" is invalid: expected prompt2 together with prompt/,
  },
  {
    name: 'prompt2 list of the wrong length',
    run: gen({ prompt: ['a', 'b'], prompt2: ['x'] }),
    error: InvalidArgumentError,
    message: /^prompt2 length = 1 is invalid: expected 2, the number of prompts/,
  },
  {
    name: 'negativePrompt2 with negativePromptEmbeds',
    run: gen({
      prompt: undefined,
      promptEmbeds: embeds(),
      negativePromptEmbeds: embeds(),
      negativePrompt2: 'x',
    }),
    error: InvalidArgumentError,
    message: /^negativePrompt2 = "x" is invalid: expected either negativePrompt2 or negativePromptEmbeds/,
  },
  {
    name: 'negativePrompt2 not a string',
    run: gen({ negativePrompt: 'blur', negativePrompt2: 3 as never }),
    error: InvalidArgumentError,
    message: /^negativePrompt2 = 3 is invalid: expected a string or an array of strings/,
  },
  {
    name: 'latents image whose size the UNet cannot take (sizeMultiple)',
    run: () => {
      const p = pipe();
      Object.assign(p.denoiser, { sizeMultiple: 4 });
      return gen({ image: latents(6, 4) }, p)();
    },
    error: InvalidArgumentError,
    message: /^image \(latents\) height = 6 is invalid: expected a multiple of 4 latent pixels/,
  },
  {
    name: 'latents image with NaN',
    run: gen({ image: latents(4, 4, Number.NaN), denoisingStart: 0.5 }),
    error: InvalidArgumentError,
    message: /^image \(latents\)\[0, 0, 0, 0\] = NaN is invalid: expected finite numbers only/,
  },
  {
    name: 'latents image larger than limits.maxImageSize',
    run: () => {
      const p = pipe();
      p.limits = { ...p.limits, maxImageSize: 16 };
      return gen({ image: latents(4, 4) }, p)();
    },
    error: LimitExceededError,
    message: /^image width \(latents width 4 × 8\) = 32 is invalid: expected at most 16 pixels/,
  },
  {
    name: 'latents image with width that does not match',
    run: gen({ image: latents(4, 4), width: 64 }),
    error: ShapeMismatchError,
    message: /^width×height = \[64, 32\] is invalid: expected 32×32, the size of image \(latents × 8\)/,
  },
  {
    name: 'latents image to a 9-channel inpainting UNet',
    run: gen({ image: latents(), maskImage: mask() }, pipe({ inChannels: 9 })),
    error: InvalidArgumentError,
    message:
      /^image = \[1, 4, 4, 4\] is invalid: expected a picture \[B, 3, H, W\] for a 9-channel inpainting UNet/,
  },
  {
    name: 'a prompt encoder without pooled embeddings (an SD 1.x encoder)',
    run: () =>
      new StableDiffusionXLPipeline({
        promptEncoder: new FakePromptEncoder(),
        denoiser: new FakeSdxlUnet(),
        codec: new FakeSdxlVae(),
        scheduler: new FakeScheduler(),
      }).generate({ prompt: 'a', numInferenceSteps: 1, seed: 1, width: 32, height: 32 }),
    error: InvalidArgumentError,
    message:
      /^promptEncoder\.encode output textEmbeds = undefined is invalid: expected the pooled text embeddings.*Fix: load the model's SDXL prompt encoder/,
  },
  {
    name: 'a prompt encoder whose pooled width the UNet does not take',
    run: gen({}, pipe({ textEmbedsDim: 1280 })),
    error: ShapeMismatchError,
    message: /^textEmbeds width = 4 is invalid: expected 1280, the denoiser's text_embeds width/,
  },
  {
    name: 'a LoRA tag in prompt2 naming no loaded adapter',
    run: gen({ prompt2: '<lora:pink:0.5> a cat' }),
    error: InvalidArgumentError,
    message:
      /^LoRA prompt tag = "<lora:pink>" is invalid: expected the name of a loaded LoRA adapter \(none is loaded\)/,
  },
  {
    name: 'an unknown option (a diffusers snake_case name)',
    run: gen({ denoising_end: 0.8 }),
    error: InvalidArgumentError,
    message: /denoising_end.*denoisingEnd/,
  },
];

describe('StableDiffusionXLPipeline: bad inputs', () => {
  it.each(cases)('$name → typed error', async ({ run, error, message }) => {
    const thrown = await thrownBy(run);
    expect(thrown).toBeInstanceOf(error);
    expect((thrown as Error).message).toMatch(message);
  });
});
