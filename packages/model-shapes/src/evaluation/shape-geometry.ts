/**
 * Shape measurement and classification shared by the judges ({@link judgeShapeImage}, {@link judgeLayout}):
 * the shape's pixels by a 50 % coverage cut between background and shape colour, its fill ratio and
 * where its mass sits, and the shape class those give.
 */
import type { RgbaImage } from '@latentkit/core';
import type { Rgb } from './pixel-colors.js';
import type { ShapeName } from './shapes-world.js';

/** Pixel rectangle: `x`, `y` of the top-left pixel, `width` × `height` pixels. */
export interface PixelBox {
  /** Column of the left-most pixel. */
  readonly x: number;
  /** Row of the top-most pixel. */
  readonly y: number;
  /** Width in pixels. */
  readonly width: number;
  /** Height in pixels. */
  readonly height: number;
}

/** The largest 8-connected component of `mask` (a list of pixel indices), found by flood fill. */
export function largestComponent(mask: Uint8Array, width: number, height: number): number[] {
  const seen = new Uint8Array(mask.length);
  let best: number[] = [];
  const stack: number[] = [];
  for (let start = 0; start < mask.length; start++) {
    if (!mask[start] || seen[start]) continue;
    const component: number[] = [];
    seen[start] = 1;
    stack.push(start);
    while (stack.length > 0) {
      const p = stack.pop() as number;
      component.push(p);
      const x = p % width;
      const y = (p - x) / width;
      for (let dy = -1; dy <= 1; dy++) {
        for (let dx = -1; dx <= 1; dx++) {
          const nx = x + dx;
          const ny = y + dy;
          if (nx < 0 || ny < 0 || nx >= width || ny >= height) continue;
          const q = ny * width + nx;
          if (mask[q] && !seen[q]) {
            seen[q] = 1;
            stack.push(q);
          }
        }
      }
    }
    if (component.length > best.length) best = component;
  }
  return best;
}

/** What {@link measureShape} measured of one shape. */
export interface ShapeGeometry {
  /** The shape's bounding box (its largest connected component). */
  readonly box: PixelBox;
  /** Pixels of the shape's component. */
  readonly area: number;
  /** Covered area over the box's area (fractional coverage): ≈ 1 square, ≈ 0.785 circle, ≈ 0.5 triangle. */
  readonly fillRatio: number;
  /** Share of the area in the upper half of the box: ≈ 0.5 circle and square, ≈ 0.25 apex-up triangle. */
  readonly topShare: number;
}

/**
 * Measures the shape of colour `fg` on background `bg` in `image`: the largest connected component of
 * pixels at least half-way from `bg` to `fg` (a 50 % coverage cut of the anti-aliased edge, so its area
 * and box match the drawn geometry), or `null` when it has fewer than `minArea` pixels.
 */
export function measureShape(image: RgbaImage, bg: Rgb, fg: Rgb, minArea: number): ShapeGeometry | null {
  const { width, height, data } = image;
  const n = width * height;
  // Projection of each pixel onto the background → shape colour axis: its coverage.
  const axis = [fg[0] - bg[0], fg[1] - bg[1], fg[2] - bg[2]];
  const axis2 = axis[0]! ** 2 + axis[1]! ** 2 + axis[2]! ** 2;
  const coverage = new Float64Array(n);
  const inside = new Uint8Array(n);
  for (let p = 0; p < n; p++) {
    const t =
      axis2 > 0
        ? ((data[p * 4]! - bg[0]) * axis[0]! +
            (data[p * 4 + 1]! - bg[1]) * axis[1]! +
            (data[p * 4 + 2]! - bg[2]) * axis[2]!) /
          axis2
        : 0;
    coverage[p] = Math.min(1, Math.max(0, t));
    inside[p] = t >= 0.5 ? 1 : 0;
  }
  const shapePixels = largestComponent(inside, width, height);
  if (shapePixels.length < minArea) return null;

  let x0 = width;
  let y0 = height;
  let x1 = -1;
  let y1 = -1;
  for (const p of shapePixels) {
    const x = p % width;
    const y = (p - x) / width;
    x0 = Math.min(x0, x);
    x1 = Math.max(x1, x);
    y0 = Math.min(y0, y);
    y1 = Math.max(y1, y);
  }
  const area = shapePixels.length;
  // Fill ratio from fractional coverage: at 32 px a small shape is ~9 px wide, and whole-pixel
  // areas and boxes blur circle (0.785) into square (1.0). The shape plus its 1-pixel rim holds all
  // of its anti-aliased edge; the widest row's and tallest column's coverage sums are its width and
  // height, their product its box.
  const rim = new Uint8Array(n);
  for (const p of shapePixels) {
    const x = p % width;
    const y = (p - x) / width;
    for (let dy = -1; dy <= 1; dy++) {
      for (let dx = -1; dx <= 1; dx++) {
        const nx = x + dx;
        const ny = y + dy;
        if (nx >= 0 && ny >= 0 && nx < width && ny < height) rim[ny * width + nx] = 1;
      }
    }
  }
  const rowSums = new Float64Array(height);
  const colSums = new Float64Array(width);
  let softArea = 0;
  for (let p = 0; p < n; p++) {
    if (!rim[p]) continue;
    const x = p % width;
    const t = coverage[p] as number;
    rowSums[(p - x) / width]! += t;
    colSums[x]! += t;
    softArea += t;
  }
  const fillRatio = softArea / (Math.max(...rowSums) * Math.max(...colSums));
  // Rows above the box's middle count fully, the middle row (odd heights) half.
  const mid = (y0 + y1) / 2;
  let top = 0;
  for (const p of shapePixels) {
    const y = Math.floor(p / width);
    top += y < mid ? 1 : y === mid ? 0.5 : 0;
  }
  return {
    box: { x: x0, y: y0, width: x1 - x0 + 1, height: y1 - y0 + 1 },
    area,
    fillRatio,
    topShare: top / area,
  };
}

/** The thresholds {@link classifyShape} uses (the judges' `JUDGE_THRESHOLDS` hold the values). */
export interface ShapeClassThresholds {
  /** Fill ratio at or above which the shape is a square. */
  readonly squareFill: number;
  /** A triangle (apex up) holds less than this share of its area in the upper half… */
  readonly triangleTopShare: number;
  /** …and fills less than this much of its box. */
  readonly triangleFill: number;
  /** Fill ratio at or above which a shape that is no square or triangle is a circle. */
  readonly circleFill: number;
  /** Bounding boxes more elongated than this are no shape. */
  readonly maxAspect: number;
}

/**
 * The shape class from its geometry: a square fills its box; a triangle (apex up) is recognised by where
 * its mass sits as well as by fill, so a blurred triangle is not taken for a circle; a circle fills about
 * π/4 with its mass balanced. Anything else (an upside-down triangle, a thin blob) is `null`.
 */
export function classifyShape(geometry: ShapeGeometry, t: ShapeClassThresholds): ShapeName | null {
  const { box, fillRatio, topShare } = geometry;
  const aspect = Math.max(box.width, box.height) / Math.min(box.width, box.height);
  if (aspect > t.maxAspect) return null;
  if (fillRatio >= t.squareFill) return 'square';
  if (topShare < t.triangleTopShare && fillRatio < t.triangleFill) return 'triangle';
  if (fillRatio >= t.circleFill && topShare >= t.triangleTopShare) return 'circle';
  return null;
}
