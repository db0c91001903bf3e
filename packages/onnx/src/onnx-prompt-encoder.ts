import {
  type Conditioning,
  InvalidArgumentError,
  LimitExceededError,
  ModelMismatchError,
  type PromptEncodeOptions,
  type PromptEncoder,
  parsePromptWeights,
  Tensor,
} from '@latentkit/core';
import { expandMultiVectorTokens, multiVectorExpander } from './adapters/multi-vector-tokens.js';
import type { ClipTokenizer } from './clip-tokenizer.js';
import type { OnnxTextEncoder } from './onnx-text-encoder.js';

/** Options of {@link OnnxPromptEncoder}. */
export interface OnnxPromptEncoderOptions {
  /** The clip skip used when `encode` is not given one (A1111's "clip skip"; 1 = none, the default). */
  clipSkip?: number;
  /** Parse A1111 attention syntax — `(word:1.3)`, `(word)`, `[word]`, `BREAK` (default true). */
  promptWeighting?: boolean;
  /**
   * A1111's "comma padding backtrack": when a 75-token chunk fills up and a comma lies within this many
   * tokens of its end, the words after the comma move to the next chunk. A1111's default is 20; 0 turns it off.
   */
  commaPaddingBacktrack?: number;
  /**
   * The most 75-token chunks one prompt may take (default {@link DEFAULT_MAX_PROMPT_CHUNKS} = 32, i.e.
   * 2,400 tokens; each `BREAK` starts a chunk). The text encoder runs once per chunk, so a longer prompt is
   * refused with a `LimitExceededError` before the encoder runs. Raise it for models and prompts that need it.
   */
  maxChunks?: number;
}

/**
 * The default cap on 75-token chunks per prompt: 32 chunks = 2,400 CLIP tokens, far beyond what a prompt
 * needs (each chunk is one text-encoder run and 77 more tokens of cross-attention in every UNet step).
 */
export const DEFAULT_MAX_PROMPT_CHUNKS = 32;

/** One 77-token text encoder input: BOS, 75 prompt tokens or padding, EOS (as A1111's PromptChunk). */
interface PromptChunk {
  tokens: number[];
  weights: number[];
}

