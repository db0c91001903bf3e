import { describe, expect, it } from 'vitest';
import { InvalidArgumentError, LimitExceededError } from '../errors.js';
import { MAX_PROMPT_NESTING, MAX_PROMPT_WEIGHT, parsePromptWeights } from './prompt-weights.js';

const tooHeavy = /prompt weight of .* is invalid: expected a weight from -100 to 100 after float32 rounding/;
const tooDeep =
  /prompt brackets open at once .* = 101 is invalid: expected at most 100 "\(" and "\[" open at once/;

// One row per bad prompt: [what it is, prompt, error class, message pattern].
const cases: [string, string, typeof InvalidArgumentError | typeof LimitExceededError, RegExp][] = [
  // issue 14 §2: 1.1^930 ≈ 3.1e38 — all-NaN images before
  ['930 nested "(" (issue 14 §2)', `${'('.repeat(930)}a red circle`, LimitExceededError, tooDeep],
  // issue 14 §2: 1e39 written out is finite as a double and Infinity as float32
  [
    '(a red circle:1e39) with the number written out (issue 14 §2)',
    `(a red circle:1${'0'.repeat(39)})`,
    InvalidArgumentError,
    /"a red circle" = 1e\+39 is invalid/,
  ],
  [
    '49 unclosed "(" (1.1^49 ≈ 106.7)',
    `${'('.repeat(49)}x`,
    InvalidArgumentError,
    /"x" = 106\.7\d* is invalid/,
  ],
  ['49 balanced "(…)"', `${'('.repeat(49)}x${')'.repeat(49)}`, InvalidArgumentError, tooHeavy],
  ['explicit weight 101', '(x:101)', InvalidArgumentError, /"x" = 101 is invalid/],
  ['explicit weight -101', '(x:-101)', InvalidArgumentError, /"x" = -101 is invalid/],
  [
    'explicit weight 1000 in prose',
    'a photo of (a cat:1000) on a mat',
    InvalidArgumentError,
    /"a cat" = 1000 is invalid/,
  ],
  [
    'a product over the bound, ((x:95)) = 104.5',
    '((x:95))',
    InvalidArgumentError,
    /"x" = 104\.5\d* is invalid/,
  ],
  ['nested explicit weights, ((x:20):20) = 400', '((x:20):20)', InvalidArgumentError, /"x" = 400 is invalid/],
  ['a negative product, ((x:-50):3) = -150', '((x:-50):3)', InvalidArgumentError, /"x" = -150 is invalid/],
  ['Infinity as float32, 3.5e38 written out', `(x:35${'0'.repeat(37)})`, InvalidArgumentError, tooHeavy],
  [
    'Infinity as a double, 1e400 written out',
    `(x:1${'0'.repeat(400)})`,
    InvalidArgumentError,
    /expected a number such as 1\.3/,
  ],
  [
    'a weight that is not a number, (a:1.2.3)',
    '(a:1.2.3)',
    InvalidArgumentError,
    /prompt weight = "1\.2\.3" is invalid/,
  ],
  ['a weight of dots, (a:..)', '(a:..)', InvalidArgumentError, /prompt weight = "\.\." is invalid/],
  ['a lone sign and dot, (a:-.)', '(a:-.)', InvalidArgumentError, /prompt weight = "-\." is invalid/],
  ['101 nested "[" (nesting limit)', `${'['.repeat(101)}x`, LimitExceededError, tooDeep],
  ['101 mixed "(" and "["', `${'(['.repeat(50)}(x`, LimitExceededError, tooDeep],
  ['"(a" repeated 50,000 times (quadratic parse before)', '(a'.repeat(50_000), LimitExceededError, tooDeep],
  [
    'a long fragment is shortened in the message',
    `(${'word '.repeat(30)}:500)`,
    InvalidArgumentError,
    /"word word word word word word word word …" = 500/,
  ],
];

describe('parsePromptWeights: bad prompts', () => {
  it.each(cases)('%s', (_what, prompt, kind, message) => {
    let error: unknown;
    try {
      parsePromptWeights(prompt);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(kind);
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).toMatch(/Fix: /);
  });

  it('the bounds are the documented ones', () => {
    expect([MAX_PROMPT_WEIGHT, MAX_PROMPT_NESTING]).toEqual([100, 100]);
  });
});
