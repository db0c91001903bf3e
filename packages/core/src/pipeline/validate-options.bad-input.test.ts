import { fileURLToPath } from 'node:url';
import { nodeBackend } from '@latentkit/backend-node';
import { shapesModelPath } from '@latentkit/model-shapes';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { LatentkitError } from '../errors.js';
import type { LoadedPipelineParts } from '../interfaces/backend.js';
import type { Conditioning } from '../interfaces/conditioning.js';
import { Tensor } from '../tensor.js';
import type { GenerateOptions } from './generate-options.js';
import type { PipelineLimits } from './pipeline-limits.js';
import { StableDiffusionPipeline } from './stable-diffusion-pipeline.js';

// Bad inputs of generate(), run against the real shipped model (onnxruntime-node): each must fail with a
// typed error before any part runs — no prompt encoding, no UNet call, no VAE call.
// The shipped model: VAE downscale 4, UNet block_out_channels [32, 64] (size multiple 2), so images are
// multiples of 8 px; default 32×32; text hidden size 64.

let parts: LoadedPipelineParts;

beforeAll(async () => {
  parts = await nodeBackend.load(shapesModelPath, { intraOpNumThreads: 1 });
});
afterAll(async () => {
  await parts.dispose?.();
});

/** A pipeline over the real parts whose every model call is counted (the spies call through). */
function spiedPipeline(limits?: Partial<PipelineLimits>) {
  vi.restoreAllMocks();
  const spies = [
    vi.spyOn(parts.promptEncoder!, 'encode'),
    vi.spyOn(parts.denoiser, 'predict'),
    vi.spyOn(parts.codec, 'decode'),
    vi.spyOn(parts.codec, 'encode'),
  ];
  const pipe = new StableDiffusionPipeline({ ...parts, ...(limits ? { limits } : {}) });
  return { pipe, calls: () => spies.reduce((n, s) => n + s.mock.calls.length, 0) };
}

/** generate(options) rejects with `code`, a message containing each of `mentions`, and nothing ran. */
async function expectRejected(
  options: GenerateOptions,
  code: string,
  mentions: string[],
  limits?: Partial<PipelineLimits>,
): Promise<LatentkitError> {
  const { pipe, calls } = spiedPipeline(limits);
  const err = await pipe.generate(options).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(LatentkitError);
  expect((err as LatentkitError).code).toBe(code);
  for (const m of mentions) expect((err as Error).message).toContain(m);
  expect(calls()).toBe(0);
  return err as LatentkitError;
}

const base = { prompt: 'a red circle on a blue background', numInferenceSteps: 2, seed: 1 };
const withNaN = (shape: number[], at = 0, value = Number.NaN) => {
  const t = Tensor.zeros(shape);
  t.data[at] = value;
  return t;
};
const embeds = (ehs: Tensor, extra: Partial<Conditioning> = {}): Conditioning => ({
  encoderHiddenStates: ehs,
  ...extra,
});
const image = (w = 32, h = 32) => Tensor.full([1, 3, h, w], 0.5);

