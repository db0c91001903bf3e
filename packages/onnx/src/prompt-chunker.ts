import { InvalidArgumentError, LimitExceededError, parsePromptWeights } from '@latentkit/core';
import { multiVectorExpander } from './adapters/multi-vector-tokens.js';
import type { ClipTokenizer } from './clip-tokenizer.js';

/**
 * The default cap on 75-token chunks per prompt: 32 chunks = 2,400 CLIP tokens, far beyond what a prompt
 * needs (each chunk is one text-encoder run and 77 more tokens of cross-attention in every UNet step).
 */
export const DEFAULT_MAX_PROMPT_CHUNKS = 32;

/** Prompt tokens per chunk: 77 with BOS and EOS. */
export const CHUNK_TOKENS = 75;

/** One 77-token text encoder input: BOS, 75 prompt tokens or padding, EOS (as A1111's PromptChunk). */
export interface PromptChunk {
  /** The 77 token ids. */
  tokens: number[];
  /** The attention weight of each of the 77 tokens (1 for BOS, EOS and padding). */
  weights: number[];
}

/** Options of {@link PromptChunker}. */
export interface PromptChunkerOptions {
  /** Parse A1111 attention syntax — `(word:1.3)`, `(word)`, `[word]`, `BREAK` (default true). */
  promptWeighting?: boolean;
  /**
   * A1111's "comma padding backtrack": when a 75-token chunk fills up and a comma lies within this many
   * tokens of its end, the words after the comma move to the next chunk. A1111's default is 20; 0 turns it off.
   */
  commaPaddingBacktrack?: number;
  /** The most 75-token chunks one prompt may take (default {@link DEFAULT_MAX_PROMPT_CHUNKS}). */
  maxChunks?: number;
}

/**
 * Cuts prompts into 77-token text-encoder inputs the way AUTOMATIC1111 does, for one CLIP tokenizer: A1111
 * attention weights per token, `BREAK`, 75-token chunks with comma backtracking, multi-vector
 * textual-inversion tokens kept whole in one chunk, and padding with the tokenizer's pad token (SD 2.x and
 * SDXL's second tokenizer pad with `!`). The SD 1.x/2.x and the SDXL prompt encoders both use it.
 */
export class PromptChunker {
  readonly #tokenizer: ClipTokenizer;
  readonly #weighting: boolean;
  readonly #backtrack: number;
  readonly #comma: number | undefined;
  /** The most 75-token chunks one prompt may take. */
  readonly maxChunks: number;

  /**
   * @param tokenizer - The CLIP tokenizer (its added tokens are read on every call).
   * @param options - Weighting, comma backtrack, chunk cap.
   * @throws {@link @latentkit/core!InvalidArgumentError} for a backtrack outside 0–75 or a cap below 1.
   */
  constructor(tokenizer: ClipTokenizer, options: PromptChunkerOptions = {}) {
    this.#tokenizer = tokenizer;
    this.#weighting = options.promptWeighting ?? true;
    const backtrack = options.commaPaddingBacktrack ?? 20;
    if (!Number.isInteger(backtrack) || backtrack < 0 || backtrack > CHUNK_TOKENS) {
      throw new InvalidArgumentError({
        name: 'commaPaddingBacktrack',
        value: backtrack,
        expected: `an integer from 0 to ${CHUNK_TOKENS}`,
      });
    }
    this.#backtrack = backtrack;
    this.#comma = tokenizer.tokenToId(',</w>');
    this.maxChunks = checkMaxChunks(options.maxChunks ?? DEFAULT_MAX_PROMPT_CHUNKS);
  }

  /** The chunk of an empty prompt: BOS, EOS, padding; all weights 1. */
  empty(): PromptChunk {
    return this.chunks('')[0]!;
  }

