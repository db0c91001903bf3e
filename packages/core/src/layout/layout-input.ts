import type { Tensor } from '../tensor.js';
import type { LayoutBox, LayoutObject } from './layout-object.js';

/**
 * What a {@link LayoutEncoder} encodes, in one of three forms:
 * - a list of objects `{ phrase, box }` (the data form);
 * - `{ phrases, boxes }`: phrase i belongs in box i (diffusers' `gligen_phrases` + `gligen_boxes`);
 * - `{ phraseEmbeds, boxes }`: precomputed pooled phrase embeddings `[n, D]`, row i for box i.
 */
export type LayoutInput =
  | readonly LayoutObject[]
  | { readonly phrases: readonly string[]; readonly boxes: readonly LayoutBox[] }
  | { readonly phraseEmbeds: Tensor; readonly boxes: readonly LayoutBox[] };

/** A layout after {@link checkLayout}: the boxes, and either the phrases or their embeddings. */
export interface CheckedLayout {
  /** The boxes, copied, in object order. */
  boxes: LayoutBox[];
  /** The phrases, in object order (absent when the embeddings were given). */
  phrases?: string[];
  /** The pooled phrase embeddings `[n, D]` (absent when phrases were given). */
  phraseEmbeds?: Tensor;
}
