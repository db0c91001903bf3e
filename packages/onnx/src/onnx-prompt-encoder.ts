import {
  type Conditioning,
  InvalidArgumentError,
  ModelMismatchError,
  type PromptEncodeOptions,
  type PromptEncoder,
  Tensor,
} from '@latentkit/core';
import { expandMultiVectorTokens } from './adapters/multi-vector-tokens.js';
import { checkClipSkip } from './clip-skip.js';
import type { ClipTokenizer } from './clip-tokenizer.js';
import { encodeChunks, padChunks } from './encode-chunks.js';
import type { OnnxTextEncoder } from './onnx-text-encoder.js';
import { CHUNK_TOKENS, PromptChunker, type PromptChunkerOptions } from './prompt-chunker.js';

/** Options of {@link OnnxPromptEncoder}. */
export interface OnnxPromptEncoderOptions extends PromptChunkerOptions {
  /** The clip skip used when `encode` is not given one (A1111's "clip skip"; 1 = none, the default). */
  clipSkip?: number;
}

export { DEFAULT_MAX_PROMPT_CHUNKS } from './prompt-chunker.js';

/** Texts per text-encoder run in {@link OnnxPromptEncoder.encodePooled} (bounds the run's memory). */
const POOLED_BATCH = 32;

/**
 * The prompt encoder of ONNX Stable Diffusion models: the CLIP tokenizer and the ONNX CLIP text encoder,
 * with AUTOMATIC1111's handling of long and weighted prompts:
 *
 * - prompts longer than 75 tokens are cut into 75-token chunks, each encoded separately with its own BOS,
 *   EOS and padding, and the hidden states are concatenated along the tokens: `[B, 77·k, D]`; `BREAK`
 *   starts a new chunk; in a batch every prompt is padded with empty chunks to the same k, so negative and
 *   positive prompts always fit together;
 * - attention weights multiply each token's hidden state, then the chunk is rescaled so its mean is the
 *   unweighted mean (A1111's "Original" emphasis); the mean is taken per prompt, so a prompt's
 *   conditioning does not depend on the other prompts in the batch;
 * - clip skip k > 1 takes `hidden_states[-k]` through the final layer norm (needs an export with
 *   `hidden_states.N` outputs).
 *
 * A prompt without weights or BREAK, up to 75 tokens, gives exactly what diffusers'
 * `tokenizer(padding="max_length") → text_encoder` gives.
 */
export class OnnxPromptEncoder implements PromptEncoder {
  readonly #tokenizer: ClipTokenizer;
  readonly #encoder: OnnxTextEncoder;
  readonly #clipSkip: number;
  readonly #chunker: PromptChunker;

  /**
   * @param tokenizer - The model's CLIP tokenizer.
   * @param textEncoder - The model's text encoder session.
   * @param options - Clip skip default, prompt weighting, comma backtrack.
   */
  constructor(
    tokenizer: ClipTokenizer,
    textEncoder: OnnxTextEncoder,
    options: OnnxPromptEncoderOptions = {},
  ) {
    this.#tokenizer = tokenizer;
    this.#encoder = textEncoder;
    this.#clipSkip = checkClipSkip(options.clipSkip ?? 1);
    this.#chunker = new PromptChunker(tokenizer, options);
  }

  /** The most 75-token chunks one prompt may take (see {@link OnnxPromptEncoderOptions.maxChunks}). */
  get maxChunks(): number {
    return this.#chunker.maxChunks;
  }

  /**
   * The prompt split into 77-token chunks with per-token weights (exposed for tests and tools).
   *
   * @throws {@link @latentkit/core!LimitExceededError} as soon as the prompt needs more than
   *   {@link OnnxPromptEncoderOptions.maxChunks} chunks (the rest of the prompt is not tokenized).
   */
  chunks(prompt: string): { tokens: number[]; weights: number[] }[] {
    return this.#chunker.chunks(prompt);
  }

