import { describe, expect, it } from 'vitest';
import { makeShapePrompts, SHAPE_PHRASINGS, takeShapePrompts } from './shape-prompts.js';
import { allTriples, parseShapesWorld, recommendedSampling, tripleKey } from './shapes-world.js';

// The shipped world as tools/shapes-model/data.py's world_json() writes it to heldout.json
// (colours, vocabulary and the 16 held-out triples of HELDOUT_SEED 1234).
const heldout = [
  'black circle yellow',
  'black square white',
  'black triangle orange',
  'blue triangle white',
  'green circle blue',
  'green circle purple',
  'green circle white',
  'green square yellow',
  'orange square green',
  'orange triangle white',
  'purple circle white',
  'purple square red',
  'red circle white',
  'red circle yellow',
  'red square blue',
  'red square yellow',
].map((t) => {
  const [color, shape, background] = t.split(' ');
  return { color, shape, background };
});
const world = parseShapesWorld({
  resolution: 32,
  colors: {
    red: [220, 30, 30],
    green: [30, 170, 50],
    blue: [30, 60, 220],
    yellow: [240, 220, 40],
    purple: [140, 50, 180],
    orange: [245, 140, 20],
    white: [245, 245, 245],
    black: [15, 15, 15],
  },
  shapes: ['circle', 'square', 'triangle'],
  sizes: ['small', 'large'],
  positions: ['top left', 'top right', 'bottom left', 'bottom right', 'center'],
  heldout,
});

describe('makeShapePrompts', () => {
  const prompts = makeShapePrompts(world);

  it('has ≥ 100 prompts: every held-out triple 3× and 96 seen triples', () => {
    expect(allTriples(world)).toHaveLength(168);
    expect(prompts).toHaveLength(144);
    const held = prompts.filter((p) => p.split === 'heldout');
    expect(held).toHaveLength(48);
    expect(new Set(held.map((p) => tripleKey(p.expected))).size).toBe(16);
    const seen = prompts.filter((p) => p.split === 'seen');
    const heldKeys = new Set(world.heldout.map(tripleKey));
    expect(new Set(seen.map((p) => tripleKey(p.expected))).size).toBe(96);
    expect(seen.every((p) => !heldKeys.has(tripleKey(p.expected)))).toBe(true);
  });

  it('uses every phrasing equally often, and a held-out triple never twice in one phrasing', () => {
    for (const phrasing of SHAPE_PHRASINGS) {
      expect(prompts.filter((p) => p.phrasing === phrasing && p.split === 'heldout')).toHaveLength(4);
      expect(prompts.filter((p) => p.phrasing === phrasing && p.split === 'seen')).toHaveLength(8);
    }
    const pairs = prompts
      .filter((p) => p.split === 'heldout')
      .map((p) => `${tripleKey(p.expected)}|${p.phrasing}`);
    expect(new Set(pairs).size).toBe(48);
  });

  it('writes the issue’s phrasings with the attributes they specify', () => {
    const t = { color: 'red', shape: 'circle', background: 'blue' } as const;
    const byPhrasing = Object.fromEntries(
      SHAPE_PHRASINGS.map((ph) => {
        const one = makeShapePrompts({ ...world, heldout: [t] }, { seenCount: 0, heldoutRepeats: 12 }).find(
          (p) => p.phrasing === ph,
        );
        return [ph, one];
      }),
    );
    expect(byPhrasing.plain).toMatchObject({ prompt: 'a red circle on a blue background', expected: t });
    expect(byPhrasing.plain?.expected).not.toHaveProperty('size');
    expect(byPhrasing.small).toMatchObject({
      prompt: 'a small red circle on a blue background',
      expected: { size: 'small' },
    });
    expect(byPhrasing.small?.expected).not.toHaveProperty('position');
    expect(byPhrasing.large).toMatchObject({
      prompt: 'a large red circle on a blue background',
      expected: { size: 'large', position: 'center' },
    });
    expect(byPhrasing['small top left']).toMatchObject({
      prompt: 'a small red circle at the top left on a blue background',
      expected: { size: 'small', position: 'top left' },
    });
    expect(byPhrasing['small bottom right']?.prompt).toBe(
      'a small red circle at the bottom right on a blue background',
    );
    expect(byPhrasing['small center']).toMatchObject({
      prompt: 'a small red circle in the center on a blue background',
      expected: { size: 'small', position: 'center' },
    });
    expect(byPhrasing.comma).toMatchObject({ prompt: 'red circle, blue background', expected: t });
    expect(byPhrasing['comma large']?.prompt).toBe('large red circle, blue background');
  });

  it('writes "an" before orange, as English does', () => {
    const t = { color: 'orange', shape: 'square', background: 'white' } as const;
    const u = { color: 'white', shape: 'square', background: 'orange' } as const;
    const one = (triple: typeof t | typeof u, ph: (typeof SHAPE_PHRASINGS)[number]) =>
      makeShapePrompts({ ...world, heldout: [triple] }, { seenCount: 0, heldoutRepeats: 12 }).find(
        (p) => p.phrasing === ph,
      )?.prompt;
    expect(one(t, 'plain')).toBe('an orange square on a white background');
    expect(one(t, 'small')).toBe('a small orange square on a white background');
    expect(one(u, 'plain')).toBe('a white square on an orange background');
    expect(one(u, 'comma')).toBe('white square, orange background');
  });

  it('is deterministic, and its prefixes mix phrasings', () => {
    expect(makeShapePrompts(world)).toEqual(prompts);
    // The seeded sample of seen triples (mulberry32, seed 7) — pinned so reports stay comparable.
    expect(
      prompts
        .filter((p) => p.split === 'seen')
        .slice(0, 2)
        .map((p) => p.prompt),
    ).toEqual(['a red triangle on a black background', 'a small red square on a green background']);
    const subset = takeShapePrompts(prompts, { seen: 12, heldout: 12 });
    expect(subset).toHaveLength(24);
    expect(new Set(subset.filter((p) => p.split === 'seen').map((p) => p.phrasing)).size).toBe(12);
    expect(new Set(subset.filter((p) => p.split === 'heldout').map((p) => p.phrasing)).size).toBe(12);
  });
});

describe('recommendedSampling', () => {
  it('reads the recommendation of heldout.json, falling back per key', () => {
    expect(recommendedSampling(world)).toEqual({ numInferenceSteps: 50, guidanceScale: 7.5 });
    expect(
      recommendedSampling({
        ...world,
        recommended: { num_inference_steps: 20, guidance_scale: 5, scheduler: 'DDIM' },
      }),
    ).toEqual({ numInferenceSteps: 20, guidanceScale: 5, scheduler: 'DDIM' });
    expect(recommendedSampling({ ...world, recommended: { steps: 30 } })).toEqual({
      numInferenceSteps: 30,
      guidanceScale: 7.5,
    });
  });

  it('rejects a malformed heldout.json with the field named', () => {
    expect(() =>
      parseShapesWorld({ ...world, heldout: [{ color: 'teal', shape: 'circle', background: 'red' }] }),
    ).toThrow(/heldout\[0\]\.color = "teal"/);
  });
});
