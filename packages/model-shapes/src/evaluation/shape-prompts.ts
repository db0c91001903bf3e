import { InvalidArgumentError } from '@latentkit/core';
import {
  allTriples,
  type ShapePosition,
  type ShapeSize,
  type ShapesWorld,
  type ShapeTriple,
  tripleKey,
} from './shapes-world.js';

/** The attributes a prompt asks for; `size` and `position` only where the prompt implies them. */
export interface ExpectedAttributes extends ShapeTriple {
  /** Asked-for size, when the prompt says "small" or "large". */
  readonly size?: ShapeSize;
  /** Asked-for position, when the prompt names one or says "large" (large shapes are always centred). */
  readonly position?: ShapePosition;
}

/** Whether a prompt's triple occurred in training (`seen`) or was held out of it (`heldout`). */
export type PromptSplit = 'seen' | 'heldout';

/** One evaluation prompt with the attributes an image must show to follow it. */
export interface ShapePrompt {
  /** The text given to the model. */
  readonly prompt: string;
  /** Which of {@link SHAPE_PHRASINGS} it uses. */
  readonly phrasing: ShapePhrasing;
  /** Seen in training or held out. */
  readonly split: PromptSplit;
  /** What a correct image shows. */
  readonly expected: ExpectedAttributes;
}

/**
 * The phrasings the model must understand (issue 6), one id each: the plain triple; with a size
 * word; a small shape at each position; a large one "in the center"; and the terse comma form.
 */
export const SHAPE_PHRASINGS = [
  'plain',
  'small',
  'large',
  'small top left',
  'small top right',
  'small bottom left',
  'small bottom right',
  'small center',
  'large center',
  'comma',
  'comma small',
  'comma large',
] as const;

/** One of {@link SHAPE_PHRASINGS}. */
export type ShapePhrasing = (typeof SHAPE_PHRASINGS)[number];

/** English's indefinite article for a word: "an orange", "a red" (the model is trained on both "a orange" and "an orange"). */
function article(word: string): 'a' | 'an' {
  return /^[aeiou]/.test(word) ? 'an' : 'a';
}

/**
 * Writes the prompt of `phrasing` for a triple and the attributes it asks for. "Large" implies the
 * centre because the world only has centred large shapes; "small" alone leaves the position open.
 */
export function phraseShapePrompt(
  triple: ShapeTriple,
  phrasing: ShapePhrasing,
): { prompt: string; expected: ExpectedAttributes } {
  const { color, shape, background } = triple;
  const thing = `${color} ${shape}`;
  const on = `on ${article(background)} ${background} background`;
  const base: ExpectedAttributes = { color, shape, background };
  switch (phrasing) {
    case 'plain':
      return { prompt: `${article(color)} ${thing} ${on}`, expected: base };
    case 'small':
      return { prompt: `a small ${thing} ${on}`, expected: { ...base, size: 'small' } };
    case 'large':
      return {
        prompt: `a large ${thing} ${on}`,
        expected: { ...base, size: 'large', position: 'center' },
      };
    case 'small center':
      return {
        prompt: `a small ${thing} in the center ${on}`,
        expected: { ...base, size: 'small', position: 'center' },
      };
    case 'large center':
      return {
        prompt: `a large ${thing} in the center ${on}`,
        expected: { ...base, size: 'large', position: 'center' },
      };
    case 'comma':
      return { prompt: `${thing}, ${background} background`, expected: base };
    case 'comma small':
      return {
        prompt: `small ${thing}, ${background} background`,
        expected: { ...base, size: 'small' },
      };
    case 'comma large':
      return {
        prompt: `large ${thing}, ${background} background`,
        expected: { ...base, size: 'large', position: 'center' },
      };
    default: {
      // 'small top left' … 'small bottom right'
      const position = phrasing.slice('small '.length) as ShapePosition;
      return {
        prompt: `a small ${thing} at the ${position} ${on}`,
        expected: { ...base, size: 'small', position },
      };
    }
  }
}

/** mulberry32: a tiny seeded PRNG, so the seen-triple sample is the same on every machine. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Options of {@link makeShapePrompts}. */
export interface ShapePromptOptions {
  /** How many seen triples to sample (one prompt each). Default 96. */
  readonly seenCount?: number;
  /** Prompts per held-out triple (in different phrasings when there are 16 held-out triples). Default 3. */
  readonly heldoutRepeats?: number;
  /** Seed of the seen-triple sample. Default 7. */
  readonly seed?: number;
}

/**
 * The evaluation prompt set: every held-out triple `heldoutRepeats` times, then `seenCount` seen
 * triples drawn with a fixed seed. Phrasings cycle through {@link SHAPE_PHRASINGS} in list order, so
 * each phrasing is used equally often and any prefix of either split mixes phrasings and triples
 * (which is what {@link takeShapePrompts} relies on). With the defaults: 48 held-out + 96 seen = 144
 * prompts, every phrasing 4× held out and 8× seen. Deterministic: the same world gives the same list.
 */
export function makeShapePrompts(world: ShapesWorld, options: ShapePromptOptions = {}): ShapePrompt[] {
  const { seenCount = 96, heldoutRepeats = 3, seed = 7 } = options;
  const held = new Set(world.heldout.map(tripleKey));
  const seen = allTriples(world).filter((t) => !held.has(tripleKey(t)));
  if (!Number.isInteger(seenCount) || seenCount < 0 || seenCount > seen.length) {
    throw new InvalidArgumentError({
      name: 'seenCount',
      value: seenCount,
      expected: `an integer in 0…${seen.length} (the number of seen triples)`,
    });
  }
  if (!Number.isInteger(heldoutRepeats) || heldoutRepeats < 0 || heldoutRepeats > SHAPE_PHRASINGS.length) {
    throw new InvalidArgumentError({
      name: 'heldoutRepeats',
      value: heldoutRepeats,
      expected: `an integer in 0…${SHAPE_PHRASINGS.length}`,
    });
  }
  const n = SHAPE_PHRASINGS.length;
  const make = (triple: ShapeTriple, i: number, split: PromptSplit): ShapePrompt => {
    const phrasing = SHAPE_PHRASINGS[i % n] as ShapePhrasing;
    return { ...phraseShapePrompt(triple, phrasing), phrasing, split };
  };
  // Held-out position i: triple i mod H, phrasing i mod 12; with H = 16 a triple's repeats get
  // phrasings k, k+4, k+8 (mod 12) — all different.
  const h = world.heldout.length;
  const heldout = Array.from({ length: h * heldoutRepeats }, (_, i) =>
    make(world.heldout[i % h] as ShapeTriple, i, 'heldout'),
  );
  const random = mulberry32(seed);
  const shuffled = [...seen];
  for (let i = shuffled.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [shuffled[i], shuffled[j]] = [shuffled[j] as ShapeTriple, shuffled[i] as ShapeTriple];
  }
  const seenPrompts = shuffled.slice(0, seenCount).map((t, i) => make(t, i, 'seen'));
  return [...heldout, ...seenPrompts];
}

/**
 * A smaller, still varied prompt set: the first `seen` seen and first `heldout` held-out prompts of
 * a {@link makeShapePrompts} list (its order cycles phrasings and triples, so prefixes stay mixed).
 */
export function takeShapePrompts(
  prompts: readonly ShapePrompt[],
  counts: { readonly seen: number; readonly heldout: number },
): ShapePrompt[] {
  const heldout = prompts.filter((p) => p.split === 'heldout').slice(0, counts.heldout);
  const seen = prompts.filter((p) => p.split === 'seen').slice(0, counts.seen);
  return [...heldout, ...seen];
}