  /**
   * Encodes prompts into `encoderHiddenStates` `[prompts.length, 77·k, D]`.
   *
   * @param prompts - The prompts (any batch; identical prompts are encoded once).
   * @param options - `clipSkip` overrides the encoder's default.
   */
  async encode(prompts: string[], options: PromptEncodeOptions = {}): Promise<Conditioning> {
    if (!Array.isArray(prompts) || prompts.length === 0 || prompts.some((p) => typeof p !== 'string')) {
      throw new InvalidArgumentError({
        name: 'prompts',
        value: prompts,
        expected: 'a non-empty array of strings',
      });
    }
    const clipSkip = checkClipSkip(options.clipSkip ?? this.#clipSkip);
    const unique = [...new Set(prompts)];
    const perPrompt = unique.map((p) => this.#chunker.chunks(p));
    padChunks(perPrompt, this.#chunker.empty());
    const rows = await encodeChunks(perPrompt, async (ids, batch) => {
      return (await this.#encoder.encode(ids, batch, clipSkip)).hiddenStates;
    });
    const byPrompt = new Map(unique.map((p, i) => [p, rows[i]!]));
    return { encoderHiddenStates: Tensor.cat(prompts.map((p) => byPrompt.get(p)!)) };
  }

  /**
   * Encodes short texts as written to the text encoder's pooled output `[texts.length, D]` (CLIP's
   * `pooler_output`: the last hidden state at the EOS token) — GLIGEN's phrase embeddings, as diffusers'
   * `StableDiffusionGLIGENPipeline` makes them with `text_encoder(tokenizer(phrases)).pooler_output`. No
   * attention syntax, no `BREAK`, no chunking and no clip skip: each text is `BOS, tokens, EOS`, padded to
   * 77 with the tokenizer's pad token (the pooled output does not depend on the padding: CLIP's attention is
   * causal).
   *
   * @param texts - The texts (identical ones are encoded once); each at most 75 CLIP tokens.
   * @throws {@link @latentkit/core!InvalidArgumentError} for an empty list, a non-string or a text over 75
   *   tokens (naming it); {@link @latentkit/core!ModelMismatchError} when the text encoder has no
   *   `pooler_output` output.
   */
  async encodePooled(texts: string[]): Promise<Tensor> {
    if (!Array.isArray(texts) || texts.length === 0) {
      throw new InvalidArgumentError({
        name: 'texts',
        value: texts,
        expected: 'a non-empty array of strings (the phrases to encode)',
      });
    }
    const unique: string[] = [];
    const rowOf = new Map<string, number>();
    const ids: number[][] = [];
    texts.forEach((text, i) => {
      if (typeof text !== 'string') {
        throw new InvalidArgumentError({ name: `texts[${i}]`, value: text, expected: 'a string' });
      }
      if (rowOf.has(text)) return;
      const tokens = expandMultiVectorTokens(this.#tokenizer.encodeIds(text), this.#tokenizer);
      if (tokens.length > CHUNK_TOKENS) {
        throw new InvalidArgumentError({
          name: `texts[${i}] ${JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text)}`,
          value: `${tokens.length} CLIP tokens`,
          expected: `at most ${CHUNK_TOKENS} CLIP tokens (a phrase is encoded whole, without chunking)`,
          fix: 'shorten the phrase to a few words, e.g. "a red circle"',
        });
      }
      rowOf.set(text, unique.length);
      unique.push(text);
      const { bosTokenId: bos, eosTokenId: eos, padTokenId: pad } = this.#tokenizer;
      const row = [bos, ...tokens, eos];
      while (row.length < CHUNK_TOKENS + 2) row.push(pad);
      ids.push(row);
    });
    if (!this.#encoder.hasPooledOutput) {
      throw new ModelMismatchError(
        `Pooled text embeddings (GLIGEN's phrase embeddings) need the text encoder's "pooler_output", but ${this.#encoder.request.modelPath} has no such output. ` +
          'Fix: re-export the text encoder with pooler_output (Optimum and diffusers exports of CLIPTextModel have it), or pass gligenPhraseEmbeds yourself.',
      );
    }
    const rows: Tensor[] = [];
    for (let start = 0; start < unique.length; start += POOLED_BATCH) {
      const group = ids.slice(start, start + POOLED_BATCH);
      const { pooled } = await this.#encoder.encode(group.flat(), group.length);
      if (pooled?.shape.length !== 2 || pooled.shape[0] !== group.length) {
        throw new ModelMismatchError(
          `${this.#encoder.request.modelPath} returned pooler_output of shape ${pooled ? `[${pooled.shape.join(', ')}]` : 'none'}; expected [${group.length}, D]. ` +
            'Fix: re-export the text encoder with pooler_output [batch, hidden_size].',
        );
      }
      rows.push(...pooled.chunk(group.length));
    }
    return Tensor.cat(texts.map((t) => rows[rowOf.get(t)!]!));
  }
}
