import { InvalidArgumentError, type RgbaImage, ShapeMismatchError } from '@latentkit/core';
import type { ShapeName, ShapePosition, ShapeSize, ShapesWorld } from './shapes-world.js';

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

type Rgb = readonly [number, number, number];

function distance2(r: number, g: number, b: number, c: Rgb): number {
  return (r - c[0]) ** 2 + (g - c[1]) ** 2 + (b - c[2]) ** 2;
}

function nearest(r: number, g: number, b: number, palette: readonly Rgb[]): number {
  let best = 0;
  let bestD = Number.POSITIVE_INFINITY;
  palette.forEach((c, i) => {
    const d = distance2(r, g, b, c);
    if (d < bestD) {
      bestD = d;
      best = i;
    }
  });
  return best;
}

/** The largest 8-connected component of `mask` (a list of pixel indices), found by flood fill. */
function largestComponent(mask: Uint8Array, width: number, height: number): number[] {
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

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

function checkImage(image: RgbaImage): void {
  const { width, height, data } = image;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 8 || height < 8) {
    throw new InvalidArgumentError({
      name: 'image.width×height',
      value: [width, height],
      expected: 'integers ≥ 8',
    });
  }
  if (data.length !== width * height * 4) {
    throw new ShapeMismatchError({
      name: 'image.data.length',
      value: data.length,
      expected: `width·height·4 = ${width * height * 4} bytes (RGBA)`,
    });
  }
}

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
  const names = Object.keys(colors);
  const palette = names.map((n) => colors[n] as Rgb);
  if (palette.length < 2) {
    throw new InvalidArgumentError({
      name: 'colors',
      value: names,
      expected: 'at least two colours',
    });
  }
  const T = JUDGE_THRESHOLDS;
  const { width, height, data } = image;
  const n = width * height;
  const unit = 64 / Math.max(width, height); // 1/64ths of the side per pixel
  const labels = new Uint8Array(n);
  for (let p = 0; p < n; p++) {
    labels[p] = nearest(data[p * 4] as number, data[p * 4 + 1] as number, data[p * 4 + 2] as number, palette);
  }

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
  const bgPixels = border.filter((p) => labels[p] === bgIndex);
  const bg: Rgb = [0, 1, 2].map(
    (c) => bgPixels.reduce((s, p) => s + (data[p * 4 + c] as number), 0) / bgPixels.length,
  ) as unknown as Rgb;

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
  const dist = new Float64Array(n);
  const candidates = new Uint8Array(n);
  const minD2 = T.minColorDistance ** 2;
  for (let p = 0; p < n; p++) {
    const d2 = distance2(data[p * 4] as number, data[p * 4 + 1] as number, data[p * 4 + 2] as number, bg);
    dist[p] = Math.sqrt(d2);
    candidates[p] = labels[p] !== bgIndex && d2 > minD2 ? 1 : 0;
  }
  const minArea = Math.max(3, T.minAreaShare * n);
  const rough = largestComponent(candidates, width, height);
  if (rough.length < minArea) return none;
  const maxDist = Math.max(...rough.map((p) => dist[p] as number));
  const core = rough.filter((p) => (dist[p] as number) >= 0.6 * maxDist);
  const fg = [0, 1, 2].map((c) => median(core.map((p) => data[p * 4 + c] as number))) as unknown as Rgb;
  const color = names[nearest(fg[0], fg[1], fg[2], palette)] as string;

  // 3. The shape: a 50 % cut between background and shape colour (projection onto bg → fg).
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
  if (shapePixels.length < minArea) return { ...none, color };

  // 4. Geometry.
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
  const w = x1 - x0 + 1;
  const h = y1 - y0 + 1;
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
  const box: PixelBox = { x: x0, y: y0, width: w, height: h };
  // Rows above the box's middle count fully, the middle row (odd heights) half.
  const mid = (y0 + y1) / 2;
  let top = 0;
  for (const p of shapePixels) {
    const y = Math.floor(p / width);
    top += y < mid ? 1 : y === mid ? 0.5 : 0;
  }
  const topShare = top / area;
  const aspect = Math.max(w, h) / Math.min(w, h);
  let shape: ShapeName | null = null;
  // A triangle is recognised by where its mass sits as well as by fill, so a blurred triangle is
  // not taken for a circle; anything else (an upside-down triangle, a thin blob) is no shape.
  if (aspect <= T.maxAspect) {
    if (fillRatio >= T.squareFill) shape = 'square';
    else if (topShare < T.triangleTopShare && fillRatio < T.triangleFill) shape = 'triangle';
    else if (fillRatio >= T.circleFill && topShare >= T.triangleTopShare) shape = 'circle';
  }
  const side = Math.max(w, h) * unit;
  const size: ShapeSize = side > T.largeSide ? 'large' : 'small';
  const cx = (x0 + w / 2) * unit;
  const cy = (y0 + h / 2) * unit;
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
