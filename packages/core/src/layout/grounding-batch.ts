import { ShapeMismatchError } from '../errors.js';
import type { GroundingInput } from '../interfaces/denoiser.js';
import { checkFinite } from '../pipeline/validate-options.js';
import { Tensor } from '../tensor.js';

/**
 * The grounding tensors of {@link GroundingInput} without the `enabled` flag: what a
 * {@link LayoutEncoder} makes for one row (`[1, S, …]`), and what {@link groundingBatch} grows to the
 * denoiser's batch (`[B, S, …]`).
 */
export type GroundingTensors = Omit<GroundingInput, 'enabled'>;

/**
 * Checks one row of grounding tensors from a layout encoder (the shipped {@link LayoutEncoder} or a
 * replacement): `boxes [1, S, 4]`, `positiveEmbeddings [1, S, D]`, `masks [1, S]`, finite, with S and D
 * the denoiser's `maxObjects` and `embeddingDim`.
 *
 * @throws {@link ShapeMismatchError} for a wrong shape, {@link InvalidArgumentError} for NaN or ±Infinity.
 */
export function checkGroundingRow(
  row: GroundingTensors,
  spec: { maxObjects: number; embeddingDim: number },
): GroundingTensors {
  const S = spec.maxObjects;
  const D = spec.embeddingDim;
  const expected: [keyof GroundingTensors, number[]][] = [
    ['boxes', [1, S, 4]],
    ['positiveEmbeddings', [1, S, D]],
    ['masks', [1, S]],
  ];
  for (const [key, shape] of expected) {
    const t = row?.[key];
    if (!(t instanceof Tensor) || t.shape.join() !== shape.join()) {
      throw new ShapeMismatchError({
        name: `layout encoder output ${key}`,
        value: t instanceof Tensor ? t.shape : t,
        expected: `a Tensor of shape [${shape.join(', ')}] (one row, the denoiser's ${S} object slots${key === 'positiveEmbeddings' ? `, embedding width ${D}` : ''})`,
        fix: "make the layout encoder's encode() return one zero-padded row per layout, as LayoutEncoder does",
      });
    }
    checkFinite(
      `layout encoder output ${key}`,
      t,
      'check the phrase embeddings and boxes the layout encoder was given; they must be finite',
    );
  }
  return row;
}

/**
 * Grows one row of grounding tensors to the denoiser's batch, as diffusers' GLIGEN pipeline does: the same
 * objects for every prompt and image (`rows` = prompts × images per prompt copies), and under
 * classifier-free guidance the result concatenated twice, `[uncond; cond]`, with the unconditional half's
 * masks set to 0 — the unconditional rows keep the boxes and embeddings, only their masks are zero.
 *
 * @param row - One row `[1, S, …]` (checked with {@link checkGroundingRow}).
 * @param rows - Prompts × images per prompt.
 * @param classifierFreeGuidance - Whether the denoiser batch is `[uncond; cond]`.
 */
export function groundingBatch(
  row: GroundingTensors,
  rows: number,
  classifierFreeGuidance: boolean,
): GroundingTensors {
  const boxes = row.boxes.repeatInterleave(rows);
  const positiveEmbeddings = row.positiveEmbeddings.repeatInterleave(rows);
  const masks = row.masks.repeatInterleave(rows);
  if (!classifierFreeGuidance) return { boxes, positiveEmbeddings, masks };
  return {
    boxes: Tensor.cat([boxes, boxes]),
    positiveEmbeddings: Tensor.cat([positiveEmbeddings, positiveEmbeddings]),
    masks: Tensor.cat([Tensor.zeros(masks.shape), masks]),
  };
}
