import { InvalidArgumentError } from '@latentkit/core';
import type { AdherenceCase, Tally } from './adherence-score.js';
import { phraseShapePrompt, SHAPE_PHRASINGS, type ShapePrompt } from './shape-prompts.js';
import type { ShapesWorld } from './shapes-world.js';

/** Options of {@link makeConceptPrompts}. */
export interface ConceptPromptOptions {
  /**
   * What the prompts write for the colour, when it differs from its judged name: e.g. the
   * textual-inversion token `<pink>` for the colour `pink`. Default: the colour's name.
   */
  readonly word?: string;
  /** How many prompts per (shape, background) pair, in different phrasings. Default 2. */
  readonly repeats?: number;
}

/**
 * Prompts for a colour the model learned from an adapter (a LoRA or a textual-inversion embedding):
 * every shape on every background of the world, `repeats` times, cycling through all
 * {@link SHAPE_PHRASINGS} (so size and position are expected where a phrasing states them). `color`
 * must be in `world.colors` — add it with `withExtraColors` — and is never its own background.
 * The prompts' split is `seen` (the adapter was trained on every pair).
 */
export function makeConceptPrompts(
  world: ShapesWorld,
  color: string,
  options: ConceptPromptOptions = {},
): ShapePrompt[] {
  const { word = color, repeats = 2 } = options;
  if (!(color in world.colors)) {
    throw new InvalidArgumentError({
      name: 'color',
      value: color,
      expected: `a colour of the world (${Object.keys(world.colors).join(', ')})`,
      fix: 'add it first: withExtraColors(world, { [color]: [r, g, b] })',
    });
  }
  if (!Number.isInteger(repeats) || repeats < 1) {
    throw new InvalidArgumentError({ name: 'repeats', value: repeats, expected: 'a positive integer' });
  }
  if (typeof word !== 'string' || word.trim() === '') {
    throw new InvalidArgumentError({ name: 'word', value: word, expected: 'a non-empty string' });
  }
  const backgrounds = Object.keys(world.colors).filter((c) => c !== color);
  const prompts: ShapePrompt[] = [];
  let i = 0;
  for (let r = 0; r < repeats; r++) {
    for (const shape of world.shapes) {
      for (const background of backgrounds) {
        const phrasing = SHAPE_PHRASINGS[i % SHAPE_PHRASINGS.length] as (typeof SHAPE_PHRASINGS)[number];
        i += 1;
        const { prompt, expected } = phraseShapePrompt({ color: word, shape, background }, phrasing);
        prompts.push({ prompt, phrasing, split: 'seen', expected: { ...expected, color } });
      }
    }
  }
  return prompts;
}

/** How many images show the asked-for colour AND shape (the concept drawn right), whatever else they show. */
export function conceptAccuracy(cases: readonly AdherenceCase[]): Tally {
  return {
    correct: cases.filter((c) => c.correct.color === true && c.correct.shape === true).length,
    total: cases.length,
  };
}
