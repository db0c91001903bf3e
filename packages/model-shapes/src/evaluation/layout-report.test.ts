import type { RgbaImage } from '@latentkit/core';
import { describe, expect, it } from 'vitest';
import { type EvalLayout, parseEvalLayouts, selectLayouts } from './eval-layouts.js';
import { evaluateLayouts } from './evaluate-layout.js';
import { formatLayoutFailures, formatLayoutTable, formatTarget } from './format-layout-report.js';
import type { JudgedLayout, JudgedLayoutObject } from './judge-layout.js';
import {
  type LayoutCase,
  layoutEvaluationSummary,
  objectsByTriple,
  summarizeByObjectCount,
  summarizeLayouts,
  targetsMet,
} from './layout-score.js';

/** A verdict on one object: `c` colour right, `s` shape right. */
function object(c: boolean, s: boolean): JudgedLayoutObject {
  return {
    expected: { color: 'red', shape: 'circle' },
    color: c ? 'red' : 'blue',
    shape: s ? 'circle' : null,
    colorRight: c,
    shapeRight: s,
    right: c && s,
    measurements: { crop: { x: 0, y: 0, width: 8, height: 8 }, area: 0, fillRatio: 0, topShare: 0 },
  };
}

/** A case whose layout has one object per verdict pair. */
function layoutCase(index: number, verdicts: [boolean, boolean][], clean: boolean): LayoutCase {
  const objects = verdicts.map(([c, s]) => object(c, s));
  const layout: EvalLayout = {
    prompt: 'on a white background',
    objects: verdicts.map(() => ({ phrase: 'a red circle', box: [0, 0, 0.25, 0.25] })),
  };
  const judged: JudgedLayout = {
    background: 'white',
    objects,
    outsidePixels: 100,
    outsideShare: clean ? 0 : 0.1,
    clean,
    allRight: clean && objects.every((o) => o.right),
  };
  return { index, layout, seed: index, judged };
}

const T = true;
const F = false;
// 2 objects: 4 layouts, 8 objects: 7 right (one wrong shape), colour 8/8, shape 7/8, clean 3/4, all right 2/4.
// 3 objects: 2 layouts, 6 objects: 4 right (one wrong colour, one wrong both), clean 2/2, all right 1/2.
const cases = [
  layoutCase(
    0,
    [
      [T, T],
      [T, T],
    ],
    true,
  ),
  layoutCase(
    1,
    [
      [T, T],
      [T, F],
    ],
    true,
  ),
  layoutCase(
    2,
    [
      [T, T],
      [T, T],
    ],
    false,
  ),
  layoutCase(
    3,
    [
      [T, T],
      [T, T],
    ],
    true,
  ),
  layoutCase(
    100,
    [
      [T, T],
      [F, T],
      [F, F],
    ],
    true,
  ),
  layoutCase(
    101,
    [
      [T, T],
      [T, T],
      [T, T],
    ],
    true,
  ),
];