  /**
   * The prompt split into 77-token chunks with per-token weights.
   *
   * @throws {@link @latentkit/core!LimitExceededError} as soon as the prompt needs more than
   *   {@link PromptChunkerOptions.maxChunks} chunks (the rest of the prompt is not tokenized).
   */
  chunks(prompt: string): PromptChunk[] {
    const { bosTokenId: bos, eosTokenId: eos, padTokenId: pad } = this.#tokenizer;
    const fragments = this.#weighting ? parsePromptWeights(prompt) : [{ text: prompt, weight: 1 }];
    const chunks: PromptChunk[] = [];
    let chunk: PromptChunk = { tokens: [], weights: [] };
    let lastComma = -1;
    const nextChunk = (): void => {
      const n = chunk.tokens.length;
      // A1111 pads with EOS and (SD 2.x) turns everything after the first EOS into the pad token
      const tokens = [bos, ...chunk.tokens, eos];
      while (tokens.length < CHUNK_TOKENS + 2) tokens.push(pad === eos ? eos : pad);
      const weights = [1, ...chunk.weights, ...new Array<number>(CHUNK_TOKENS + 1 - n).fill(1)];
      chunks.push({ tokens, weights });
      if (chunks.length > this.maxChunks) throw tooManyChunks(prompt, this.maxChunks);
      chunk = { tokens: [], weights: [] };
      lastComma = -1;
    };
    const expand = multiVectorExpander(this.#tokenizer);
    for (const fragment of fragments) {
      if ('isBreak' in fragment && fragment.isBreak) {
        nextChunk();
        continue;
      }
      for (const token of this.#tokenizer.encodeIds(fragment.text)) {
        if (token === this.#comma) {
          lastComma = chunk.tokens.length;
        } else if (
          this.#backtrack !== 0 &&
          chunk.tokens.length === CHUNK_TOKENS &&
          lastComma !== -1 &&
          chunk.tokens.length - lastComma <= this.#backtrack
        ) {
          // move the words after the last comma into the next chunk
          const cut = lastComma + 1;
          const moved = { tokens: chunk.tokens.slice(cut), weights: chunk.weights.slice(cut) };
          chunk.tokens = chunk.tokens.slice(0, cut);
          chunk.weights = chunk.weights.slice(0, cut);
          nextChunk();
          chunk = moved;
        }
        if (chunk.tokens.length === CHUNK_TOKENS) nextChunk();
        // a multi-vector embedding (<tok> <tok>_1 …) stays in one chunk, as A1111 keeps it: it moves whole to
        // the next chunk when it does not fit in this one
        const group = expand(token);
        if (
          group.length > 1 &&
          chunk.tokens.length > 0 &&
          chunk.tokens.length + group.length > CHUNK_TOKENS
        ) {
          nextChunk();
        }
        chunk.tokens.push(...group);
        chunk.weights.push(...group.map(() => fragment.weight));
      }
    }
    if (chunk.tokens.length > 0 || chunks.length === 0) nextChunk();
    return chunks;
  }
}

/**
 * Checks a chunk cap: an integer ≥ 1.
 *
 * @throws {@link @latentkit/core!InvalidArgumentError} otherwise.
 */
export function checkMaxChunks(value: number): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new InvalidArgumentError({
      name: 'maxChunks',
      value,
      expected: `an integer ≥ 1 (the default is ${DEFAULT_MAX_PROMPT_CHUNKS} chunks of 75 tokens)`,
    });
  }
  return value;
}

function tooManyChunks(prompt: string, max: number): LimitExceededError {
  const shown = prompt.length > 40 ? `${prompt.slice(0, 40)}…` : prompt;
  return new LimitExceededError({
    name: `the prompt ${JSON.stringify(shown)}`,
    value: `more than ${max} chunks`,
    expected: `at most ${max} chunks of 75 CLIP tokens (${max * CHUNK_TOKENS} tokens; each BREAK starts a new chunk)`,
    fix: `shorten the prompt or use fewer BREAKs, or raise the limit when loading: fromPretrained(folder, { backend, maxPromptChunks: ${max * 2} })`,
  });
}
