import { describe, expect, it } from 'vitest';
import {
  InvalidArgumentError,
  LatentkitError,
  LimitExceededError,
  ModelMismatchError,
  ShapeMismatchError,
} from '../errors.js';
import { LayoutEncoder } from '../layout/layout-encoder.js';
import { Tensor } from '../tensor.js';
import { type BadInputCase, thrownBy } from './bad-input-case.js';
import type { GligenGenerateOptions } from './gligen-options.js';
import {
  FakeGroundedDenoiser,
  FakePooledPromptEncoder,
  fakeGligen,
  TWO_OBJECTS,
} from './gligen-test-fakes.js';
import { StableDiffusionGLIGENPipeline } from './stable-diffusion-gligen-pipeline.js';
import { FakeCodec, FakeDenoiser, FakePromptEncoder, FakeScheduler, testImage } from './test-fakes.js';

type Case = BadInputCase;

/** A generate() call on a fake GLIGEN pipeline with `options` over a valid call (layout given unless replaced). */
function gligen(
  options: Partial<Record<keyof GligenGenerateOptions | string, unknown>>,
  pipeOptions: Parameters<typeof fakeGligen>[0] = {},
) {
  return () => {
    const { pipe } = fakeGligen(pipeOptions);
    const withLayout =
      'gligenPhrases' in options || 'gligenBoxes' in options || 'gligenPhraseEmbeds' in options
        ? {}
        : { layout: TWO_OBJECTS };
    return pipe.generate({
      prompt: 'two shapes',
      seed: 1,
      numInferenceSteps: 2,
      ...withLayout,
      ...options,
    } as GligenGenerateOptions);
  };
}

const box = (b: unknown) => gligen({ layout: [{ phrase: 'a red circle', box: b }] });
const embeds = (shape: number[], fill = 0.5) =>
  new Tensor(new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(fill), shape);
const boxes2 = TWO_OBJECTS.map((o) => o.box);
const nanEmbeds = embeds([2, 8]);
nanEmbeds.data[9] = Number.NaN;

/** A pipeline whose prompt encoder's encodePooled returns `pooled`. */
function withPooled(pooled: Tensor) {
  return () => {
    const promptEncoder = Object.assign(new FakePromptEncoder(), { encodePooled: async () => pooled });
    const pipe = new StableDiffusionGLIGENPipeline({
      denoiser: new FakeGroundedDenoiser(),
      codec: new FakeCodec(),
      scheduler: new FakeScheduler(),
      promptEncoder,
    });
    return pipe.generate({ prompt: 'a', layout: TWO_OBJECTS, seed: 1, numInferenceSteps: 1 });
  };
}

