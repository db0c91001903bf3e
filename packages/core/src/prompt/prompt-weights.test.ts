import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../errors.js';
import { parsePromptWeights } from './prompt-weights.js';

const pairs = (prompt: string) =>
  parsePromptWeights(prompt).map((f) => (f.isBreak ? 'BREAK' : [f.text, f.weight]));

// Expected values: the doctests of A1111's modules/prompt_parser.py parse_prompt_attention (the weights are
// products of float64 multiplications in the same order, so they compare exactly).
describe('parsePromptWeights (A1111 attention syntax)', () => {
  it('plain text', () => {
    expect(pairs('normal text')).toEqual([['normal text', 1]]);
  });

  it('(word) multiplies by 1.1, [word] divides by 1.1', () => {
    expect(pairs('an (important) word')).toEqual([
      ['an ', 1],
      ['important', 1.1],
      [' word', 1],
    ]);
    expect(pairs('a [faint] word')).toEqual([
      ['a ', 1],
      ['faint', 1 / 1.1],
      [' word', 1],
    ]);
  });

  it('unbalanced brackets apply to the rest of the prompt; stray closers are text', () => {
    expect(pairs('(unbalanced')).toEqual([['unbalanced', 1.1]]);
    expect(pairs('a ) b ] c')).toEqual([['a ) b ] c', 1]]);
  });

  it('escapes are literal characters', () => {
    expect(pairs('\\(literal\\]')).toEqual([['(literal]', 1]]);
    expect(pairs('a \\\\ b \\[c\\)')).toEqual([['a \\ b [c)', 1]]);
  });

  it('merges neighbouring fragments of equal weight', () => {
    expect(pairs('(unnecessary)(parens)')).toEqual([['unnecessaryparens', 1.1]]);
  });

  it('nests and multiplies explicit weights (the A1111 doctest)', () => {
    expect(pairs('a (((house:1.3)) [on] a (hill:0.5), sun, (((sky))).')).toEqual([
      ['a ', 1.0],
      ['house', 1.5730000000000004],
      [' ', 1.1],
      ['on', 1.0],
      [' a ', 1.1],
      ['hill', 0.55],
      [', sun, ', 1.1],
      ['sky', 1.4641000000000006],
      ['.', 1.1],
    ]);
  });

  it('accepts spaces around explicit weights and signed weights', () => {
    expect(pairs('(cat: 1.5 ) (dog:-0.5)')).toEqual([
      ['cat', 1.5],
      [' ', 1],
      ['dog', -0.5],
    ]);
  });

  it('a colon outside a weight is text', () => {
    expect(pairs('ratio 16:9, (style: oil)')).toEqual([
      ['ratio 16:9, ', 1],
      ['style: oil', 1.1],
    ]);
  });

  it('BREAK splits into chunks, only as an upper-case whole word', () => {
    expect(pairs('a cat BREAK a dog')).toEqual([['a cat', 1], 'BREAK', ['a dog', 1]]);
    expect(pairs('(red:1.2) BREAK blue')).toEqual([['red', 1.2], 'BREAK', ['blue', 1]]);
    expect(pairs('BREAKFAST break')).toEqual([['BREAKFAST break', 1]]);
    expect(pairs('a BREAK BREAK b')).toEqual([['a', 1], 'BREAK', 'BREAK', ['b', 1]]);
    // inside brackets the break stays a break (A1111 would turn it into the word "BREAK")
    expect(pairs('(a BREAK b)')).toEqual([['a', 1.1], 'BREAK', ['b', 1.1]]);
  });

  it('an empty prompt is one empty fragment', () => {
    expect(pairs('')).toEqual([['', 1]]);
    expect(pairs('()')).toEqual([['', 1]]);
  });

  it('rejects weights that are not numbers', () => {
    expect(() => parsePromptWeights('(a:1.2.3)')).toThrow(InvalidArgumentError);
  });
});

describe('parsePromptWeights: bounds keep ordinary prompts as they were', () => {
  it('small nesting is exact, as A1111 computes it', () => {
    expect(pairs('((((x))))')).toEqual([['x', 1.4641000000000006]]);
    expect(pairs('[[[[x]]]]')).toEqual([['x', 1 / 1.1 / 1.1 / 1.1 / 1.1]]);
  });

  it('48 nested "(" (1.1^48 ≈ 97) and explicit weights of ±100 are accepted', () => {
    const [f] = parsePromptWeights(`${'('.repeat(48)}x`);
    expect(f!.weight).toBeCloseTo(97.017, 3);
    expect(pairs('(x:100) (y:-100) (z:0)')).toEqual([
      ['x', 100],
      [' ', 1],
      ['y', -100],
      [' ', 1],
      ['z', 0],
    ]);
  });

  it('100 brackets open at once are accepted; deep "[" nesting only makes a weight small', () => {
    const [f] = parsePromptWeights(`${'['.repeat(100)}x`);
    expect(f!.weight).toBeGreaterThan(0);
    expect(f!.weight).toBeLessThan(1e-4);
  });

  it('(a red circle:1e39) is text, as in A1111: exponents are not part of the weight syntax (issue 14 §2)', () => {
    expect(pairs('(a red circle:1e39)')).toEqual([['a red circle:1e39', 1.1]]);
  });
});
