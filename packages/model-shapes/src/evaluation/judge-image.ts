import type { RgbaImage } from '@latentkit/core';
import {
  checkImage,
  distancesFrom,
  labelPixels,
  meanColor,
  paletteOf,
  type Rgb,
  shapeColor,
} from './pixel-colors.js';
import { classifyShape, largestComponent, measureShape, type PixelBox } from './shape-geometry.js';

export type { PixelBox } from './shape-geometry.js';

import type { ShapeName, ShapePosition, ShapeSize, ShapesWorld } from './shapes-world.js';

/**
 * What {@link judgeShapeImage} saw in an image. An attribute is `null` when the image shows nothing
 * that qualifies (no shape at all, a blob that is no known shape, a shape between two positions):
 * `null` never equals an expected value, so it counts as wrong.
 */
export interface JudgedImage {
  /** The colour name of the background (majority of the border pixels' nearest colours). */
  readonly background: string | null;
  /** The colour name of the shape. */
  readonly color: string | null;
  /** The shape class, from the fill ratio of its bounding box and where its mass sits. */
  readonly shape: ShapeName | null;
  /** Small or large, from the bounding box's side. */
  readonly size: ShapeSize | null;
  /** The position of the bounding box's centre. */
  readonly position: ShapePosition | null;
  /** Measurements behind the verdicts, for reports and for tuning thresholds. */
  readonly measurements: {
    /** The shape's bounding box (its largest connected component), or null without a shape. */
    readonly box: PixelBox | null;
    /** Pixels of the shape's component. */
    readonly area: number;
    /** Covered area over the box's area (fractional coverage): ≈ 1 square, ≈ 0.785 circle, ≈ 0.5 triangle. */
    readonly fillRatio: number;
    /** Share of the area in the upper half of the box: ≈ 0.5 circle and square, ≈ 0.25 apex-up triangle. */
    readonly topShare: number;
    /** Bounding-box side `max(width, height)` in 1/64ths of the image side. */
    readonly side: number;
    /** Bounding-box centre in 1/64ths of the image side, `[x, y]`. */
    readonly center: readonly [number, number];
  };
}

/**
 * Thresholds of {@link judgeShapeImage}. Geometry is in 1/64ths of the image side (the units of
 * `tools/shapes-model/data.py`: anchors at 16 / 32 / 48, sides 18 small and 36 large, ±2 jitter), so
 * the judge works at any resolution.
 */
export const JUDGE_THRESHOLDS = {
  /** Border ring width that decides the background (a small shape's edge stays ≥ 4/64 inside). */
  borderWidth: 4,
  /** A pixel this far (RGB distance) from the background colour may belong to the shape. */
  minColorDistance: 40,
  /** A component smaller than this share of the image is noise, not a shape. */
  minAreaShare: 0.008,
  // Measured on 3000 jittered 32 px renders of data.py: fill ratio circle 0.76–0.83, square 1.0,
  // triangle 0.53–0.68; upper-half share circle 0.43–0.57, square 0.49–0.51, triangle 0.25–0.33.
  // Generated shapes are blurrier, which pulls a small triangle towards the circle (seen: fill up to
  // 0.75, upper-half share up to 0.39; small generated circles down to 0.41), hence the margins.
  /** Fill ratio at or above which the shape is a square (square 1.0, circle ≤ 0.83). */
  squareFill: 0.91,
  /** A triangle (apex up) holds less than this share of its area in the upper half. */
  triangleTopShare: 0.4,
  /** …and fills less than this much of its box. */
  triangleFill: 0.8,
  /** Fill ratio at or above which a shape that is no square or triangle is a circle. */
  circleFill: 0.65,
  /** Bounding boxes more elongated than this are no shape of the world (all have aspect 1). */
  maxAspect: 1.5,
  /** Side (1/64ths) above which the shape is large: between small (18 ± 2) and large (36 ± 2). */
  largeSide: 27,
  /** Centre coordinate (1/64ths) below which the shape is left / top: between 16 and 32. */
  nearEdge: 24,
  /** Centre coordinate (1/64ths) above which the shape is right / bottom: between 32 and 48. */
  farEdge: 40,
} as const;

