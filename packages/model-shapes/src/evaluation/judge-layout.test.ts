import { readFileSync } from 'node:fs';
import type { RgbaImage } from '@latentkit/core';
import { describe, expect, it } from 'vitest';
import { decodeFixtureImage } from '../test-support/fixture-image.js';
import type { EvalLayout } from './eval-layouts.js';
import { cropOf, judgeLayout, LAYOUT_JUDGE_THRESHOLDS } from './judge-layout.js';

// Ground truth: layouts of 1–3 shapes rendered by tools/shapes-layout/layout_data.py's render_layout (the
// renderer the layout model is trained on), written by tools/shapes-layout/render_layout_judge_fixture.py:
// 66 truth layouts (sub-pixel and pixel-aligned boxes, the palette's closest colour pairs, 6 at 64×64) and
// 10 each of wrong colour, wrong shape, missing object and a stray shape outside the boxes.
interface FixtureCase extends EvalLayout {
  kind: 'truth' | 'wrong-color' | 'wrong-shape' | 'missing' | 'stray';
  wrong?: number;
  width: number;
  height: number;
  rgb: string; // zlib-deflated RGB bytes, base64
}
const fixture = JSON.parse(
  readFileSync(new URL('../../test-fixtures/layout-judge-cases.json', import.meta.url), 'utf8'),
) as { colors: Record<string, [number, number, number]>; cases: FixtureCase[] };
const colors = fixture.colors;

const judged = fixture.cases.map((c) => ({ c, j: judgeLayout(decodeFixtureImage(c), c, { colors }) }));
const ofKind = (kind: FixtureCase['kind']) => judged.filter(({ c }) => c.kind === kind);
const describeCase = ({ c, j }: (typeof judged)[number]) =>
  `${c.kind} ${c.width}px on ${c.background}: ${j.objects
    .map(
      (o, i) =>
        `${c.objects[i]!.phrase}→${o.color} ${o.shape} (fill ${o.measurements.fillRatio.toFixed(2)}, top ${o.measurements.topShare.toFixed(2)})`,
    )
    .join('; ')}; outside ${j.outsideShare.toFixed(3)}`;

describe('judgeLayout on ground-truth renders', () => {
  it('has a fixture of ≥ 50 truth layouts with 1, 2 and 3 objects and 10 of each negative kind', () => {
    const truth = ofKind('truth');
    expect(truth.length).toBeGreaterThanOrEqual(50);
    for (const n of [1, 2, 3])
      expect(truth.filter(({ c }) => c.objects.length === n).length).toBeGreaterThan(10);
    for (const kind of ['wrong-color', 'wrong-shape', 'missing', 'stray'] as const) {
      expect(ofKind(kind)).toHaveLength(10);
    }
    expect(new Set(truth.map(({ c }) => c.width))).toEqual(new Set([32, 64]));
  });

  it('gets ≥ 98% of the truth objects right (measured: all 132)', () => {
    const objects = ofKind('truth').flatMap(({ j }) => j.objects);
    const wrong = ofKind('truth').filter(({ j }) => !j.objects.every((o) => o.right));
    expect(objects.length).toBeGreaterThanOrEqual(120);
    const right = objects.filter((o) => o.right).length;
    expect(right / objects.length, wrong.map(describeCase).join('\n')).toBeGreaterThanOrEqual(0.98);
  });

  it('keeps every truth verdict under ±20 colour noise (a generated image is never flat)', () => {
    for (const { c } of ofKind('truth')) {
      const image = decodeFixtureImage(c);
      for (let i = 0; i < image.data.length; i++) {
        if (i % 4 !== 3) image.data[i] = image.data[i]! + (((i * 2654435761) >>> 0) % 41) - 20;
      }
      const j = judgeLayout(image, c, { colors });
      expect(j.clean && j.objects.every((o) => o.right), describeCase({ c, j })).toBe(true);
    }
  });

  it('flags no truth layout as dirty outside its boxes', () => {
    const dirty = ofKind('truth').filter(({ j }) => !j.clean);
    expect(dirty.map(describeCase)).toEqual([]);
    // Every truth image has background to measure outside its boxes.
    for (const { j } of ofKind('truth')) expect(j.outsidePixels).toBeGreaterThan(0);
  });

  it.each([
    ['wrong-color', 'colorRight'],
    ['wrong-shape', 'shapeRight'],
    ['missing', 'right'],
  ] as const)('catches every %s object and only that one', (kind, verdict) => {
    for (const entry of ofKind(kind)) {
      const { c, j } = entry;
      j.objects.forEach((o, i) => {
        if (i === c.wrong) expect(o[verdict], describeCase(entry)).toBe(false);
        else expect(o.right, describeCase(entry)).toBe(true);
      });
      expect(j.allRight).toBe(false);
    }
  });

  it('reports a missing object as no colour and no shape', () => {
    for (const { c, j } of ofKind('missing')) {
      expect(j.objects[c.wrong!]).toMatchObject({ color: null, shape: null });
    }
  });

  it('flags every stray shape outside the boxes as dirty, objects still right', () => {
    for (const entry of ofKind('stray')) {
      expect(entry.j.clean, describeCase(entry)).toBe(false);
      expect(entry.j.outsideShare).toBeGreaterThan(LAYOUT_JUDGE_THRESHOLDS.maxOutsideShare);
      expect(entry.j.objects.every((o) => o.right)).toBe(true);
      expect(entry.j.allRight).toBe(false);
    }
  });
});

