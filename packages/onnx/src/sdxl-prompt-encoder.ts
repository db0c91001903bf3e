import {
  type Conditioning,
  InvalidArgumentError,
  ModelMismatchError,
  type PromptEncodeOptions,
  type PromptEncoder,
  Tensor,
} from '@latentkit/core';
import { checkClipSkip } from './clip-skip.js';
import type { ClipTokenizer } from './clip-tokenizer.js';
import { encodeChunks, padChunks } from './encode-chunks.js';
import type { OnnxTextEncoder } from './onnx-text-encoder.js';
import { type PromptChunk, PromptChunker, type PromptChunkerOptions } from './prompt-chunker.js';

/** One of SDXL's text encoders with its tokenizer. */
export interface SdxlTextUnit {
  /** Its CLIP tokenizer (`tokenizer/` pads with `<|endoftext|>`, `tokenizer_2/` with `!`). */
  readonly tokenizer: ClipTokenizer;
  /** Its ONNX text encoder, exported with `hidden_states.N` outputs. */
  readonly textEncoder: OnnxTextEncoder;
}

/** Options of {@link SdxlPromptEncoder}. */
export interface SdxlPromptEncoderOptions extends PromptChunkerOptions {
  /**
   * The clip skip used when `encode` is not given one: 1 (default) = SDXL's penultimate hidden state,
   * N = `hidden_states[-(N+1)]` (diffusers' SDXL `clip_skip = N − 1`).
   */
  clipSkip?: number;
}

interface Unit extends SdxlTextUnit {
  readonly chunker: PromptChunker;
}

/**
 * The prompt encoder of SDXL models: CLIP ViT-L (`text_encoder`, absent in the refiner) and OpenCLIP bigG
 * with projection (`text_encoder_2`), as diffusers' `StableDiffusionXLPipeline.encode_prompt` uses them:
 *
 * - each encoder gets its own tokenization (`prompts` go to the first, `prompts2` — default the prompts — to
 *   the second; without the first encoder, as in the refiner, the second gets `prompts` and `prompts2` is
 *   ignored, as diffusers' `zip([prompt, prompt_2], [text_encoder_2])` does) and gives its penultimate hidden state `hidden_states[-2]` as exported, without the final
 *   layer norm; clip skip N takes `hidden_states[-(N+1)]` of both;
 * - the two are concatenated along the features: `encoderHiddenStates` `[B, 77·k, D1 + D2]` (the refiner:
 *   `[B, 77·k, D2]`);
 * - `textEmbeds` `[B, P]` is text_encoder_2's `text_embeds` (the projected EOS state) of the prompt's FIRST
 *   chunk, as A1111 and ComfyUI do for long prompts;
 * - A1111's attention weights, `BREAK` and 75-token chunks, as the SD 1.x/2.x encoder (one
 *   {@link PromptChunker} per tokenizer), with the emphasis applied to each encoder's hidden states
 *   separately (A1111 does it per embedder); the two encoders' chunk lists are padded with empty chunks to
 *   the same length k.
 *
 * A prompt without weights or `BREAK`, up to 75 tokens, gives exactly diffusers' `encode_prompt` numbers.
 */
export class SdxlPromptEncoder implements PromptEncoder {
  readonly #units: readonly Unit[];
  readonly #second: Unit;
  readonly #clipSkip: number;

  /**
   * @param first - `tokenizer` + `text_encoder`; undefined for the refiner, which has only the second.
   * @param second - `tokenizer_2` + `text_encoder_2` (must have a `text_embeds` output).
   * @param options - Clip skip default, prompt weighting, comma backtrack, chunk cap.
   * @throws {@link @latentkit/core!ModelMismatchError} when text_encoder_2 has no `text_embeds` output.
   */
  constructor(first: SdxlTextUnit | undefined, second: SdxlTextUnit, options: SdxlPromptEncoderOptions = {}) {
    if (!second.textEncoder.hasTextEmbeds) {
      throw new ModelMismatchError(
        `${second.textEncoder.request.modelPath} has no "text_embeds" output, but SDXL's pooled embedding is text_encoder_2's projected output. Fix: export text_encoder_2 as CLIPTextModelWithProjection (optimum-cli export onnx does).`,
      );
    }
    this.#clipSkip = checkClipSkip(options.clipSkip ?? 1);
    const unit = (u: SdxlTextUnit): Unit => ({ ...u, chunker: new PromptChunker(u.tokenizer, options) });
    this.#second = unit(second);
    this.#units = first ? [unit(first), this.#second] : [this.#second];
  }

