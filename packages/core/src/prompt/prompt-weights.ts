import { InvalidArgumentError, LimitExceededError } from '../errors.js';

/** A piece of prompt text with its attention weight, or a `BREAK` marker. */
export interface WeightedPromptFragment {
  /** The text, with escapes resolved (`\(` → `(`). Empty for a break. */
  text: string;
  /** The attention multiplier (1 = neutral). Breaks carry −1, as A1111 marks them. */
  weight: number;
  /** True for a `BREAK` keyword: the prompt encoder starts a new 75-token chunk there. */
  isBreak?: true;
}

// A1111's re_attention, token by token: escapes, brackets, an explicit weight `:1.3)`, plain text, a lone `:`.
const ATTENTION = /\\\(|\\\)|\\\[|\\\]|\\\\|\\|\(|\[|:\s*([+-]?[.\d]+)\s*\)|\)|\]|[^\\()[\]:]+|:/g;
// BREAK as a whole word, with the whitespace around it
const BREAK = /\s*\bBREAK\b\s*/;

const ROUND = 1.1;
const SQUARE = 1 / 1.1;

/**
 * The largest attention weight (in absolute value) a prompt fragment may have, after rounding to float32
 * as the text encoder's hidden states are. 48 nested round brackets give 1.1^48 ≈ 97, so any nesting
 * people write — `((((word))))` is 1.4641 — parses as before; larger weights (49 or more levels,
 * `(word:1000)`, or a product such as `((word:95))` = 104.5) are refused, because they swamp the
 * chunk's mean rescaling and overflow float32 (1.1^930 ≈ 3·10^38 turns the whole image into NaN).
 */
export const MAX_PROMPT_WEIGHT = 100;

/**
 * The most brackets, `(` and `[` together, that may be open at once in a prompt. Parsing does work for
 * every open bracket over the text after it, so unbounded nesting (`"(a".repeat(50000)`) would take
 * seconds to minutes; 100 is far beyond any weight that makes sense.
 */
export const MAX_PROMPT_NESTING = 100;

/**
 * Parses a prompt in AUTOMATIC1111's attention syntax into text fragments with weights, as A1111's
 * `parse_prompt_attention` does:
 *
 * - `(text)` multiplies the weight by 1.1, `[text]` divides it by 1.1, `(text:1.3)` multiplies by 1.3;
 *   brackets nest and multiply;
 * - `\(`, `\)`, `\[`, `\]` and `\\` are literal characters;
 * - unbalanced opening brackets apply to the rest of the prompt; unbalanced closing ones are text;
 * - `BREAK` (upper case, a whole word) becomes a break fragment: the encoder pads the current 75-token
 *   chunk and starts a new one;
 * - neighbouring fragments with the same weight are merged (breaks are never merged).
 *
 * @example
 * parsePromptWeights('a (((house:1.3)) [on] a (hill:0.5), sun, (((sky))).')
 * // [['a ', 1], ['house', 1.573], [' ', 1.1], ['on', 1], [' a ', 1.1], ['hill', 0.55],
 * //  [', sun, ', 1.1], ['sky', 1.4641], ['.', 1.1]]  (as { text, weight } objects)
 *
 * @throws {@link LimitExceededError} when more than {@link MAX_PROMPT_NESTING} brackets are open at once;
 *   {@link InvalidArgumentError} for an explicit weight that is not a number, such as `(a:1.2.3)`,
 *   and for a fragment whose weight, rounded to float32, is not finite or beyond ±{@link MAX_PROMPT_WEIGHT}
 *   (deep nesting is refused, not clamped: a clamped prompt would silently mean something else).
 */