/** A hand-drawn image: `background`, then `paint(x, y)` returns a colour name or undefined. */
function draw(
  size: number,
  background: string,
  paint: (x: number, y: number) => string | undefined,
): RgbaImage {
  const data = new Uint8ClampedArray(size * size * 4);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const [r, g, b] = colors[paint(x + 0.5, y + 0.5) ?? background]!;
      data.set([r, g, b, 255], (y * size + x) * 4);
    }
  }
  return { width: size, height: size, data };
}

describe('judgeLayout details', () => {
  const square: EvalLayout = {
    prompt: 'on a white background',
    objects: [{ phrase: 'a red square', box: [0.25, 0.25, 0.75, 0.75] }],
  };
  const redSquare = draw(32, 'white', (x, y) => (x > 8 && x < 24 && y > 8 && y < 24 ? 'red' : undefined));

  it('reads colour, shape and background from the phrase and the prompt', () => {
    const j = judgeLayout(redSquare, square, { colors });
    expect(j).toMatchObject({ background: 'white', clean: true, allRight: true, outsideShare: 0 });
    expect(j.objects[0]).toMatchObject({
      color: 'red',
      shape: 'square',
      expected: { color: 'red', shape: 'square' },
    });
  });

  it('takes a passed background over the prompt', () => {
    // Judged against black, the white background is all "unlike the background": dirty.
    const j = judgeLayout(redSquare, square, { colors, background: 'black' });
    expect(j.background).toBe('black');
    expect(j.clean).toBe(false);
    expect(j.outsideShare).toBe(1);
  });

  it('rounds a sub-pixel box outward and keeps a box edge on a pixel edge', () => {
    expect(cropOf([0.25, 0.25, 0.75, 0.75], 32, 32)).toEqual({ x: 8, y: 8, width: 16, height: 16 });
    expect(cropOf([0.26, 0.2, 0.74, 0.9], 32, 32)).toEqual({ x: 8, y: 6, width: 16, height: 23 });
    // 0.1 · 30 = 3.0000000000000004 in floating point: still the edge of pixel 3.
    expect(cropOf([0.1, 0.1, 0.5, 0.5], 30, 30)).toEqual({ x: 3, y: 3, width: 12, height: 12 });
  });

  it('ignores a shape that spills less than the margin past its box', () => {
    // The square drawn 1 px wider than its box on every side: within the 2/64 · 32 = 1 px margin.
    const spilled = draw(32, 'white', (x, y) => (x > 7 && x < 25 && y > 7 && y < 25 ? 'red' : undefined));
    expect(judgeLayout(spilled, square, { colors }).clean).toBe(true);
    const spilled2 = draw(32, 'white', (x, y) => (x > 5 && x < 27 && y > 5 && y < 27 ? 'red' : undefined));
    expect(judgeLayout(spilled2, square, { colors }).clean).toBe(false);
  });

  it('calls a speck in the box no object', () => {
    const speck = draw(32, 'white', (x, y) => (x > 14 && x < 17 && y > 14 && y < 17 ? 'red' : undefined));
    expect(judgeLayout(speck, square, { colors }).objects[0]).toMatchObject({
      color: null,
      shape: null,
      right: false,
    });
  });
});
