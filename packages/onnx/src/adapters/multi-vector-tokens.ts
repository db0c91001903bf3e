import type { ClipTokenizer } from '../clip-tokenizer.js';

/**
 * Expands multi-vector textual-inversion tokens, as diffusers' `TextualInversionLoaderMixin.maybe_convert_prompt`
 * does on the prompt text: an embedding of n vectors is added to the tokenizer as `<tok>`, `<tok>_1`, …,
 * `<tok>_{n−1}`, and the prompt names only `<tok>`, so every `<tok>` becomes `<tok> <tok>_1 … <tok>_{n−1}`.
 * Done on the ids rather than the text, so that the expansion is the same inside A1111 weighted fragments
 * (`(<tok>:1.2)`) and never rewrites a longer token that merely contains `<tok>`.
 */

/**
 * A function from one token id to the ids it stands for: `[id]` for a vocabulary token, `[id(<tok>),
 * id(<tok>_1), …]` for the first token of a multi-vector embedding.
 *
 * @param tokenizer - The tokenizer that holds the added tokens (read once: make a new expander after adding).
 */
export function multiVectorExpander(tokenizer: ClipTokenizer): (id: number) => number[] {
  const added = tokenizer.addedTokens;
  const groups = new Map<number, number[]>();
  for (const [token, id] of added) {
    const group = [id];
    for (let i = 1; ; i++) {
      const next = added.get(`${token}_${i}`);
      if (next === undefined) break;
      group.push(next);
    }
    if (group.length > 1) groups.set(id, group);
  }
  return (id) => groups.get(id) ?? [id];
}

/**
 * Expands every multi-vector token in a row of token ids.
 *
 * @param ids - Token ids from {@link ClipTokenizer.encodeIds}.
 * @param tokenizer - The tokenizer that holds the added tokens.
 * @returns The ids with each multi-vector token followed by its other vectors' ids (the same array when the
 *   tokenizer has no added tokens).
 */
export function expandMultiVectorTokens(ids: readonly number[], tokenizer: ClipTokenizer): number[] {
  if (tokenizer.addedTokens.size === 0) return ids as number[];
  const expand = multiVectorExpander(tokenizer);
  return ids.flatMap(expand);
}