describe('non-finite and absurd numbers are rejected up front (issue 14 §2)', () => {
  const nonFinite: [string, GenerateOptions, string[]][] = [
    [
      'latents full of NaN',
      { ...base, latents: Tensor.full([1, 4, 8, 8], Number.NaN) },
      ['latents[0, 0, 0, 0]', 'NaN', 'finite'],
    ],
    [
      'latents with one +Infinity',
      { ...base, latents: withNaN([1, 4, 8, 8], 77, Infinity) },
      ['latents[0, 1, 1, 5] = Infinity'],
    ],
    [
      'promptEmbeds containing NaN',
      { promptEmbeds: embeds(withNaN([1, 77, 64], 100)), guidanceScale: 1, numInferenceSteps: 2 },
      ['promptEmbeds.encoderHiddenStates[0, 1, 36] = NaN'],
    ],
    [
      'negativePromptEmbeds containing -Infinity',
      {
        promptEmbeds: embeds(Tensor.zeros([1, 77, 64])),
        negativePromptEmbeds: embeds(withNaN([1, 77, 64], 5, -Infinity)),
        numInferenceSteps: 2,
      },
      ['negativePromptEmbeds.encoderHiddenStates[0, 0, 5] = -Infinity'],
    ],
    [
      'promptEmbeds.textEmbeds containing NaN',
      {
        promptEmbeds: embeds(Tensor.zeros([1, 77, 64]), { textEmbeds: withNaN([1, 64], 3) }),
        guidanceScale: 1,
        numInferenceSteps: 2,
      },
      ['promptEmbeds.textEmbeds[0, 3] = NaN'],
    ],
    [
      'guidanceScale 1e30 (the issue: an image of NaN)',
      { ...base, guidanceScale: 1e30 },
      ['guidanceScale = 1e+30', '[-100, 100]'],
    ],
    ['guidanceScale Infinity', { ...base, guidanceScale: Infinity }, ['guidanceScale = Infinity']],
    ['guidanceScale -1000', { ...base, guidanceScale: -1000 }, ['guidanceScale = -1000']],
    ['guidanceScale 100.5', { ...base, guidanceScale: 100.5 }, ['guidanceScale = 100.5']],
    ['guidanceRescale Infinity', { ...base, guidanceRescale: Infinity }, ['guidanceRescale = Infinity']],
    [
      'eta 1.5 (DDIM would take the root of a negative number)',
      { ...base, eta: 1.5 },
      ['eta = 1.5', '[0, 1]'],
    ],
    ['eta NaN', { ...base, eta: Number.NaN }, ['eta = NaN']],
    ['strength NaN', { ...base, image: image(), strength: Number.NaN }, ['strength = NaN']],
    ['image tensor with NaN', { ...base, image: withNaN([1, 3, 32, 32], 40) }, ['image[0, 0, 1, 8] = NaN']],
    [
      'maskImage tensor with Infinity',
      { ...base, image: image(), maskImage: withNaN([1, 1, 32, 32], 0, Infinity) },
      ['maskImage[0, 0, 0, 0] = Infinity'],
    ],
  ];
  it.each(nonFinite)('%s', async (_, options, mentions) => {
    await expectRejected(options, 'INVALID_ARGUMENT', mentions);
  });
});

describe('limits, checked before any allocation (issue 14 §3)', () => {
  const over: [string, GenerateOptions, string[], Partial<PipelineLimits>?][] = [
    ['width 1e9 (was a RangeError)', { ...base, width: 1e9 }, ['width = 1000000000', 'limits.maxImageSize']],
    [
      'width 100000 × height 100000 (memory grew at 230 MB/s)',
      { ...base, width: 100000, height: 100000 },
      ['width = 100000', 'at most 8192'],
    ],
    ['height 8200, just over 8192', { ...base, height: 8200 }, ['height = 8200', 'maxImageSize: 8200']],
    [
      'numImagesPerPrompt 1e6 (was a RangeError)',
      { ...base, numImagesPerPrompt: 1e6 },
      ['numImagesPerPrompt = 1000000', 'at most 64 images per call', 'maxImagesPerCall: 1000000'],
    ],
    [
      '65 prompts',
      { ...base, prompt: Array.from({ length: 65 }, () => 'a red circle') },
      ['65 prompt(s) × numImagesPerPrompt 1', 'limits.maxImagesPerCall'],
    ],
    [
      '8 prompts × 9 images each',
      { ...base, prompt: Array.from({ length: 8 }, () => 'a cat'), numImagesPerPrompt: 9 },
      ['= 72', 'at most 64'],
    ],
    [
      '16 images of 1024×1024 over the pixel budget',
      { ...base, numImagesPerPrompt: 16, width: 1024, height: 1024 },
      ['pixels per call (16 image(s) × 1024 × 1024) = 16777216', 'limits.maxPixelsPerCall'],
    ],
    [
      'an RgbaImage 9000 px wide, before it is converted',
      { ...base, image: { width: 9000, height: 8, data: new Uint8ClampedArray(9000 * 8 * 4) } },
      ['image width = 9000', 'limits.maxImageSize'],
    ],
    [
      'a lowered maxImagesPerCall',
      { ...base, numImagesPerPrompt: 3 },
      ['numImagesPerPrompt = 3', 'at most 2 images', 'maxImagesPerCall: 3'],
      { maxImagesPerCall: 2 },
    ],
    [
      'a lowered pixel budget',
      { ...base, numImagesPerPrompt: 2 },
      ['pixels per call (2 image(s) × 32 × 32) = 2048', 'at most 1024 pixels', 'maxPixelsPerCall: 2048'],
      { maxPixelsPerCall: 1024 },
    ],
  ];
  it.each(over)('%s', async (_, options, mentions, limits) => {
    await expectRejected(options, 'LIMIT_EXCEEDED', mentions, limits);
  });

  it.each([
    ['maxImagesPerCall 0', { maxImagesPerCall: 0 }, 'limits.maxImagesPerCall = 0'],
    ['maxPixelsPerCall 1.5', { maxPixelsPerCall: 1.5 }, 'limits.maxPixelsPerCall = 1.5'],
    ['an unknown limit', { maxImageSzie: 100 } as Partial<PipelineLimits>, 'limits.maxImageSzie'],
  ])('a bad limit in the constructor: %s', (_, limits, mention) => {
    expect(() => new StableDiffusionPipeline({ ...parts, limits })).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT', message: expect.stringContaining(mention) }),
    );
  });

  it('a bad limit given to fromPretrained fails before any session is made', async () => {
    const err = await StableDiffusionPipeline.fromPretrained('/nonexistent/model', {
      backend: nodeBackend,
      limits: { maxPixelsPerCall: -1 },
    }).catch((e: unknown) => e);
    expect(err).toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: expect.stringContaining('maxPixelsPerCall = -1'),
    });
  });

  it('raising a limit lets the call through (pipe.limits, between calls)', async () => {
    const { pipe } = spiedPipeline({ maxImagesPerCall: 1 });
    await expect(pipe.generate({ ...base, numImagesPerPrompt: 2 })).rejects.toMatchObject({
      code: 'LIMIT_EXCEEDED',
    });
    pipe.limits = { ...pipe.limits, maxImagesPerCall: 2 };
    const { images } = await pipe.generate({ ...base, numImagesPerPrompt: 2 });
    expect(images).toHaveLength(2);
  });
});

