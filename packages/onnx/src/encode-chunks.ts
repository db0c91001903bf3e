import { Tensor } from '@latentkit/core';
import type { PromptChunk } from './prompt-chunker.js';
import { applyEmphasis } from './prompt-emphasis.js';

/**
 * Runs one text encoder over prompts already cut into chunks, as A1111 does: chunk k of every row in one
 * batched run, A1111's emphasis applied per row and chunk, the chunks of a row concatenated along the
 * tokens. Every row must have the same number of chunks (pad with empty chunks first).
 *
 * @param rows - Per row, its chunks (all rows the same length k).
 * @param run - Encodes `B·77` token ids (B rows) to hidden states `[B, 77, D]`; it may also keep other outputs.
 * @returns Per row, its hidden states `[1, 77·k, D]`.
 */
export async function encodeChunks(
  rows: readonly (readonly PromptChunk[])[],
  run: (ids: number[], batch: number, chunkIndex: number) => Promise<Tensor>,
): Promise<Tensor[]> {
  const count = rows[0]?.length ?? 0;
  const parts: Tensor[][] = rows.map(() => []);
  for (let k = 0; k < count; k++) {
    const ids = rows.flatMap((c) => c[k]!.tokens);
    const hidden = await run(ids, rows.length, k);
    hidden.chunk(rows.length).forEach((z, i) => {
      parts[i]!.push(applyEmphasis(z, rows[i]![k]!.weights));
    });
  }
  return parts.map((p) => Tensor.cat(p, 1));
}

/**
 * Pads every row's chunk list with `empty` chunks to the longest one's length (in place), so negative and
 * positive prompts, and SDXL's two encoders, always fit together.
 *
 * @returns The common length.
 */
export function padChunks(rows: PromptChunk[][], empty: PromptChunk, atLeast = 0): number {
  const count = Math.max(atLeast, ...rows.map((c) => c.length));
  for (const c of rows) while (c.length < count) c.push(empty);
  return count;
}