  /** Whether the first text encoder (CLIP ViT-L) is there; the refiner has only the second. */
  get hasFirstEncoder(): boolean {
    return this.#units.length === 2;
  }

  /**
   * Encodes prompts into `{ encoderHiddenStates [B, 77·k, D1+D2], textEmbeds [B, P] }`.
   *
   * @param prompts - The prompts for the first text encoder (identical pairs are encoded once).
   * @param options - `clipSkip` (default the encoder's), `prompts2` for the second text encoder (one per
   *   prompt; default the prompts; ignored without the first encoder, as diffusers does).
   * @throws {@link @latentkit/core!InvalidArgumentError} for an empty list, non-strings, `prompts2` of another
   *   length, or a bad clip skip; {@link @latentkit/core!LimitExceededError} for a prompt of too many chunks.
   */
  async encode(prompts: string[], options: PromptEncodeOptions = {}): Promise<Conditioning> {
    checkTexts('prompts', prompts);
    const prompts2 = options.prompts2 ?? prompts;
    checkTexts('prompts2', prompts2);
    if (prompts2.length !== prompts.length) {
      throw new InvalidArgumentError({
        name: 'prompts2',
        value: `${prompts2.length} texts`,
        expected: `one text for the second text encoder per prompt (${prompts.length})`,
        fix: 'pass as many prompts2 as prompts, or leave prompts2 out to use the prompts',
      });
    }
    const clipSkip = checkClipSkip(options.clipSkip ?? this.#clipSkip);
    // identical (prompt, prompt2) pairs are encoded once
    const keys = prompts.map((p, i) => JSON.stringify([p, prompts2[i]]));
    const unique = [...new Set(keys)].map((k) => JSON.parse(k) as [string, string]);
    // per unit, per pair: its chunks; the first unit reads the prompt, the second prompt2 — except in the
    // refiner, where diffusers zips [prompt, prompt_2] with the one encoder it has: text_encoder_2 reads the prompt
    const second = this.hasFirstEncoder;
    const chunks: PromptChunk[][][] = this.#units.map((u) =>
      unique.map(([p, p2]) => u.chunker.chunks(u === this.#second && second ? p2 : p)),
    );
    // both encoders, every row: the same chunk count k
    const count = Math.max(...chunks.flat().map((c) => c.length));
    for (const [i, u] of this.#units.entries()) padChunks(chunks[i]!, u.chunker.empty(), count);

    let pooled: Tensor | undefined;
    const hidden: Tensor[][] = [];
    for (const [i, u] of this.#units.entries()) {
      const rows = await encodeChunks(chunks[i]!, async (ids, batch, k) => {
        const out = await u.textEncoder.encodeHiddenState(ids, batch, clipSkip + 1);
        if (u === this.#second && k === 0) pooled = out.textEmbeds;
        return out.hiddenStates;
      });
      hidden.push(rows);
    }
    if (pooled?.shape.length !== 2 || pooled.shape[0] !== unique.length) {
      throw new ModelMismatchError(
        `${this.#second.textEncoder.request.modelPath} returned text_embeds of shape ${pooled ? `[${pooled.shape.join(', ')}]` : 'none'}; expected [${unique.length}, P]. Fix: re-export text_encoder_2 as CLIPTextModelWithProjection.`,
      );
    }
    const pooledRows = pooled.chunk(unique.length);
    const rowOf = new Map([...new Set(keys)].map((k, i) => [k, i]));
    const byRow = unique.map((_, r) =>
      Tensor.cat(
        hidden.map((h) => h[r]!),
        2,
      ),
    );
    return {
      encoderHiddenStates: Tensor.cat(keys.map((k) => byRow[rowOf.get(k)!]!)),
      textEmbeds: Tensor.cat(keys.map((k) => pooledRows[rowOf.get(k)!]!)),
    };
  }
}

function checkTexts(name: string, texts: unknown): asserts texts is string[] {
  if (!Array.isArray(texts) || texts.length === 0 || texts.some((p) => typeof p !== 'string')) {
    throw new InvalidArgumentError({ name, value: texts, expected: 'a non-empty array of strings' });
  }
}