export function parsePromptWeights(prompt: string): WeightedPromptFragment[] {
  const res: WeightedPromptFragment[] = [];
  const round: number[] = [];
  const square: number[] = [];
  // Breaks keep their −1 (A1111 multiplies them too, and then no longer recognises "(a BREAK b)"'s break).
  const multiplyRange = (start: number, multiplier: number): void => {
    for (let p = start; p < res.length; p++) {
      if (!res[p]!.isBreak) res[p]!.weight *= multiplier;
    }
  };

  for (const m of prompt.matchAll(ATTENTION)) {
    const text = m[0];
    const weight = m[1];
    if (text.startsWith('\\')) {
      // `\(` → `(`; a lone backslash stays a backslash (A1111 appends text[1:], i.e. nothing)
      res.push({ text: text.slice(1), weight: 1 });
    } else if (text === '(' || text === '[') {
      if (round.length + square.length >= MAX_PROMPT_NESTING) throw nestingError(prompt, m.index);
      (text === '(' ? round : square).push(res.length);
    } else if (weight !== undefined && round.length > 0) {
      const w = Number(weight);
      if (!Number.isFinite(w)) {
        throw new InvalidArgumentError({
          name: 'prompt weight',
          value: weight,
          expected: 'a number such as 1.3 in "(text:1.3)"',
          fix: 'write the weight as a decimal number, or escape the bracket as \\(',
        });
      }
      multiplyRange(round.pop()!, w);
    } else if (text === ')' && round.length > 0) {
      multiplyRange(round.pop()!, ROUND);
    } else if (text === ']' && square.length > 0) {
      multiplyRange(square.pop()!, SQUARE);
    } else {
      const parts = text.split(BREAK);
      parts.forEach((part, i) => {
        if (i > 0) res.push({ text: '', weight: -1, isBreak: true });
        res.push({ text: part, weight: 1 });
      });
    }
  }

  for (const pos of round) multiplyRange(pos, ROUND);
  for (const pos of square) multiplyRange(pos, SQUARE);

  if (res.length === 0) return [{ text: '', weight: 1 }];

  // merge runs of identical weights (A1111 merges after weighting, so "(a)(b)" is one fragment)
  const merged: WeightedPromptFragment[] = [];
  for (const f of res) {
    const prev = merged[merged.length - 1];
    if (prev && !prev.isBreak && !f.isBreak && prev.weight === f.weight) prev.text += f.text;
    else merged.push({ ...f });
  }
  // empty text fragments (from "a BREAK", or "()") tokenize to nothing: drop them
  const kept = merged.filter((f) => f.isBreak || f.text !== '');
  for (const f of kept) if (!f.isBreak) checkWeight(f);
  return kept.length > 0 ? kept : [{ text: '', weight: 1 }];
}

function nestingError(prompt: string, at: number): LimitExceededError {
  const near = prompt.slice(Math.max(0, at - 20), at + 20);
  return new LimitExceededError({
    name: `prompt brackets open at once (near ${JSON.stringify(near)})`,
    value: MAX_PROMPT_NESTING + 1,
    expected: `at most ${MAX_PROMPT_NESTING} "(" and "[" open at once`,
    fix: 'close the brackets you open, use an explicit weight such as "(text:1.5)" instead of nesting, or write literal brackets as \\( and \\[',
  });
}

/** Refuses a fragment whose weight is not finite in float32 or beyond ±MAX_PROMPT_WEIGHT (NaN included). */
function checkWeight(fragment: WeightedPromptFragment): void {
  const w = Math.fround(fragment.weight);
  if (Math.abs(w) <= MAX_PROMPT_WEIGHT) return;
  const text = fragment.text.trim();
  const shown = text.length > 40 ? `${text.slice(0, 40)}…` : text;
  throw new InvalidArgumentError({
    name: `prompt weight of ${JSON.stringify(shown)}`,
    value: fragment.weight,
    expected: `a weight from -${MAX_PROMPT_WEIGHT} to ${MAX_PROMPT_WEIGHT} after float32 rounding (at most 48 nested "(…)"; 1.1^48 ≈ 97)`,
    fix: 'use fewer nested brackets or a smaller explicit weight such as "(text:1.5)"; write literal brackets as \\( and \\)',
  });
}
