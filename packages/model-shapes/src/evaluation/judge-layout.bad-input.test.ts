import {
  InvalidArgumentError,
  type LatentkitError,
  ModelInvalidError,
  ShapeMismatchError,
} from '@latentkit/core';
import { describe, expect, it } from 'vitest';
import { type EvalLayout, parseEvalLayouts } from './eval-layouts.js';
import { judgeLayout } from './judge-layout.js';

const colors = { white: [245, 245, 245], red: [220, 30, 30], blue: [30, 60, 220] } as Record<
  string,
  [number, number, number]
>;
const image = { width: 32, height: 32, data: new Uint8ClampedArray(32 * 32 * 4).fill(245) };
const layout: EvalLayout = {
  prompt: 'on a white background',
  objects: [{ phrase: 'a red circle', box: [0.1, 0.1, 0.4, 0.4] }],
};
const withObject = (o: object): EvalLayout => ({ ...layout, objects: [o as EvalLayout['objects'][number]] });

type ErrorClass = new (...args: never[]) => LatentkitError;

describe('judgeLayout refuses bad input with a typed error naming the value', () => {
  const cases: [string, () => unknown, ErrorClass, RegExp][] = [
    [
      'image data of the wrong length',
      () => judgeLayout({ ...image, data: new Uint8ClampedArray(10) }, layout, { colors }),
      ShapeMismatchError,
      /image\.data\.length = 10 .*width·height·4 = 4096/,
    ],
    [
      'an image smaller than 8 px',
      () => judgeLayout({ width: 4, height: 4, data: new Uint8ClampedArray(64) }, layout, { colors }),
      InvalidArgumentError,
      /image\.width×height = \[4, 4\]/,
    ],
    [
      'no image at all',
      () => judgeLayout(undefined as never, layout, { colors }),
      InvalidArgumentError,
      /image = undefined .*RgbaImage/,
    ],
    [
      'options that are not an object',
      () => judgeLayout(image, layout, undefined as never),
      InvalidArgumentError,
      /judgeLayout\(\) options = undefined .*Fix: pass \{ colors/,
    ],
    [
      'an unknown option (typo)',
      () => judgeLayout(image, layout, { colors, backgrund: 'white' } as never),
      InvalidArgumentError,
      /backgrund.*background/,
    ],
    [
      'a colour table of one colour',
      () => judgeLayout(image, layout, { colors: { white: [1, 2, 3] } }),
      InvalidArgumentError,
      /colors = \["white"\] .*at least two colours/,
    ],
    [
      'a colour with a channel above 255',
      () => judgeLayout(image, layout, { colors: { ...colors, red: [300, 0, 0] } }),
      InvalidArgumentError,
      /colors\.red = \[300, 0, 0\] .*0–255/,
    ],
    [
      'a colour with NaN',
      () => judgeLayout(image, layout, { colors: { ...colors, red: [Number.NaN, 0, 0] } }),
      InvalidArgumentError,
      /colors\.red/,
    ],
    [
      'a layout that is no object',
      () => judgeLayout(image, null as never, { colors }),
      InvalidArgumentError,
      /layout = null/,
    ],
    [
      'no objects',
      () => judgeLayout(image, { ...layout, objects: [] }, { colors }),
      InvalidArgumentError,
      /layout\.objects = "0 objects" .*1–30/,
    ],
    [
      '31 objects',
      () => judgeLayout(image, { ...layout, objects: Array(31).fill(layout.objects[0]) }, { colors }),
      InvalidArgumentError,
      /layout\.objects = "31 objects" .*1–30 objects \(GLIGEN's slots\)/,
    ],
    [
      'no background in the prompt nor given',
      () => judgeLayout(image, { ...layout, prompt: 'shapes' }, { colors }),
      InvalidArgumentError,
      /layout\.background = "shapes" .*Fix: pass \{ background \}/,
    ],
    [
      'a background outside the palette',
      () => judgeLayout(image, layout, { colors, background: 'teal' }),
      InvalidArgumentError,
      /background = "teal" .*one of the world's colours/,
    ],
    [
      'a box with x0 > x1',
      () => judgeLayout(image, withObject({ phrase: 'a red circle', box: [0.5, 0.1, 0.2, 0.4] }), { colors }),
      InvalidArgumentError,
      /layout\.objects\[0\]\.box = \[0\.5, 0\.1, 0\.2, 0\.4\] .*0 ≤ x0 < x1 ≤ 1/,
    ],
    [
      'a box past the edge',
      () => judgeLayout(image, withObject({ phrase: 'a red circle', box: [0.1, 0.1, 0.4, 1.2] }), { colors }),
      InvalidArgumentError,
      /objects\[0\]\.box/,
    ],
    [
      'a box in pixels',
      () => judgeLayout(image, withObject({ phrase: 'a red circle', box: [3, 3, 12, 12] }), { colors }),
      InvalidArgumentError,
      /objects\[0\]\.box = \[3, 3, 12, 12\] .*fractions/,
    ],
    [
      'a box with NaN',
      () =>
        judgeLayout(image, withObject({ phrase: 'a red circle', box: [0.1, Number.NaN, 0.4, 0.4] }), {
          colors,
        }),
      InvalidArgumentError,
      /objects\[0\]\.box .*four finite numbers/,
    ],
    [
      'a box of three numbers',
      () => judgeLayout(image, withObject({ phrase: 'a red circle', box: [0.1, 0.1, 0.4] }), { colors }),
      InvalidArgumentError,
      /objects\[0\]\.box .*\[x0, y0, x1, y1\]/,
    ],
    [
      'a phrase with no colour word',
      () => judgeLayout(image, withObject({ phrase: 'a circle', box: [0.1, 0.1, 0.4, 0.4] }), { colors }),
      InvalidArgumentError,
      /objects\[0\]\.color = "a circle" .*exactly one colour word/,
    ],
    [
      'a phrase with two colour words',
      () =>
        judgeLayout(image, withObject({ phrase: 'a red and blue circle', box: [0.1, 0.1, 0.4, 0.4] }), {
          colors,
        }),
      InvalidArgumentError,
      /objects\[0\]\.color/,
    ],
    [
      'an unknown colour field',
      () =>
        judgeLayout(
          image,
          withObject({ phrase: 'x', color: 'teal', shape: 'circle', box: [0.1, 0.1, 0.4, 0.4] }),
          { colors },
        ),
      InvalidArgumentError,
      /objects\[0\]\.color = "teal"/,
    ],
    [
      'an object of the background colour',
      () =>
        judgeLayout(image, withObject({ phrase: 'a white circle', box: [0.1, 0.1, 0.4, 0.4] }), { colors }),
      InvalidArgumentError,
      /objects\[0\]\.color = "white" .*other than the background \(white\)/,
    ],
    [
      'a phrase with no shape word',
      () => judgeLayout(image, withObject({ phrase: 'a red blob', box: [0.1, 0.1, 0.4, 0.4] }), { colors }),
      InvalidArgumentError,
      /objects\[0\]\.shape = "a red blob" .*circle, square, triangle/,
    ],
    [
      'an unknown shape field',
      () =>
        judgeLayout(
          image,
          withObject({ phrase: 'x', color: 'red', shape: 'hexagon', box: [0.1, 0.1, 0.4, 0.4] }),
          { colors },
        ),
      InvalidArgumentError,
      /objects\[0\]\.shape = "hexagon"/,
    ],
  ];
  it.each(cases)('%s', (_, run, error, message) => {
    let thrown: unknown;
    try {
      run();
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(error);
    expect((thrown as Error).message).toMatch(message);
  });
});

describe('parseEvalLayouts refuses a bad heldout-layouts.json with ModelInvalidError naming the field', () => {
  const good = {
    layouts: [
      { prompt: 'on a white background', objects: [{ phrase: 'a red circle', box: [0, 0, 0.5, 0.5] }] },
    ],
  };
  const cases: [string, unknown, RegExp][] = [
    ['not an object', [], /\(root\) = \[\] .*an object/],
    ['no layouts', { layouts: [] }, /layouts = \[\] .*non-empty array/],
    ['a bad resolution', { ...good, resolution: 4 }, /resolution = 4 .*integer ≥ 8/],
    ['bad colours', { ...good, colors: { red: [1, 2] } }, /colors = .*\[r, g, b\]/],
    [
      'a layout without a prompt',
      { layouts: [{ objects: good.layouts[0]!.objects }] },
      /layouts\[0\]\.prompt = undefined .*a string/,
    ],
    [
      'a layout without objects',
      { layouts: [{ prompt: 'p', objects: [] }] },
      /layouts\[0\]\.objects = \[\] .*1–30/,
    ],
    [
      'an object without a phrase',
      { layouts: [{ prompt: 'p', objects: [{ box: [0, 0, 1, 1] }] }] },
      /layouts\[0\]\.objects\[0\] = .*phrase \(non-empty\)/,
    ],
    [
      'a box upside down',
      { layouts: [{ prompt: 'p', objects: [{ phrase: 'a', box: [0, 0.9, 1, 0.1] }] }] },
      /layouts\[0\]\.objects\[0\]\.box = \[0, 0\.9, 1, 0\.1\]/,
    ],
    [
      'an unknown shape',
      { layouts: [{ prompt: 'p', objects: [{ phrase: 'a', shape: 'star', box: [0, 0, 1, 1] }] }] },
      /objects\[0\]\.shape = "star" .*Fix: rewrite it/,
    ],
  ];
  it.each(cases)('%s', (_, json, message) => {
    expect(() => parseEvalLayouts(json)).toThrow(ModelInvalidError);
    expect(() => parseEvalLayouts(json)).toThrow(message);
  });

  it('accepts the good one', () => {
    expect(parseEvalLayouts(good).layouts).toHaveLength(1);
  });
});
