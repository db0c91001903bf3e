import { checkKnownKeys, InvalidArgumentError, type RgbaImage } from '@latentkit/core';
import { type EvalBox, type EvalLayout, layoutTruth } from './eval-layouts.js';
import { JUDGE_THRESHOLDS } from './judge-image.js';
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
import type { ShapeName, ShapesWorld } from './shapes-world.js';

/**
 * Thresholds of {@link judgeLayout}, on top of {@link JUDGE_THRESHOLDS} (whose colour distance and
 * shape-class rules it shares). Lengths in 1/64ths of the image side, so they hold at any resolution.
 * Checked on ground-truth renders (`test-fixtures/layout-judge-cases.json`): all 66 truth layouts'
 * 132 objects right and none dirty; every wrong colour, wrong shape, missing object and stray shape caught.
 */
export const LAYOUT_JUDGE_THRESHOLDS = {
  /**
   * Boxes grow by this much before "outside all boxes" is measured: a box edge between pixels leaves
   * anti-aliased pixels just outside it, and a generated shape's edge is soft (2/64 = 1 px at 32×32).
   */
  outsideMargin: 2,
  /**
   * An image is clean when at most this share of the pixels outside all (grown) boxes is unlike the
   * background (nearest colour not the background's and ≥ `minColorDistance` away from it). Clean
   * renders: 0; a 6-px stray shape beside three boxes at 32×32: ≥ 0.06.
   */
  maxOutsideShare: 0.02,
  /**
   * An object must cover at least this share of its crop (a triangle covers 0.5 of its box, a circle
   * 0.785); less is a speck, not the object.
   */
  minObjectShare: 0.15,
} as const;

/** One object as {@link judgeLayout} saw it in its box. */
export interface JudgedLayoutObject {
  /** What the layout asks for there. */
  readonly expected: { readonly color: string; readonly shape: ShapeName };
  /** The colour name of the box's shape, or null when the box holds no shape. */
  readonly color: string | null;
  /** The shape class, or null (no shape, or a blob that is no known shape). */
  readonly shape: ShapeName | null;
  /** `color === expected.color`. */
  readonly colorRight: boolean;
  /** `shape === expected.shape`. */
  readonly shapeRight: boolean;
  /** Colour and shape both right. */
  readonly right: boolean;
  /** Measurements behind the verdicts. */
  readonly measurements: {
    /** The crop: the box's pixels, rounded outward. */
    readonly crop: PixelBox;
    /** Pixels of the shape (its 50 % coverage cut) inside the crop; 0 without a shape. */
    readonly area: number;
    /** The shape's fill ratio of its own bounding box (square ≈ 1, circle ≈ 0.785, triangle ≈ 0.5). */
    readonly fillRatio: number;
    /** Share of the shape's area in the upper half of its bounding box (triangle ≈ 0.25). */
    readonly topShare: number;
  };
}

/** What {@link judgeLayout} saw in an image. */
export interface JudgedLayout {
  /** The background colour the image was judged against. */
  readonly background: string;
  /** Per object, in the layout's order. */
  readonly objects: readonly JudgedLayoutObject[];
  /** Pixels outside all boxes (grown by `outsideMargin`). */
  readonly outsidePixels: number;
  /** Share of those that are unlike the background (0 when there are none). */
  readonly outsideShare: number;
  /** `outsideShare ≤ maxOutsideShare`: nothing but background outside all boxes. */
  readonly clean: boolean;
  /** Every object right and the image clean. */
  readonly allRight: boolean;
}

/** Options of {@link judgeLayout}. */
export interface JudgeLayoutOptions {
  /** The world's colour table ({@link ShapesWorld.colors}). */
  readonly colors: ShapesWorld['colors'];
  /** The background's colour name, when the layout does not say it (its `background` or its prompt). */
  readonly background?: string;
}

const OPTION_KEYS = ['colors', 'background'] as const;

/** The box's pixels, rounded outward (a box edge within 1e-6 px of a pixel edge counts as on it). */
export function cropOf(box: EvalBox, width: number, height: number): PixelBox {
  const eps = 1e-6;
  const x0 = Math.max(0, Math.floor(box[0] * width + eps));
  const y0 = Math.max(0, Math.floor(box[1] * height + eps));
  const x1 = Math.min(width, Math.ceil(box[2] * width - eps));
  const y1 = Math.min(height, Math.ceil(box[3] * height - eps));
  return { x: x0, y: y0, width: Math.max(1, x1 - x0), height: Math.max(1, y1 - y0) };
}

function crop(image: RgbaImage, box: PixelBox): RgbaImage {
  const data = new Uint8ClampedArray(box.width * box.height * 4);
  for (let y = 0; y < box.height; y++) {
    const from = ((box.y + y) * image.width + box.x) * 4;
    data.set(image.data.subarray(from, from + box.width * 4), y * box.width * 4);
  }
  return { width: box.width, height: box.height, data };
}