/**
 * Judges an image of the shapes world by simple image analysis:
 *
 * 1. background = the most common nearest palette colour of the border ring;
 * 2. shape candidates = pixels whose nearest palette colour is not the background's and that are
 *    clearly away from the (measured) background colour; their largest connected component's
 *    strongest pixels give the shape colour (nearest palette colour of their per-channel median);
 * 3. the shape = the largest connected component of pixels at least half-way from the background
 *    colour to the shape colour — a 50 % coverage cut of the anti-aliased edge, so its area and box
 *    match the drawn geometry;
 * 4. shape class by the box's fill ratio (square ≈ 1, circle ≈ 0.785, triangle ≈ 0.5) plus an
 *    apex-up check (a triangle's mass sits low); size by the box's side; position by its centre.
 *
 * `colors` is the world's colour table ({@link ShapesWorld.colors}). Thresholds: {@link JUDGE_THRESHOLDS}.
 */
export function judgeShapeImage(image: RgbaImage, colors: ShapesWorld['colors']): JudgedImage {
  checkImage(image);
  const { names, rgb: palette } = paletteOf(colors);
  const T = JUDGE_THRESHOLDS;
  const { width, height } = image;
  const n = width * height;
  const unit = 64 / Math.max(width, height); // 1/64ths of the side per pixel
  const labels = labelPixels(image, palette);

  // 1. Background: majority vote of the border ring, then its measured mean colour.
  const ring = Math.max(1, Math.round(T.borderWidth / unit));
  const border: number[] = [];
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (x < ring || y < ring || x >= width - ring || y >= height - ring) border.push(y * width + x);
    }
  }
  const votes = new Array<number>(palette.length).fill(0);
  for (const p of border) votes[labels[p] as number]! += 1;
  const bgIndex = votes.indexOf(Math.max(...votes));
  const bg = meanColor(
    image,
    border.filter((p) => labels[p] === bgIndex),
    palette[bgIndex] as Rgb,
  );

  const none: JudgedImage = {
    background: names[bgIndex] as string,
    color: null,
    shape: null,
    size: null,
    position: null,
    measurements: {
      box: null,
      area: 0,
      fillRatio: 0,
      topShare: 0,
      side: 0,
      center: [0, 0],
    },
  };

  // 2. Candidate shape pixels and the shape colour.
  const dist = distancesFrom(image, bg);
  const candidates = new Uint8Array(n);
  for (let p = 0; p < n; p++) {
    candidates[p] = labels[p] !== bgIndex && (dist[p] as number) > T.minColorDistance ? 1 : 0;
  }
  const minArea = Math.max(3, T.minAreaShare * n);
  const rough = largestComponent(candidates, width, height);
  if (rough.length < minArea) return none;
  const { fg, index } = shapeColor(image, rough, dist, palette);
  const color = names[index] as string;

  // 3. The shape: a 50 % cut between background and shape colour; 4. its geometry and class.
  const geometry = measureShape(image, bg, fg, minArea);
  if (!geometry) return { ...none, color };
  const { box, area, fillRatio, topShare } = geometry;
  const shape = classifyShape(geometry, T);
  const side = Math.max(box.width, box.height) * unit;
  const size: ShapeSize = side > T.largeSide ? 'large' : 'small';
  const cx = (box.x + box.width / 2) * unit;
  const cy = (box.y + box.height / 2) * unit;
  const band = (v: number) => (v < T.nearEdge ? 0 : v > T.farEdge ? 2 : 1);
  const col = band(cx);
  const row = band(cy);
  let position: ShapePosition | null = null;
  if (col === 1 && row === 1) position = 'center';
  else if (col !== 1 && row !== 1) {
    position = `${row === 0 ? 'top' : 'bottom'} ${col === 0 ? 'left' : 'right'}` as ShapePosition;
  }
  return {
    background: names[bgIndex] as string,
    color,
    shape,
    size,
    position,
    measurements: {
      box,
      area,
      fillRatio,
      topShare,
      side,
      center: [cx, cy],
    },
  };
}
