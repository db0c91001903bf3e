import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { decodeFixtureImage } from '../test-support/fixture-image.js';
import { type AdherenceCase, SHAPE_ATTRIBUTES, scoreJudgement } from './adherence-score.js';
import { conceptAccuracy, makeConceptPrompts } from './concept-prompts.js';
import { judgeShapeImage } from './judge-image.js';
import { SHAPE_PHRASINGS } from './shape-prompts.js';
import { parseShapesWorld, withExtraColors } from './shapes-world.js';

// Ground truth for the pink adapters' judge: clean renders of PINK shapes by tools/shapes-model/data.py's
// renderer (training-time jitter) on the palette colours nearest to pink and a far one, written by
// tools/shapes-adapters/render_pink_fixture.py; and the 60 renders of the 8-colour world (judge-cases.json).
interface FixtureCase {
  color: string;
  shape: string;
  background: string;
  size: string;
  position: string;
  width: number;
  height: number;
  rgb: string;
}
type Fixture = { colors: Record<string, [number, number, number]>; cases: FixtureCase[] };
const load = (name: string) =>
  JSON.parse(readFileSync(new URL(`../../test-fixtures/${name}`, import.meta.url), 'utf8')) as Fixture;
const pinkFixture = load('pink-judge-cases.json');
const worldFixture = load('judge-cases.json');
const adapters = JSON.parse(
  readFileSync(new URL('../../adapters/adapters.json', import.meta.url), 'utf8'),
) as { pink: { rgb: [number, number, number] } };
const world = parseShapesWorld(
  JSON.parse(readFileSync(new URL('../../model/heldout.json', import.meta.url), 'utf8')),
);
const pinkWorld = withExtraColors(world, { pink: adapters.pink.rgb });

describe('withExtraColors: the judge with pink', () => {
  it('adds pink after the world’s own colours, the RGB of adapters.json = the fixture’s', () => {
    expect(Object.keys(pinkWorld.colors)).toEqual([...Object.keys(world.colors), 'pink']);
    expect(pinkWorld.colors.pink).toEqual(pinkFixture.colors.pink);
    expect(pinkWorld.heldout).toBe(world.heldout);
    expect(Object.keys(world.colors)).not.toContain('pink'); // the world itself is unchanged
  });

  it('judges every attribute of 18 pink renders right (every shape × layout; purple, white, orange, red, green)', () => {
    expect(pinkFixture.cases).toHaveLength(18);
    const wrong: string[] = [];
    for (const c of pinkFixture.cases) {
      const judged = judgeShapeImage(decodeFixtureImage(c), pinkWorld.colors);
      for (const key of SHAPE_ATTRIBUTES) {
        if (judged[key] !== c[key])
          wrong.push(`${c.size} pink ${c.shape} ${c.position} on ${c.background}: ${key} → ${judged[key]}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('reads pink as its nearest world colour, purple (or no shape on purple), with the world’s own 8 colours', () => {
    for (const c of pinkFixture.cases) {
      const judged = judgeShapeImage(decodeFixtureImage(c), world.colors);
      expect(judged.color, `pink ${c.shape} on ${c.background}`).toBe(
        c.background === 'purple' ? null : 'purple',
      );
    }
  });

  it('gives the 60 renders of the 8-colour world the same verdicts with pink in the palette', () => {
    expect(worldFixture.cases).toHaveLength(60);
    for (const c of worldFixture.cases) {
      const image = decodeFixtureImage(c);
      const { measurements: _a, ...plain } = judgeShapeImage(image, world.colors);
      const { measurements: _b, ...withPink } = judgeShapeImage(image, pinkWorld.colors);
      expect(withPink, `${c.color} ${c.shape} on ${c.background}`).toEqual(plain);
    }
  });
});

describe('makeConceptPrompts', () => {
  const prompts = makeConceptPrompts(pinkWorld, 'pink');

  it('asks for every shape on every other colour twice (48), cycling all 12 phrasings', () => {
    expect(prompts).toHaveLength(2 * 3 * 8);
    const pairs = new Map<string, number>();
    for (const p of prompts) {
      const key = `${p.expected.shape} on ${p.expected.background}`;
      pairs.set(key, (pairs.get(key) ?? 0) + 1);
    }
    expect(pairs.size).toBe(24);
    expect([...pairs.values()].every((n) => n === 2)).toBe(true);
    expect(prompts.some((p) => p.expected.background === 'pink')).toBe(false);
    expect(new Set(prompts.map((p) => p.phrasing))).toEqual(new Set(SHAPE_PHRASINGS));
    expect(prompts.every((p) => p.expected.color === 'pink' && p.split === 'seen')).toBe(true);
  });

  it('writes the word it is given (a textual-inversion token) but expects the judged colour', () => {
    const token = makeConceptPrompts(pinkWorld, 'pink', { word: '<pink>', repeats: 1 });
    expect(token).toHaveLength(24);
    expect(token[0]).toMatchObject({
      prompt: 'a <pink> circle on a red background',
      expected: { color: 'pink' },
    });
    expect(token.every((p) => p.prompt.includes('<pink>') && !/(^|[^<])pink/.test(p.prompt))).toBe(true);
    expect(prompts[0]!.prompt).toBe('a pink circle on a red background');
    expect(token.map((p) => p.expected)).toEqual(prompts.slice(0, 24).map((p) => p.expected));
  });
});

describe('conceptAccuracy', () => {
  it('counts images with the right colour AND shape, whatever else is wrong', () => {
    const prompt = makeConceptPrompts(pinkWorld, 'pink', { repeats: 1 })[1]!; // 'a small pink circle on …'
    const judge = (c: FixtureCase) => judgeShapeImage(decodeFixtureImage(c), pinkWorld.colors);
    const pinkCircle = pinkFixture.cases.find((c) => c.shape === 'circle' && c.size === 'large')!;
    const pinkSquare = pinkFixture.cases.find((c) => c.shape === 'square')!;
    const redCircle = worldFixture.cases.find((c) => c.shape === 'circle' && c.color === 'red')!;
    const cases: AdherenceCase[] = [pinkCircle, pinkSquare, redCircle].map((c) => {
      const judged = judge(c);
      return { prompt, seed: 0, judged, ...scoreJudgement(prompt.expected, judged) };
    });
    // The large pink circle is right in colour and shape although the prompt asked for a small one.
    expect(cases[0]!.allCorrect).toBe(false);
    expect(conceptAccuracy(cases)).toEqual({ correct: 1, total: 3 });
    expect(conceptAccuracy([])).toEqual({ correct: 0, total: 0 });
  });
});