const CHUNK = 75;

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
  readonly #weighting: boolean;
  readonly #backtrack: number;
  readonly #comma: number | undefined;
  readonly #maxChunks: number;

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
    this.#weighting = options.promptWeighting ?? true;
    const backtrack = options.commaPaddingBacktrack ?? 20;
    if (!Number.isInteger(backtrack) || backtrack < 0 || backtrack > CHUNK) {
      throw new InvalidArgumentError({
        name: 'commaPaddingBacktrack',
        value: backtrack,
        expected: `an integer from 0 to ${CHUNK}`,
      });
    }
    this.#backtrack = backtrack;
    this.#comma = tokenizer.tokenToId(',</w>');
    this.#maxChunks = checkMaxChunks(options.maxChunks ?? DEFAULT_MAX_PROMPT_CHUNKS);
  }

  /** The most 75-token chunks one prompt may take (see {@link OnnxPromptEncoderOptions.maxChunks}). */
  get maxChunks(): number {
    return this.#maxChunks;
  }

  /**
   * The prompt split into 77-token chunks with per-token weights (exposed for tests and tools).
   *
   * @throws {@link @latentkit/core!LimitExceededError} as soon as the prompt needs more than
   *   {@link OnnxPromptEncoderOptions.maxChunks} chunks (the rest of the prompt is not tokenized).
   */
  chunks(prompt: string): { tokens: number[]; weights: number[] }[] {
    const { bosTokenId: bos, eosTokenId: eos, padTokenId: pad } = this.#tokenizer;
    const fragments = this.#weighting ? parsePromptWeights(prompt) : [{ text: prompt, weight: 1 }];
    const chunks: PromptChunk[] = [];
    let chunk: PromptChunk = { tokens: [], weights: [] };
    let lastComma = -1;
    const nextChunk = (): void => {
      const n = chunk.tokens.length;
      // A1111 pads with EOS and (SD 2.x) turns everything after the first EOS into the pad token
      const tokens = [bos, ...chunk.tokens, eos];
      while (tokens.length < CHUNK + 2) tokens.push(pad === eos ? eos : pad);
      const weights = [1, ...chunk.weights, ...new Array<number>(CHUNK + 1 - n).fill(1)];
      chunks.push({ tokens, weights });
      if (chunks.length > this.#maxChunks) throw tooManyChunks(prompt, this.#maxChunks);
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
          chunk.tokens.length === CHUNK &&
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
        if (chunk.tokens.length === CHUNK) nextChunk();
        // a multi-vector embedding (<tok> <tok>_1 …) stays in one chunk, as A1111 keeps it: it moves whole to
        // the next chunk when it does not fit in this one
        const group = expand(token);
        if (group.length > 1 && chunk.tokens.length > 0 && chunk.tokens.length + group.length > CHUNK) {
          nextChunk();
        }
        chunk.tokens.push(...group);
        chunk.weights.push(...group.map(() => fragment.weight));
      }
    }
    if (chunk.tokens.length > 0 || chunks.length === 0) nextChunk();
    return chunks;
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
    const perPrompt = unique.map((p) => this.chunks(p));
    const count = Math.max(...perPrompt.map((c) => c.length));
    const empty = this.chunks('')[0]!;
    for (const c of perPrompt) while (c.length < count) c.push(empty);

    const u = unique.length;
    const rows: Tensor[][] = unique.map(() => []);
    for (let k = 0; k < count; k++) {
      const ids = perPrompt.flatMap((c) => c[k]!.tokens);
      const { hiddenStates } = await this.#encoder.encode(ids, u, clipSkip);
      const parts = hiddenStates.chunk(u);
      parts.forEach((z, i) => {
        rows[i]!.push(applyWeights(z, perPrompt[i]![k]!.weights));
      });
    }
    const byPrompt = new Map(unique.map((p, i) => [p, Tensor.cat(rows[i]!, 1)]));
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
      if (tokens.length > CHUNK) {
        throw new InvalidArgumentError({
          name: `texts[${i}] ${JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text)}`,
          value: `${tokens.length} CLIP tokens`,
          expected: `at most ${CHUNK} CLIP tokens (a phrase is encoded whole, without chunking)`,
          fix: 'shorten the phrase to a few words, e.g. "a red circle"',
        });
      }
      rowOf.set(text, unique.length);
      unique.push(text);
      const { bosTokenId: bos, eosTokenId: eos, padTokenId: pad } = this.#tokenizer;
      const row = [bos, ...tokens, eos];
      while (row.length < CHUNK + 2) row.push(pad);
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

function checkMaxChunks(value: number): number {
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
    expected: `at most ${max} chunks of 75 CLIP tokens (${max * CHUNK} tokens; each BREAK starts a new chunk)`,
    fix: `shorten the prompt or use fewer BREAKs, or raise the limit when loading: fromPretrained(folder, { backend, maxPromptChunks: ${max * 2} })`,
  });
}

function checkClipSkip(value: number): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new InvalidArgumentError({
      name: 'clipSkip',
      value,
      expected: 'an integer ≥ 1 (1 = use the last layer, 2 = skip one layer)',
    });
  }
  return value;
}

/**
 * A1111's "Original" emphasis on one chunk `[1, T, D]`: multiply each token's hidden state by its weight,
 * then rescale so the mean is what it was. All weights 1 leave the chunk as it is.
 */
function applyWeights(z: Tensor, weights: readonly number[]): Tensor {
  if (weights.every((w) => w === 1)) return z;
  const d = z.shape[2]!;
  const originalMean = Math.fround(z.mean());
  const scaled = z.map((v, i) => v * Math.fround(weights[Math.floor(i / d)]!));
  const newMean = Math.fround(scaled.mean());
  const factor = Math.fround(originalMean / newMean);
  if (!Number.isFinite(factor)) {
    // weights that cancel the chunk's mean (e.g. negative ones) cannot be rescaled: 0/0 or x/0 is not a number
    throw new InvalidArgumentError({
      name: 'prompt weights',
      value: [...new Set(weights)],
      expected: `weights that keep the mean of the chunk's hidden states away from 0 (the rescale factor ${originalMean} / ${newMean} is not finite)`,
      fix: 'use positive weights, or smaller negative ones',
    });
  }
  return scaled.mul(factor);
}