/** Marks every pixel whose centre lies outside all boxes grown by `margin` pixels. */
function outsideMask(boxes: readonly EvalBox[], width: number, height: number, margin: number): Uint8Array {
  const mask = new Uint8Array(width * height).fill(1);
  for (const [x0, y0, x1, y1] of boxes) {
    for (let y = 0; y < height; y++) {
      const cy = y + 0.5;
      if (cy <= y0 * height - margin || cy >= y1 * height + margin) continue;
      for (let x = 0; x < width; x++) {
        const cx = x + 0.5;
        if (cx > x0 * width - margin && cx < x1 * width + margin) mask[y * width + x] = 0;
      }
    }
  }
  return mask;
}

/**
 * Judges a layout-to-image result by simple image analysis, with the rules of {@link judgeShapeImage}:
 *
 * 1. the background is known (a tight crop has no background border to vote): `options.background`,
 *    else the layout's `background`, else the colour word before "background" in its prompt; its
 *    measured colour is the mean of the pixels outside all boxes whose nearest colour it is;
 * 2. each object: the image cropped to its box (pixels rounded outward); the largest connected
 *    component of pixels unlike the background (nearest colour not the background's, ≥
 *    `minColorDistance` from it), if it covers ≥ `minObjectShare` of the crop, gives the colour (nearest
 *    palette colour of its strongest pixels' median) and, by a 50 % coverage cut, the shape (fill ratio
 *    and top share, as the image judge); `right` = colour and shape both as the layout says;
 * 3. nothing but background outside all boxes: the share of pixels outside every box (grown by
 *    `outsideMargin`) that are unlike the background, at most `maxOutsideShare`.
 *
 * Object colours and shapes come from each object's `color` / `shape`, else from its phrase
 * (`"a red circle"`). Thresholds: {@link LAYOUT_JUDGE_THRESHOLDS}, {@link JUDGE_THRESHOLDS}. Throws
 * `InvalidArgumentError` / `ShapeMismatchError` for a malformed image, colour table or layout.
 */
export function judgeLayout(image: RgbaImage, layout: EvalLayout, options: JudgeLayoutOptions): JudgedLayout {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidArgumentError({
      name: 'judgeLayout() options',
      value: options,
      expected: 'an object { colors, background? }',
      fix: "pass { colors: world.colors } (the world's colour table)",
    });
  }
  checkKnownKeys('judgeLayout() options', options, OPTION_KEYS);
  checkImage(image);
  const { names, rgb: palette } = paletteOf(options.colors);
  const truth = layoutTruth(layout, names, options.background);
  const T = LAYOUT_JUDGE_THRESHOLDS;
  const { width, height } = image;
  const unit = 64 / Math.max(width, height); // 1/64ths of the side per pixel
  const bgIndex = names.indexOf(truth.background);
  const labels = labelPixels(image, palette);

  // 1. The background's measured colour, from outside the boxes.
  const outside = outsideMask(
    truth.objects.map((o) => o.box),
    width,
    height,
    T.outsideMargin / unit,
  );
  const outsidePixels: number[] = [];
  for (let p = 0; p < outside.length; p++) if (outside[p]) outsidePixels.push(p);
  const bg = meanColor(
    image,
    outsidePixels.filter((p) => labels[p] === bgIndex),
    palette[bgIndex] as Rgb,
  );
  const dist = distancesFrom(image, bg);
  const unlike = (p: number) =>
    labels[p] !== bgIndex && (dist[p] as number) > JUDGE_THRESHOLDS.minColorDistance;

  // 2. Each object in its crop.
  const objects = truth.objects.map((want): JudgedLayoutObject => {
    const box = cropOf(want.box, width, height);
    const part = crop(image, box);
    const n = box.width * box.height;
    const partLabels = labelPixels(part, palette);
    const partDist = distancesFrom(part, bg);
    const candidates = new Uint8Array(n);
    for (let p = 0; p < n; p++) {
      candidates[p] =
        partLabels[p] !== bgIndex && (partDist[p] as number) > JUDGE_THRESHOLDS.minColorDistance ? 1 : 0;
    }
    const minArea = Math.max(3, T.minObjectShare * n);
    const rough = largestComponent(candidates, box.width, box.height);
    let color: string | null = null;
    let shape: ShapeName | null = null;
    let measured = { area: 0, fillRatio: 0, topShare: 0 };
    if (rough.length >= minArea) {
      const { fg, index } = shapeColor(part, rough, partDist, palette);
      color = names[index] as string;
      const geometry = measureShape(part, bg, fg, minArea);
      if (geometry) {
        shape = classifyShape(geometry, JUDGE_THRESHOLDS);
        measured = { area: geometry.area, fillRatio: geometry.fillRatio, topShare: geometry.topShare };
      }
    }
    const colorRight = color === want.color;
    const shapeRight = shape === want.shape;
    return {
      expected: { color: want.color, shape: want.shape },
      color,
      shape,
      colorRight,
      shapeRight,
      right: colorRight && shapeRight,
      measurements: { crop: box, ...measured },
    };
  });

  // 3. Nothing but background outside all boxes.
  const dirty = outsidePixels.filter(unlike).length;
  const outsideShare = outsidePixels.length === 0 ? 0 : dirty / outsidePixels.length;
  const clean = outsideShare <= T.maxOutsideShare;
  return {
    background: truth.background,
    objects,
    outsidePixels: outsidePixels.length,
    outsideShare,
    clean,
    allRight: clean && objects.every((o) => o.right),
  };
}
