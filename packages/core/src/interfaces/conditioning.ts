import type { Tensor } from '../tensor.js';

/** What the denoiser attends to: the output of a {@link PromptEncoder}, one row per prompt. */
export interface Conditioning {
  /** Text hidden states `[B, tokens, D]` for cross-attention (tokens = 77, or a multiple for long prompts). */
  encoderHiddenStates: Tensor;
  /** Pooled text embeddings `[B, D']` (SDXL: text_encoder_2's projected `text_embeds`, 1280 wide). */
  textEmbeds?: Tensor;
  /**
   * Micro-conditioning time ids `[B, 6]` (SDXL base) or `[B, 5]` (refiner, with the aesthetic score). The
   * SDXL pipeline makes them from its size options; prompt encoders leave them out.
   */
  timeIds?: Tensor;
}
