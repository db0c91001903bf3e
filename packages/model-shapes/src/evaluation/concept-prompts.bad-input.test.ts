import { InvalidArgumentError } from '@latentkit/core';
import { describe, expect, it } from 'vitest';
import { makeConceptPrompts } from './concept-prompts.js';
import { type ShapesWorld, withExtraColors } from './shapes-world.js';

const world: ShapesWorld = {
  resolution: 32,
  colors: { red: [220, 30, 30], blue: [30, 60, 220], white: [245, 245, 245] },
  shapes: ['circle', 'square', 'triangle'],
  sizes: ['small', 'large'],
  positions: ['top left', 'top right', 'bottom left', 'bottom right', 'center'],
  heldout: [],
};
const pinkWorld = withExtraColors(world, { pink: [250, 120, 190] });

describe('withExtraColors and makeConceptPrompts refuse bad input with a typed error naming the value', () => {
  const cases: [string, () => unknown, RegExp][] = [
    [
      'a colour the world already has',
      () => withExtraColors(world, { red: [250, 120, 190] }),
      /extra colours\.red = "red" .*does not have .*red, blue, white.*Fix: give the new colour another name/s,
    ],
    [
      'no colour at all',
      () => withExtraColors(world, {}),
      /extra colours = \[\] .*at least one colour.*Fix: pass e\.g\. \{ pink/s,
    ],
    [
      'a list instead of a table',
      () => withExtraColors(world, [[250, 120, 190]] as never),
      /extra colours = .*an object of colour name/s,
    ],
    ['null', () => withExtraColors(world, null as never), /extra colours = null/],
    [
      'an RGB with two numbers',
      () => withExtraColors(world, { pink: [250, 120] as never }),
      /extra colours\.pink = \[250, 120\] .*\[r, g, b\] with values in 0–255/s,
    ],
    [
      'an RGB above 255',
      () => withExtraColors(world, { pink: [256, 120, 190] }),
      /extra colours\.pink = \[256, 120, 190\]/,
    ],
    [
      'a negative channel',
      () => withExtraColors(world, { pink: [250, -1, 190] }),
      /extra colours\.pink = \[250, -1, 190\]/,
    ],
    [
      'a NaN channel',
      () => withExtraColors(world, { pink: [250, Number.NaN, 190] }),
      /extra colours\.pink = \[250, NaN, 190\]/,
    ],
    [
      'an RGB as a string',
      () => withExtraColors(world, { pink: '#fa78be' as never }),
      /extra colours\.pink = "#fa78be"/,
    ],
    [
      'a colour the world does not have',
      () => makeConceptPrompts(world, 'pink'),
      /color = "pink" .*red, blue, white.*Fix: add it first: withExtraColors/s,
    ],
    [
      'repeats 0',
      () => makeConceptPrompts(pinkWorld, 'pink', { repeats: 0 }),
      /repeats = 0 .*a positive integer/s,
    ],
    ['repeats 1.5', () => makeConceptPrompts(pinkWorld, 'pink', { repeats: 1.5 }), /repeats = 1\.5/],
    [
      'an empty word',
      () => makeConceptPrompts(pinkWorld, 'pink', { word: ' ' }),
      /word = " " .*a non-empty string/s,
    ],
  ];
  it.each(cases)('%s', (_, run, message) => {
    let thrown: unknown;
    try {
      run();
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(InvalidArgumentError);
    expect((thrown as Error).message).toMatch(message);
  });

  it('leaves the world untouched after a refusal', () => {
    expect(() => withExtraColors(world, { pink: [250, 120, 190], red: [1, 2, 3] })).toThrow(
      InvalidArgumentError,
    );
    expect(Object.keys(world.colors)).toEqual(['red', 'blue', 'white']);
  });
});
