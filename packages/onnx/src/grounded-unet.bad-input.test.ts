/**
 * Bad grounding input to a grounded (GLIGEN) UnetDenoiser, and grounded graphs that break the convention:
 * one row each, a typed error naming the value, and the session never runs.
 */
import {
  type GroundingInput,
  InvalidArgumentError,
  type LatentkitError,
  ModelInvalidError,
  ShapeMismatchError,
  Tensor,
} from '@latentkit/core';
import { describe, expect, it } from 'vitest';
import { type FakeValue, fakeFactory, memorySource } from './test-support/fake-session.js';
import { groundedUnet } from './test-support/grounded-session.js';
import { UnetDenoiser } from './unet-denoiser.js';

const request = { component: 'unet', modelPath: 'unet/model.onnx', source: memorySource({}) };
const D = 6;
type ErrorClass = new (...args: never[]) => LatentkitError;

const input = (batch = 2) => ({
  sample: Tensor.full([batch, 4, 2, 2], 0.5),
  timestep: 10,
  conditioning: { encoderHiddenStates: Tensor.full([batch, 77, 8], 0.25) },
});

const good = (): GroundingInput => ({
  boxes: Tensor.zeros([2, 30, 4]),
  positiveEmbeddings: Tensor.zeros([2, 30, D]),
  masks: Tensor.zeros([2, 30]),
  enabled: true,
});

const withNaN = (t: Tensor, at = 3): Tensor => {
  const copy = t.clone();
  copy.data[at] = Number.NaN;
  return copy;
};

const cases: [string, (g: GroundingInput) => GroundingInput, ErrorClass, RegExp][] = [
  [
    'boxes with 3 rows for a batch of 2',
    (g) => ({ ...g, boxes: Tensor.zeros([3, 30, 4]) }),
    ShapeMismatchError,
    /^gligen\.boxes = \[3, 30, 4\] is invalid: expected a Tensor \[2, 30, 4\]/,
  ],
  [
    'boxes with 10 slots (not padded to 30)',
    (g) => ({ ...g, boxes: Tensor.zeros([2, 10, 4]) }),
    ShapeMismatchError,
    /^gligen\.boxes = \[2, 10, 4\].*\[2, 30, 4\]/,
  ],
  [
    'boxes of 2 values',
    (g) => ({ ...g, boxes: Tensor.zeros([2, 30, 2]) }),
    ShapeMismatchError,
    /^gligen\.boxes = \[2, 30, 2\]/,
  ],
  [
    'positiveEmbeddings of the wrong width (768 for a 6-wide UNet)',
    (g) => ({ ...g, positiveEmbeddings: Tensor.zeros([2, 30, 768]) }),
    ShapeMismatchError,
    /^gligen\.positiveEmbeddings = \[2, 30, 768\] is invalid: expected a Tensor \[2, 30, 6\].*pooled/,
  ],
  [
    'masks [2, 30, 1]',
    (g) => ({ ...g, masks: Tensor.zeros([2, 30, 1]) }),
    ShapeMismatchError,
    /^gligen\.masks = \[2, 30, 1\] is invalid: expected a Tensor \[2, 30\]/,
  ],
  [
    'masks missing',
    (g) => ({ ...g, masks: undefined as unknown as Tensor }),
    ShapeMismatchError,
    /^gligen\.masks = undefined is invalid/,
  ],
  [
    'boxes as a plain array',
    (g) => ({ ...g, boxes: [[0, 0, 1, 1]] as unknown as Tensor }),
    ShapeMismatchError,
    /^gligen\.boxes = \[\[0, 0, 1, 1\]\] is invalid/,
  ],
  [
    'NaN in the boxes',
    (g) => ({ ...g, boxes: withNaN(g.boxes) }),
    InvalidArgumentError,
    /^gligen\.boxes\[flat index 3\] = NaN is invalid: expected finite numbers/,
  ],
  [
    'Infinity in the phrase embeddings',
    (g) => {
      const e = g.positiveEmbeddings.clone();
      e.data[7] = Number.POSITIVE_INFINITY;
      return { ...g, positiveEmbeddings: e };
    },
    InvalidArgumentError,
    /^gligen\.positiveEmbeddings\[flat index 7\] = Infinity is invalid/,
  ],
  [
    'NaN in the masks',
    (g) => ({ ...g, masks: withNaN(g.masks, 0) }),
    InvalidArgumentError,
    /^gligen\.masks\[flat index 0\] = NaN/,
  ],
  [
    'enabled 1 (a number, not a boolean)',
    (g) => ({ ...g, enabled: 1 as unknown as boolean }),
    InvalidArgumentError,
    /^gligen\.enabled = 1 is invalid: expected true or false/,
  ],
];

