/**
 * Bad layouts and options on the real shipped shapes layout model (packages/model-shapes/layout) through
 * StableDiffusionGLIGENPipeline on onnxruntime-node: each is a typed LatentkitError naming the value, raised
 * before onnxruntime runs — never a crash inside it, never a NaN image. One row per bad input.
 */
import { nodeBackend } from '@latentkit/backend-node';
import { LatentkitError, StableDiffusionGLIGENPipeline, Tensor } from '@latentkit/core';
import { shapesLayoutModelPath } from '@latentkit/model-shapes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const circle = { phrase: 'a red circle', box: [0.05, 0.05, 0.45, 0.45] };
const cases: [string, Record<string, unknown>, string, string][] = [
  [
    'corners swapped',
    { layout: [{ phrase: 'a red circle', box: [0.5, 0.1, 0.2, 0.4] }] },
    'INVALID_ARGUMENT',
    'layout[0].box = [0.5, 0.1, 0.2, 0.4] is invalid',
  ],
  [
    'a box in pixels',
    { layout: [{ phrase: 'a red circle', box: [2, 2, 14, 14] }] },
    'INVALID_ARGUMENT',
    'layout[0].box = [2, 2, 14, 14] is invalid',
  ],
  [
    'a NaN coordinate',
    { layout: [{ phrase: 'a red circle', box: [Number.NaN, 0, 0.5, 0.5] }] },
    'INVALID_ARGUMENT',
    'layout[0].box = [NaN, 0, 0.5, 0.5] is invalid',
  ],
  [
    '3 numbers',
    { layout: [{ phrase: 'a red circle', box: [0, 0, 0.5] }] },
    'INVALID_ARGUMENT',
    'layout[0].box = [0, 0, 0.5] is invalid',
  ],
  [
    'zero width',
    { layout: [{ phrase: 'a red circle', box: [0.2, 0.2, 0.2, 0.5] }] },
    'INVALID_ARGUMENT',
    'layout[0].box = [0.2, 0.2, 0.2, 0.5] is invalid',
  ],
  [
    'an empty phrase',
    { layout: [{ phrase: '', box: [0.1, 0.1, 0.4, 0.4] }] },
    'INVALID_ARGUMENT',
    'layout[0].phrase = "" is invalid',
  ],
  ['no objects', { layout: [] }, 'INVALID_ARGUMENT', 'layout = [] is invalid'],
  [
    '31 objects',
    { layout: Array.from({ length: 31 }, () => circle) },
    'LIMIT_EXCEEDED',
    'layout count = 31 is invalid',
  ],
  [
    'beta 1.5',
    { layout: [circle], gligenScheduledSamplingBeta: 1.5 },
    'INVALID_ARGUMENT',
    'gligenScheduledSamplingBeta = 1.5 is invalid',
  ],
  [
    'beta -0.1',
    { layout: [circle], gligenScheduledSamplingBeta: -0.1 },
    'INVALID_ARGUMENT',
    'gligenScheduledSamplingBeta = -0.1 is invalid',
  ],
  [
    'beta NaN',
    { layout: [circle], gligenScheduledSamplingBeta: Number.NaN },
    'INVALID_ARGUMENT',
    'gligenScheduledSamplingBeta = NaN is invalid',
  ],
  [
    '2 phrases for 1 box',
    { gligenPhrases: ['a red circle', 'a blue square'], gligenBoxes: [[0, 0, 0.5, 0.5]] },
    'SHAPE_MISMATCH',
    'gligenPhrases count = 2 is invalid',
  ],
  [
    'layout and phrases both',
    { layout: [circle], gligenPhrases: ['a red circle'], gligenBoxes: [[0, 0, 0.5, 0.5]] },
    'INVALID_ARGUMENT',
    'expected either layout or gligenPhrases',
  ],
  [
    'phrase embeddings of width 32 (the model has 64)',
    { gligenPhraseEmbeds: 'width 32', gligenBoxes: [[0, 0, 0.5, 0.5]] },
    'SHAPE_MISMATCH',
    'gligenPhraseEmbeds width = 32 is invalid',
  ],
  [
    'diffusers-style snake_case key',
    { layout: [circle], gligen_boxes: [[0, 0, 0.5, 0.5]] },
    'INVALID_ARGUMENT',
    'generate() options key "gligen_boxes"',
  ],
  [
    'an object with a colour key',
    { layout: [{ ...circle, color: 'red' }] },
    'INVALID_ARGUMENT',
    'layout[0] key "color" = "red" is invalid',
  ],
  [
    'width 30 (not a multiple of 8)',
    { layout: [circle], width: 30 },
    'INVALID_ARGUMENT',
    'width = 30 is invalid',
  ],
];

describe('shapes layout model: bad input', () => {
  let pipe: StableDiffusionGLIGENPipeline;
  beforeAll(async () => {
    pipe = await StableDiffusionGLIGENPipeline.fromPretrained(shapesLayoutModelPath, {
      backend: nodeBackend,
    });
  });
  afterAll(async () => {
    await pipe?.dispose?.();
  });

  it.each(cases)('%s', async (_name, patch, code, message) => {
    const options: Record<string, unknown> = {
      prompt: 'on a white background',
      numInferenceSteps: 2,
      seed: 1,
      outputType: 'latent',
      ...patch,
    };
    if (options.gligenPhraseEmbeds === 'width 32')
      options.gligenPhraseEmbeds = new Tensor(new Float32Array(32), [1, 32]);
    const err = await pipe.generate(options as never).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(LatentkitError);
    expect((err as LatentkitError).code).toBe(code);
    expect((err as LatentkitError).message).toContain(message);
    expect((err as LatentkitError).message).toContain('Fix:');
  });
});
