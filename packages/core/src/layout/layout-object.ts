/** A box `[x0, y0, x1, y1]` as fractions of the image's width and height, origin top left (0 ≤ x0 < x1 ≤ 1). */
export type LayoutBox = [number, number, number, number];

/** One object of a layout: what belongs in the box, and where the box is. */
export interface LayoutObject {
  /** What the box holds, e.g. `"a red circle"`: encoded to the text encoder's pooled embedding. */
  phrase: string;
  /** Where it goes. */
  box: LayoutBox;
}