const cases: Case[] = [
  // scheduled sampling
  {
    name: 'gligenScheduledSamplingBeta above 1',
    run: gligen({ gligenScheduledSamplingBeta: 1.5 }),
    error: InvalidArgumentError,
    message: /^gligenScheduledSamplingBeta = 1.5 is invalid: expected a number in \[0, 1\].*Fix: use 0.3/,
  },
  {
    name: 'gligenScheduledSamplingBeta below 0',
    run: gligen({ gligenScheduledSamplingBeta: -0.1 }),
    error: InvalidArgumentError,
    message: /^gligenScheduledSamplingBeta = -0.1 is invalid: expected a number in \[0, 1\]/,
  },
  {
    name: 'gligenScheduledSamplingBeta NaN',
    run: gligen({ gligenScheduledSamplingBeta: Number.NaN }),
    error: InvalidArgumentError,
    message: /^gligenScheduledSamplingBeta = NaN is invalid/,
  },
  {
    name: 'gligenScheduledSamplingBeta as a string',
    run: gligen({ gligenScheduledSamplingBeta: '0.3' }),
    error: InvalidArgumentError,
    message: /^gligenScheduledSamplingBeta = "0.3" is invalid: expected a number in \[0, 1\]/,
  },
  // objects
  {
    name: 'no layout at all',
    run: gligen({ layout: undefined }),
    error: InvalidArgumentError,
    message:
      /^layout = undefined is invalid: expected the objects to place.*Fix: pass e.g. layout: \[\{ phrase/,
  },
  {
    name: 'an empty layout',
    run: gligen({ layout: [] }),
    error: InvalidArgumentError,
    message: /^layout = \[\] is invalid: expected at least one object.*Fix: give one or more objects/,
  },
  {
    name: 'empty gligenBoxes and gligenPhrases',
    run: gligen({ gligenPhrases: [], gligenBoxes: [] }),
    error: InvalidArgumentError,
    message: /^gligenBoxes = \[\] is invalid: expected at least one object/,
  },
  {
    name: '31 objects (more than the 30 slots)',
    run: gligen({
      gligenPhrases: Array.from({ length: 31 }, (_, i) => `o${i}`),
      gligenBoxes: Array.from({ length: 31 }, () => [0, 0, 0.5, 0.5]),
    }),
    error: LimitExceededError,
    message:
      /^gligenBoxes count = 31 is invalid: expected at most 30 objects.*diffusers silently keeps the first 30.*Fix: drop objects/,
  },
  {
    name: 'more phrases than boxes',
    run: gligen({ gligenPhrases: ['a', 'b', 'c'], gligenBoxes: boxes2 }),
    error: ShapeMismatchError,
    message:
      /^gligenPhrases count = 3 is invalid: expected 2, one phrase per box of gligenBoxes.*Fix: give gligenPhrases and gligenBoxes the same length/,
  },
  {
    name: 'gligenPhrases without gligenBoxes',
    run: gligen({ gligenPhrases: ['a'] }),
    error: InvalidArgumentError,
    message: /^gligenBoxes = undefined is invalid: expected one box \[x0, y0, x1, y1\] per phrase/,
  },
  {
    name: 'gligenBoxes without phrases or embeddings',
    run: gligen({ gligenBoxes: boxes2 }),
    error: InvalidArgumentError,
    message: /^gligenPhrases = undefined is invalid: expected one phrase per box.*Fix: pass gligenPhrases/,
  },
  {
    name: 'layout and gligenPhrases together',
    run: gligen({ layout: TWO_OBJECTS, gligenPhrases: ['a', 'b'], gligenBoxes: boxes2 }),
    error: InvalidArgumentError,
    message:
      /^layout = .* is invalid: expected either layout or gligenPhrases\/gligenBoxes\/gligenPhraseEmbeds, not both/,
  },
  {
    name: 'gligenPhrases and gligenPhraseEmbeds together',
    run: gligen({ gligenPhrases: ['a', 'b'], gligenPhraseEmbeds: embeds([2, 8]), gligenBoxes: boxes2 }),
    error: InvalidArgumentError,
    message:
      /^gligenPhraseEmbeds = a tensor of shape \[2, 8\] is invalid: expected either gligenPhrases or gligenPhraseEmbeds/,
  },
  {
    name: 'layout that is not a list',
    run: gligen({ layout: 'a red circle' }),
    error: InvalidArgumentError,
    message: /^layout = "a red circle" is invalid: expected a list of \{ phrase, box \}/,
  },
  {
    name: 'a layout item that is not an object',
    run: gligen({ layout: ['a red circle'] }),
    error: InvalidArgumentError,
    message: /^layout\[0\] = "a red circle" is invalid: expected an object \{ phrase, box \}/,
  },
  {
    name: 'a layout item with an unknown key',
    run: gligen({ layout: [{ phrase: 'a', box: [0, 0, 1, 1], label: 'x' }] }),
    error: InvalidArgumentError,
    message: /^layout\[0\] key "label" = "x" is invalid: expected only the keys phrase and box/,
  },
  // boxes
  {
    name: 'box with x0 = x1 (zero width)',
    run: box([0.5, 0, 0.5, 1]),
    error: InvalidArgumentError,
    message:
      /^layout\[0\].box = \[0.5, 0, 0.5, 1\] is invalid: expected a box inside the image with positive size: 0 ≤ x0 < x1 ≤ 1 and 0 ≤ y0 < y1 ≤ 1/,
  },
  {
    name: 'box with y0 > y1 (corners swapped)',
    run: box([0.1, 0.9, 0.5, 0.2]),
    error: InvalidArgumentError,
    message: /^layout\[0\].box = \[0.1, 0.9, 0.5, 0.2\] is invalid: expected a box inside the image/,
  },
  {
    name: 'box past the right edge',
    run: box([0.5, 0, 1.2, 1]),
    error: InvalidArgumentError,
    message: /^layout\[0\].box = \[0.5, 0, 1.2, 1\] is invalid/,
  },
  {
    name: 'box with a negative coordinate',
    run: box([-0.1, 0, 0.5, 0.5]),
    error: InvalidArgumentError,
    message: /^layout\[0\].box = \[-0.1, 0, 0.5, 0.5\] is invalid/,
  },
  {
    name: 'box in pixels instead of fractions',
    run: box([0, 0, 256, 256]),
    error: InvalidArgumentError,
    message:
      /^layout\[0\].box = \[0, 0, 256, 256\] is invalid.*Fix: give \[x0, y0, x1, y1\] as fractions.*pixels are divided by the width and height first/,
  },
  {
    name: 'box of 3 numbers',
    run: box([0, 0, 1]),
    error: InvalidArgumentError,
    message:
      /^layout\[0\].box = \[0, 0, 1\] is invalid: expected a box \[x0, y0, x1, y1\] of 4 finite numbers/,
  },
  {
    name: 'box holding NaN',
    run: box([0, 0, Number.NaN, 1]),
    error: InvalidArgumentError,
    message:
      /^layout\[0\].box = \[0, 0, NaN, 1\] is invalid: expected a box \[x0, y0, x1, y1\] of 4 finite numbers/,
  },
  {
    name: 'box as a string in gligenBoxes',
    run: gligen({ gligenPhrases: ['a'], gligenBoxes: ['0,0,1,1'] }),
    error: InvalidArgumentError,
    message: /^gligenBoxes\[0\] = "0,0,1,1" is invalid: expected a box/,
  },
  // phrases
  {
    name: 'empty phrase',
    run: gligen({ layout: [{ phrase: '', box: [0, 0, 1, 1] }] }),
    error: InvalidArgumentError,
    message: /^layout\[0\].phrase = "" is invalid: expected a non-empty string.*Fix: give each box a phrase/,
  },
  {
    name: 'whitespace-only phrase',
    run: gligen({ gligenPhrases: ['a', '   '], gligenBoxes: boxes2 }),
    error: InvalidArgumentError,
    message: /^gligenPhrases\[1\] = " {3}" is invalid: expected a non-empty string/,
  },
  {
    name: 'phrase that is not a string',
    run: gligen({ gligenPhrases: [42], gligenBoxes: [[0, 0, 1, 1]] }),
    error: InvalidArgumentError,
    message: /^gligenPhrases\[0\] = 42 is invalid: expected a non-empty string/,
  },
  {
    name: 'prompt encoder without encodePooled when phrases are given',
    run: () => {
      const pipe = new StableDiffusionGLIGENPipeline({
        denoiser: new FakeGroundedDenoiser(),
        codec: new FakeCodec(),
        scheduler: new FakeScheduler(),
        promptEncoder: new FakePromptEncoder(),
      });
      return pipe.generate({ prompt: 'a', layout: TWO_OBJECTS, seed: 1 });
    },
    error: InvalidArgumentError,
    message:
      /^layout = "a promptEncoder without encodePooled" is invalid: expected a promptEncoder with encodePooled.*Fix: use a prompt encoder that implements encodePooled.*or pass precomputed pooled phrase embeddings/,
  },
  {
    name: "encodePooled's width ≠ the denoiser's embeddingDim",
    run: gligen({}, { pooledDim: 16 }),
    error: ShapeMismatchError,
    message:
      /^promptEncoder.encodePooled output = \[2, 16\] is invalid: expected a Tensor \[2, 8\].*Fix: the text encoder's pooled size 16 is not the grounded UNet's 8/,
  },
  {
    name: 'encodePooled returning one row too few',
    run: withPooled(embeds([1, 8])),
    error: ShapeMismatchError,
    message:
      /^promptEncoder.encodePooled output = \[1, 8\] is invalid.*Fix: make encodePooled return one row per phrase/,
  },
  {
    name: 'encodePooled returning NaN',
    run: withPooled(nanEmbeds),
    error: InvalidArgumentError,
    message: /^promptEncoder.encodePooled output\[1, 1\] = NaN is invalid: expected finite numbers only/,
  },
  // phrase embeddings
  {
    name: 'gligenPhraseEmbeds of the wrong width',
    run: gligen({ gligenPhraseEmbeds: embeds([2, 7]), gligenBoxes: boxes2 }),
    error: ShapeMismatchError,
    message:
      /^gligenPhraseEmbeds width = 7 is invalid: expected 8, the denoiser's grounding embedding width.*Fix: encode the phrases with the text encoder of the same model/,
  },
  {
    name: 'gligenPhraseEmbeds of rank 3',
    run: gligen({ gligenPhraseEmbeds: embeds([1, 2, 8]), gligenBoxes: boxes2 }),
    error: ShapeMismatchError,
    message: /^gligenPhraseEmbeds = \[1, 2, 8\] is invalid: expected a Tensor \[n, 8\]/,
  },
  {
    name: 'gligenPhraseEmbeds with fewer rows than boxes',
    run: gligen({ gligenPhraseEmbeds: embeds([1, 8]), gligenBoxes: boxes2 }),
    error: ShapeMismatchError,
    message: /^gligenPhraseEmbeds count = 1 is invalid: expected 2, one embedding row per box of gligenBoxes/,
  },
  {
    name: 'gligenPhraseEmbeds holding NaN',
    run: gligen({ gligenPhraseEmbeds: nanEmbeds, gligenBoxes: boxes2 }),
    error: InvalidArgumentError,
    message: /^gligenPhraseEmbeds\[1, 1\] = NaN is invalid: expected finite numbers only/,
  },
  {
    name: 'gligenPhraseEmbeds as a plain array',
    run: gligen({ gligenPhraseEmbeds: [[0.1, 0.2]], gligenBoxes: [[0, 0, 1, 1]] }),
    error: ShapeMismatchError,
    message: /^gligenPhraseEmbeds = \[\[0.1, 0.2\]\] is invalid: expected a Tensor \[n, 8\]/,
  },
  // text-to-image only
  {
    name: 'image (img2img)',
    run: gligen({ image: testImage(16) }),
    error: InvalidArgumentError,
    message:
      /^image = a tensor of shape \[1, 3, 16, 16\] is invalid: expected no image, mask or strength: StableDiffusionGLIGENPipeline is text-to-image only \(diffusers' gligen_inpaint_image is not implemented\).*Fix: drop the option/,
  },
  {
    name: 'maskImage (inpainting)',
    run: gligen({ maskImage: testImage(16) }),
    error: InvalidArgumentError,
    message:
      /^maskImage = .* is invalid: expected no image, mask or strength: StableDiffusionGLIGENPipeline is text-to-image only/,
  },
  {
    name: 'strength',
    run: gligen({ strength: 0.5 }),
    error: InvalidArgumentError,
    message: /^strength = 0.5 is invalid: expected no image, mask or strength/,
  },
  {
    name: "diffusers' gligen_inpaint_image (camelCase)",
    run: gligen({ gligenInpaintImage: testImage(16) }),
    error: InvalidArgumentError,
    message:
      /^gligenInpaintImage = .* is invalid: expected no image.*gligen_inpaint_image is not implemented/,
  },
  // unknown options
  {
    name: 'snake_case gligen_phrases',
    run: gligen({ gligen_phrases: ['a'] }),
    error: InvalidArgumentError,
    message:
      /^generate\(\) options key "gligen_phrases" = \["a"\] is invalid: expected one of the known options \(.*gligenPhrases.*Fix: did you mean gligenPhrases\?/,
  },
  {
    name: 'boxes instead of gligenBoxes',
    run: gligen({ boxes: boxes2 }),
    error: InvalidArgumentError,
    message: /^generate\(\) options key "boxes" = .* is invalid.*Fix: did you mean gligenBoxes\?/,
  },
  {
    name: 'misspelt gligenScheduledSamplingBeta',
    run: gligen({ gligenScheduledSampingBeta: 0.5 }),
    error: InvalidArgumentError,
    message:
      /^generate\(\) options key "gligenScheduledSampingBeta" = 0.5 is invalid.*did you mean gligenScheduledSamplingBeta\?/,
  },
  // the shared txt2img checks still apply
  {
    name: 'width not a multiple of 8',
    run: gligen({ width: 20 }),
    error: InvalidArgumentError,
    message: /^width = 20 is invalid: expected a positive multiple of 8/,
  },
  // the model
  {
    name: 'a denoiser without grounding (constructor)',
    run: () =>
      new StableDiffusionGLIGENPipeline({
        denoiser: new FakeDenoiser(),
        codec: new FakeCodec(),
        scheduler: new FakeScheduler(),
      }),
    error: ModelMismatchError,
    message:
      /denoiser.grounding is undefined\): it is not a grounded \(GLIGEN\) UNet\. Fix: load a GLIGEN model/,
  },
  {
    name: 'a grounding spec with 0 slots',
    run: () =>
      new StableDiffusionGLIGENPipeline({
        denoiser: Object.assign(new FakeDenoiser(), { grounding: { maxObjects: 0, embeddingDim: 8 } }),
        codec: new FakeCodec(),
        scheduler: new FakeScheduler(),
      }),
    error: InvalidArgumentError,
    message: /^denoiser.grounding.maxObjects = 0 is invalid: expected an integer ≥ 1/,
  },
  {
    name: 'a replacement layout encoder returning the wrong slot count',
    run: () => {
      const pipe = new StableDiffusionGLIGENPipeline({
        denoiser: new FakeGroundedDenoiser(),
        codec: new FakeCodec(),
        scheduler: new FakeScheduler(),
        promptEncoder: new FakePooledPromptEncoder(),
        layoutEncoder: {
          encode: async () => ({
            boxes: Tensor.zeros([1, 2, 4]),
            positiveEmbeddings: Tensor.zeros([1, 2, 8]),
            masks: Tensor.zeros([1, 2]),
          }),
        },
      });
      return pipe.generate({ prompt: 'a', layout: TWO_OBJECTS, seed: 1 });
    },
    error: ShapeMismatchError,
    message: /^layout encoder output boxes = \[1, 2, 4\] is invalid: expected a Tensor of shape \[1, 30, 4\]/,
  },
  {
    name: 'LayoutEncoder.encode with a bad box names it by the encoder’s own names',
    run: () =>
      new LayoutEncoder(new FakePooledPromptEncoder(), { maxObjects: 30, embeddingDim: 8 }).encode({
        phrases: ['a'],
        boxes: [[0.9, 0, 0.1, 1]],
      }),
    error: InvalidArgumentError,
    message: /^boxes\[0\] = \[0.9, 0, 0.1, 1\] is invalid: expected a box inside the image/,
  },
  {
    name: 'LayoutEncoder.encode with phrases but no prompt encoder',
    run: () => new LayoutEncoder(undefined, { maxObjects: 30, embeddingDim: 8 }).encode(TWO_OBJECTS),
    error: InvalidArgumentError,
    message: /^layout = "no promptEncoder" is invalid: expected a promptEncoder with encodePooled/,
  },
];

describe('StableDiffusionGLIGENPipeline: bad inputs', () => {
  it.each(cases)('$name → typed error naming the value and the fix', async ({ run, error, message }) => {
    const thrown = await thrownBy(run);
    expect(thrown).toBeInstanceOf(error);
    expect(thrown).toBeInstanceOf(LatentkitError);
    expect((thrown as Error).message).toMatch(message);
  });

  it('nothing is encoded, drawn or denoised when a call is refused', async () => {
    const { pipe, denoiser, promptEncoder, codec } = fakeGligen();
    await expect(
      pipe.generate({ prompt: 'a', layout: [{ phrase: 'x', box: [0, 0, 2, 1] }], seed: 1 }),
    ).rejects.toThrow(InvalidArgumentError);
    expect(promptEncoder.calls).toHaveLength(0);
    expect(promptEncoder.pooledCalls).toHaveLength(0);
    expect(denoiser.calls).toHaveLength(0);
    expect(codec.decodeCalls).toHaveLength(0);
  });
});