describe('sizes the UNet cannot run (issue 14 §4)', () => {
  it.each([
    [
      'width 36 (failed inside onnxruntime: Concat … 9 and 10)',
      { width: 36 },
      ['width = 36', 'multiple of 8', 'size multiple 2', 'use 32 or 40'],
    ],
    ['height 12', { height: 12 }, ['height = 12', 'use 8 or 16']],
    ['width 4, below the smallest size', { width: 4 }, ['width = 4', 'use 8']],
    [
      'height 8188, a multiple of 4 only, near the size limit',
      { height: 8188 },
      ['height = 8188', 'use 8184 or 8192'],
    ],
  ])('shipped model, %s', async (_, size, mentions) => {
    await expectRejected({ ...base, ...size }, 'INVALID_ARGUMENT', mentions);
  });

  it('shipped model, an img2img image of 36×32', async () => {
    await expectRejected({ ...base, image: image(36, 32) }, 'INVALID_ARGUMENT', [
      'image width = 36',
      'resize or crop the image to 32 or 40 pixels',
    ]);
  });

  it('the sd1 fixture at 72 px (a multiple of 8 that its UNet cannot run)', async () => {
    const dir = fileURLToPath(new URL('../../../../tests/fixtures/models/sd1', import.meta.url));
    const pipe = await StableDiffusionPipeline.fromPretrained(dir, { backend: nodeBackend });
    try {
      await expect(pipe.generate({ ...base, width: 72, height: 64 })).rejects.toMatchObject({
        code: 'INVALID_ARGUMENT',
        message: expect.stringContaining('width = 72 is invalid: expected a positive multiple of 16'),
      });
    } finally {
      await pipe.dispose();
    }
  });
});

describe('unknown option keys (issue 14 §8)', () => {
  it.each([
    ['num_inference_steps', 'did you mean numInferenceSteps?'],
    ['guidance_scale', 'did you mean guidanceScale?'],
    ['negative_prompt', 'did you mean negativePrompt?'],
    ['num_images_per_prompt', 'did you mean numImagesPerPrompt?'],
    ['output_type', 'did you mean outputType?'],
    ['numInferenceStep', 'did you mean numInferenceSteps?'],
    ['guidanceScal', 'did you mean guidanceScale?'],
    ['Width', 'did you mean width?'],
    ['steps', 'did you mean numInferenceSteps?'],
    ['cfg_scale', 'remove the key'],
  ])('%s', async (key, mention) => {
    await expectRejected({ ...base, [key]: 3 } as GenerateOptions, 'INVALID_ARGUMENT', [
      `generate() options key "${key}"`,
      mention,
    ]);
  });

  it('a misspelt key whose value is undefined is still rejected', async () => {
    await expectRejected({ ...base, heigth: undefined } as GenerateOptions, 'INVALID_ARGUMENT', [
      'key "heigth"',
      'did you mean height?',
    ]);
  });
});
