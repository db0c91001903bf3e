import type { ClipTokenizer } from '../clip-tokenizer.js';

/**
 * Expands multi-vector textual-inversion tokens in a row of token ids, as diffusers'
 * `TextualInversionLoaderMixin.maybe_convert_prompt` does on the prompt text: an embedding of n vectors is
 * added to the tokenizer as `<tok>`, `<tok>_1`, …, `<tok>_{n−1}`, and the prompt names only `<tok>`, so
 * every `<tok>` becomes `<tok> <tok>_1 … <tok>_{n−1}`. Done on the ids rather than the text, so that the
 * expansion is the same inside A1111 weighted fragments (`(<tok>:1.2)`) and never rewrites a longer token
 * that merely contains `<tok>`.
 *
 * @param ids - Token ids from {@link ClipTokenizer.encodeIds}.
 * @param tokenizer - The tokenizer that holds the added tokens.
 * @returns The ids with each multi-vector token followed by its other vectors' ids (the same array when the
 *   tokenizer has no added tokens).
 */
export function expandMultiVectorTokens(ids: readonly number[], tokenizer: ClipTokenizer): number[] {
  const added = tokenizer.addedTokens;
  if (added.size === 0) return ids as number[];
  const tokenOf = new Map<number, string>();
  for (const [token, id] of added) tokenOf.set(id, token);
  const out: number[] = [];
  for (const id of ids) {
    out.push(id);
    const token = tokenOf.get(id);
    if (token === undefined) continue;
    for (let i = 1; ; i++) {
      const next = added.get(`${token}_${i}`);
      if (next === undefined) break;
      out.push(next);
    }
  }
  return out;
}