describe('layout summary', () => {
  it('tallies objects, colour, shape, clean images and whole layouts', () => {
    expect(summarizeLayouts(cases.slice(0, 4))).toEqual({
      objects: { correct: 7, total: 8 },
      color: { correct: 8, total: 8 },
      shape: { correct: 7, total: 8 },
      clean: { correct: 3, total: 4 },
      layouts: { correct: 2, total: 4 },
    });
  });

  it('groups by objects per layout, in ascending order', () => {
    const groups = summarizeByObjectCount([...cases].reverse());
    expect([...groups.keys()]).toEqual([2, 3]);
    expect(groups.get(3)).toEqual({
      objects: { correct: 4, total: 6 },
      color: { correct: 4, total: 6 },
      shape: { correct: 5, total: 6 },
      clean: { correct: 2, total: 2 },
      layouts: { correct: 1, total: 2 },
    });
  });

  it('checks the targets on objects right: 7/8 = 87.5% ≥ 85% met, 4/6 = 66.7% < 70% missed', () => {
    expect(targetsMet(cases)).toBe(false);
    expect(targetsMet(cases, { 2: 0.85, 3: 0.6 })).toBe(true);
    // A targeted group with no layouts is not met.
    expect(targetsMet(cases.slice(0, 4))).toBe(false);
    const summary = layoutEvaluationSummary(cases);
    expect(summary.groups.map((g) => [g.objectsPerLayout, g.objectsRight, g.target, g.met])).toEqual([
      [2, 7 / 8, 0.85, true],
      [3, 4 / 6, 0.7, false],
    ]);
    expect(summary.targetsMet).toBe(false);
    expect(summary.all.objects).toEqual({ correct: 11, total: 14 });
    expect(summary.cases[4]).toMatchObject({ index: 100, seed: 100, clean: true, allRight: false });
    expect(summary.cases[4]!.objects[2]).toMatchObject({
      phrase: 'a red circle',
      color: 'blue',
      shape: null,
      right: false,
    });
  });

  it('splits objects right by held-out and seen (colour, shape, background) triples', () => {
    // Every object expects a red circle; layout 100's image is judged on black, the others on white.
    const mixed = cases.map((c) =>
      c.index === 100 ? { ...c, judged: { ...c.judged, background: 'black' } } : c,
    );
    const heldout = [{ color: 'red', shape: 'circle' as const, background: 'white' }];
    expect(objectsByTriple(mixed, heldout)).toEqual({
      heldout: { correct: 10, total: 11 },
      seen: { correct: 1, total: 3 },
    });
    expect(objectsByTriple(mixed, [])).toEqual({
      heldout: { correct: 0, total: 0 },
      seen: { correct: 11, total: 14 },
    });
  });

  it('formats a target as met, MISSED or – without one', () => {
    const two = summarizeLayouts(cases.slice(0, 4));
    expect(formatTarget(two, 0.85)).toBe('≥ 85% met');
    expect(formatTarget(two, 0.9)).toBe('≥ 90% MISSED');
    expect(formatTarget(two, undefined)).toBe('–');
  });
});

describe('layout table', () => {
  it('prints one row per object count and one for all, with counts and the targets', () => {
    const table = formatLayoutTable(cases);
    const lines = table.split('\n');
    expect(lines[0]).toMatch(
      /^layouts\s+objects right\s+colour right\s+shape right\s+clean outside boxes\s+layout all right\s+target \(objects right\)$/,
    );
    expect(lines[1]).toMatch(/^-+( +-+){6}$/);
    expect(lines[2]).toMatch(
      /^2 objects\s+87\.5% \(7\/8\)\s+100\.0% \(8\/8\)\s+87\.5% \(7\/8\)\s+75\.0% \(3\/4\)\s+50\.0% \(2\/4\)\s+≥ 85% met$/,
    );
    expect(lines[3]).toMatch(
      /^3 objects\s+66\.7% \(4\/6\)\s+66\.7% \(4\/6\)\s+83\.3% \(5\/6\)\s+100\.0% \(2\/2\)\s+50\.0% \(1\/2\)\s+≥ 70% MISSED$/,
    );
    expect(lines[4]).toMatch(
      /^all\s+78\.6% \(11\/14\)\s+85\.7% \(12\/14\)\s+85\.7% \(12\/14\)\s+83\.3% \(5\/6\)\s+50\.0% \(3\/6\)\s+–$/,
    );
    expect(lines).toHaveLength(5);
  });

  it('has no "all" row with a single group, and "1 object" in the singular', () => {
    const lines = formatLayoutTable([layoutCase(0, [[T, T]], true)]).split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[2]).toMatch(/^1 object\s+100\.0% \(1\/1\)/);
  });

  it('lists the failed layouts: wrong objects want→got and a dirty background', () => {
    const text = formatLayoutFailures(cases, 2);
    expect(text.split('\n')).toEqual([
      '  #1 seed 1 "on a white background": a red circle→red none',
      '  #2 seed 2 "on a white background": 10.0% not background outside the boxes',
      '  … and 1 more',
    ]);
  });
});

describe('selectLayouts', () => {
  const set = parseEvalLayouts({
    layouts: [2, 2, 3, 2, 3, 3].map((n) => ({
      prompt: 'on a white background',
      objects: Array.from({ length: n }, () => ({ phrase: 'a red circle', box: [0, 0, 0.5, 0.5] })),
    })),
  });
  it('takes the first N of each object count, keeping their indices', () => {
    expect(selectLayouts(set.layouts, 1)).toEqual([0, 2]);
    expect(selectLayouts(set.layouts, 2)).toEqual([0, 1, 2, 4]);
    expect(selectLayouts(set.layouts)).toEqual([0, 1, 2, 3, 4, 5]);
  });
  it('refuses a limit of 0', () => {
    expect(() => selectLayouts(set.layouts, 0)).toThrow(/limit = 0 .*positive integer/);
  });
});

