import type { Tensor } from '../tensor.js';
import type { Conditioning } from './conditioning.js';

/** Options of {@link PromptEncoder.encode}. */
export interface PromptEncodeOptions {
  /** Skip the last N−1 layers of the text encoder (A1111's "clip skip"; 1 = no skip). */
  clipSkip?: number;
  /**
   * SDXL: the texts for the second text encoder (diffusers' `prompt_2`), one per prompt, in the order of
   * `prompts`; default: the prompts themselves. Encoders with one text encoder ignore it.
   */
  prompts2?: string[];
}

/**
 * Turns prompts into conditioning — a "conditioning module". The ONNX CLIP encoder is one; a module that
 * blends prompts or adds a style embedding is another. `encode([])` is never called.
 */
export interface PromptEncoder {
  /**
   * Encodes a batch of prompts: row i of the result belongs to `prompts[i]`. SDXL encoders also return the
   * pooled embedding of the second text encoder as `textEmbeds` `[B, P]` (no `timeIds`: the pipeline adds them).
   */
  encode(prompts: string[], options?: PromptEncodeOptions): Promise<Conditioning>;
  /**
   * Encodes short texts as written — no attention syntax, no chunking — to the text encoder's pooled
   * output `[n, D]` (CLIP's `pooler_output`): GLIGEN's phrase embeddings. Optional: layout-to-image needs it.
   */
  encodePooled?(texts: string[]): Promise<Tensor>;
}
