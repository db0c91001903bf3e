import type { Tensor } from '../tensor.js';

/** What the denoiser attends to: the output of a {@link PromptEncoder}, one row per prompt. */
export interface Conditioning {
  /** Text hidden states `[B, tokens, D]` for cross-attention (tokens = 77, or a multiple for long prompts). */
  encoderHiddenStates: Tensor;
  /** Pooled text embeddings `[B, D']` (SDXL). */
  textEmbeds?: Tensor;
  /** Micro-conditioning time ids `[B, 6]` (SDXL). */
  timeIds?: Tensor;
}