describe('evaluateLayouts (the loop, with a stand-in pipeline that draws the layout)', () => {
  const colors = { white: [245, 245, 245], red: [220, 30, 30], blue: [30, 60, 220] } as Record<
    string,
    [number, number, number]
  >;
  const layouts: EvalLayout[] = [
    { prompt: 'on a white background', objects: [{ phrase: 'a red square', box: [0, 0, 0.5, 0.5] }] },
    { prompt: 'on a white background', objects: [{ phrase: 'a blue square', box: [0.5, 0.5, 1, 1] }] },
  ];
  // Draws each box as a filled square in its phrase's colour, except with seed 11 (blue drawn red).
  const calls: Record<string, unknown>[] = [];
  const pipeline = {
    generate: async (options: Record<string, unknown>) => {
      calls.push(options);
      const side = (options.width as number | undefined) ?? 16;
      const data = new Uint8ClampedArray(side * side * 4).fill(245);
      for (const { phrase, box } of options.layout as { phrase: string; box: number[] }[]) {
        const rgb = phrase.includes('red') || options.seed === 11 ? colors.red! : colors.blue!;
        for (let y = box[1]! * side; y < box[3]! * side; y++) {
          for (let x = box[0]! * side; x < box[2]! * side; x++) data.set([...rgb, 255], (y * side + x) * 4);
        }
      }
      return { images: [{ width: side, height: side, data } as RgbaImage] };
    },
  };

  it('generates each layout once with seed + its index and the sampling options, and judges it', async () => {
    const seen: number[] = [];
    const { cases: result } = await evaluateLayouts(pipeline as never, {
      layouts,
      indices: [10, 11],
      colors,
      numInferenceSteps: 3,
      guidanceScale: 2,
      gligenScheduledSamplingBeta: 0.5,
      resolution: 16,
      onProgress: (done) => seen.push(done),
    });
    expect(calls.map((c) => c.seed)).toEqual([10, 11]);
    expect(calls[0]).toMatchObject({
      prompt: 'on a white background',
      layout: [{ phrase: 'a red square', box: [0, 0, 0.5, 0.5] }],
      numInferenceSteps: 3,
      guidanceScale: 2,
      gligenScheduledSamplingBeta: 0.5,
      width: 16,
      height: 16,
    });
    expect(seen).toEqual([1, 2]);
    expect(result.map((c) => [c.index, c.seed, c.judged.allRight])).toEqual([
      [10, 10, true],
      [11, 11, false],
    ]);
    expect(result[1]!.judged.objects[0]).toMatchObject({ color: 'red', shape: 'square', colorRight: false });
  });

  it('refuses a layout it cannot judge before generating anything', async () => {
    calls.length = 0;
    const bad = [
      layouts[0]!,
      { prompt: 'shapes', objects: [{ phrase: 'a red square', box: [0, 0, 1, 1] }] },
    ] as EvalLayout[];
    await expect(
      evaluateLayouts(pipeline as never, {
        layouts: bad,
        colors,
        numInferenceSteps: 1,
        guidanceScale: 1,
        gligenScheduledSamplingBeta: 1,
      }),
    ).rejects.toThrow(/layouts\[1\]\.background = "shapes"/);
    expect(calls).toEqual([]);
  });

  it.each([
    ['no layouts', { layouts: [] }, /layouts = \[\] .*at least one layout/],
    ['a negative seed', { seed: -1 }, /seed = -1 .*non-negative integer/],
    ['indices of the wrong length', { indices: [0] }, /indices = \[0\] .*2 non-negative integers/],
    ['an unknown option', { steps: 3 }, /steps/],
  ])('refuses %s', async (_, extra, message) => {
    const options = {
      layouts,
      colors,
      numInferenceSteps: 1,
      guidanceScale: 1,
      gligenScheduledSamplingBeta: 1,
      ...extra,
    };
    await expect(evaluateLayouts(pipeline as never, options as never)).rejects.toThrow(message);
  });
});