describe('UnetDenoiser.predict: bad gligen input', () => {
  it.each(cases)('%s', async (_, change, errorClass, message) => {
    const session = groundedUnet();
    const d = new UnetDenoiser(session, fakeFactory({}), { request });
    const err = await d.predict({ ...input(), gligen: change(good()) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(errorClass);
    expect(String((err as Error).message)).toMatch(message);
    expect(session.calls).toHaveLength(0);
  });

  it('gligen that is not an object', async () => {
    const session = groundedUnet();
    const d = new UnetDenoiser(session, fakeFactory({}), { request });
    await expect(d.predict({ ...input(), gligen: 'boxes' as unknown as GroundingInput })).rejects.toThrow(
      /^gligen = "boxes" is invalid: expected \{ boxes, positiveEmbeddings, masks, enabled \}/,
    );
    expect(session.calls).toHaveLength(0);
  });
});

const graphCases: [string, FakeValue[], RegExp][] = [
  [
    'only gligen_boxes and gligen_masks',
    [
      ['gligen_boxes', 'float32', ['batch', 30, 4]],
      ['gligen_masks', 'float32', ['batch', 30]],
    ],
    /has some grounded \(GLIGEN\) inputs but not "gligen_positive_embeddings", "gligen_enabled"/,
  ],
  [
    'gligen_enabled [2]',
    [
      ['gligen_boxes', 'float32', ['batch', 30, 4]],
      ['gligen_positive_embeddings', 'float32', ['batch', 30, D]],
      ['gligen_masks', 'float32', ['batch', 30]],
      ['gligen_enabled', 'float32', [2]],
    ],
    /gligen_enabled has shape \[2\], not a scalar/,
  ],
  [
    'boxes with 16 slots, masks with 30',
    [
      ['gligen_boxes', 'float32', ['batch', 16, 4]],
      ['gligen_positive_embeddings', 'float32', ['batch', 30, D]],
      ['gligen_masks', 'float32', ['batch', 30]],
      ['gligen_enabled', 'float32', []],
    ],
    /disagree on the number of object slots \(16, 30, 30\)/,
  ],
  [
    'int64 masks',
    [
      ['gligen_boxes', 'float32', ['batch', 30, 4]],
      ['gligen_positive_embeddings', 'float32', ['batch', 30, D]],
      ['gligen_masks', 'int64', ['batch', 30]],
      ['gligen_enabled', 'float32', []],
    ],
    /input "gligen_masks" has element type int64/,
  ],
  [
    'boxes [B, 30, 5]',
    [
      ['gligen_boxes', 'float32', ['batch', 30, 5]],
      ['gligen_positive_embeddings', 'float32', ['batch', 30, D]],
      ['gligen_masks', 'float32', ['batch', 30]],
      ['gligen_enabled', 'float32', []],
    ],
    /gligen_boxes has 5 values per box, not 4/,
  ],
  [
    '1e6 object slots (the zero feeds would take B · 1e6 · D floats)',
    [
      ['gligen_boxes', 'float32', ['batch', 1_000_000, 4]],
      ['gligen_positive_embeddings', 'float32', ['batch', 1_000_000, D]],
      ['gligen_masks', 'float32', ['batch', 1_000_000]],
      ['gligen_enabled', 'float32', []],
    ],
    /the grounding inputs have 1000000 object slots \(at most 1024\)/,
  ],
  [
    'phrase embeddings 1e9 wide',
    [
      ['gligen_boxes', 'float32', ['batch', 30, 4]],
      ['gligen_positive_embeddings', 'float32', ['batch', 30, 1_000_000_000]],
      ['gligen_masks', 'float32', ['batch', 30]],
      ['gligen_enabled', 'float32', []],
    ],
    /gligen_positive_embeddings is 1000000000 wide \(at most 65536\)/,
  ],
];

describe('UnetDenoiser: grounded graphs that break the convention', () => {
  it.each(graphCases)('%s', (_, gligen, message) => {
    const make = () => new UnetDenoiser(groundedUnet(gligen), fakeFactory({}), { request });
    expect(make).toThrow(ModelInvalidError);
    expect(make).toThrow(message);
  });
});
