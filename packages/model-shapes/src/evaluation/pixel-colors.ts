/**
 * Colour classification shared by the judges ({@link judgeShapeImage}, {@link judgeLayout}): each pixel's
 * nearest palette colour, and the colour of a shape from its strongest pixels.
 */
import { InvalidArgumentError, type RgbaImage, ShapeMismatchError } from '@latentkit/core';
import type { ShapesWorld } from './shapes-world.js';

/** An RGB triple, 0–255 per channel. */
export type Rgb = readonly [number, number, number];

/** Squared RGB distance between a pixel and a colour. */
export function distance2(r: number, g: number, b: number, c: Rgb): number {
  return (r - c[0]) ** 2 + (g - c[1]) ** 2 + (b - c[2]) ** 2;
}

/** Index of the palette colour nearest (RGB distance) to a pixel; the first one on a tie. */
export function nearestColor(r: number, g: number, b: number, palette: readonly Rgb[]): number {
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

/** A world's colour table as parallel lists: the names and their RGB, in the table's order. */
export interface Palette {
  /** Colour names, e.g. `red`. */
  readonly names: readonly string[];
  /** `rgb[i]` is the canonical colour of `names[i]`. */
  readonly rgb: readonly Rgb[];
}

/**
 * Checks a colour table (at least two colours, each `[r, g, b]` of finite numbers in 0–255) and returns it
 * as a {@link Palette}. Throws `InvalidArgumentError` naming the first bad entry.
 */
export function paletteOf(colors: ShapesWorld['colors']): Palette {
  if (typeof colors !== 'object' || colors === null || Array.isArray(colors)) {
    throw new InvalidArgumentError({
      name: 'colors',
      value: colors,
      expected: 'an object of colour name → [r, g, b]',
      fix: "pass the world's colour table (ShapesWorld.colors)",
    });
  }
  const names = Object.keys(colors);
  if (names.length < 2) {
    throw new InvalidArgumentError({
      name: 'colors',
      value: names,
      expected: 'at least two colours',
      fix: "pass the world's colour table (ShapesWorld.colors)",
    });
  }
  const rgb = names.map((name) => {
    const c = colors[name] as unknown;
    const ok =
      Array.isArray(c) &&
      c.length === 3 &&
      c.every((v) => typeof v === 'number' && Number.isFinite(v) && v >= 0 && v <= 255);
    if (!ok) {
      throw new InvalidArgumentError({
        name: `colors.${name}`,
        value: c,
        expected: '[r, g, b] with values in 0–255',
      });
    }
    return c as unknown as Rgb;
  });
  return { names, rgb };
}

/**
 * Checks that `image` is an RGBA image of at least `minSide`×`minSide` pixels whose data length
 * matches. Throws `InvalidArgumentError` or `ShapeMismatchError`.
 */
export function checkImage(image: RgbaImage, minSide = 8): void {
  if (typeof image !== 'object' || image === null) {
    throw new InvalidArgumentError({
      name: 'image',
      value: image,
      expected: 'an RgbaImage { width, height, data }',
    });
  }
  const { width, height, data } = image;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < minSide || height < minSide) {
    throw new InvalidArgumentError({
      name: 'image.width×height',
      value: [width, height],
      expected: `integers ≥ ${minSide}`,
    });
  }
  if (!data || data.length !== width * height * 4) {
    throw new ShapeMismatchError({
      name: 'image.data.length',
      value: data?.length,
      expected: `width·height·4 = ${width * height * 4} bytes (RGBA)`,
    });
  }
}

/** Every pixel's nearest palette colour index (row-major). */
export function labelPixels(image: RgbaImage, palette: readonly Rgb[]): Uint8Array {
  const { data } = image;
  const n = image.width * image.height;
  const labels = new Uint8Array(n);
  for (let p = 0; p < n; p++) {
    labels[p] = nearestColor(
      data[p * 4] as number,
      data[p * 4 + 1] as number,
      data[p * 4 + 2] as number,
      palette,
    );
  }
  return labels;
}

/** Mean colour of the given pixels (indices into `image`), or `fallback` when there are none. */
export function meanColor(image: RgbaImage, pixels: readonly number[], fallback: Rgb): Rgb {
  if (pixels.length === 0) return fallback;
  const { data } = image;
  return [0, 1, 2].map(
    (c) => pixels.reduce((s, p) => s + (data[p * 4 + c] as number), 0) / pixels.length,
  ) as unknown as Rgb;
}

/** Each pixel's RGB distance from `bg`. */
export function distancesFrom(image: RgbaImage, bg: Rgb): Float64Array {
  const { data } = image;
  const n = image.width * image.height;
  const dist = new Float64Array(n);
  for (let p = 0; p < n; p++) {
    dist[p] = Math.sqrt(
      distance2(data[p * 4] as number, data[p * 4 + 1] as number, data[p * 4 + 2] as number, bg),
    );
  }
  return dist;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/**
 * The colour of a shape from its pixels (a connected component of pixels unlike the background): its
 * strongest pixels — at least `coreShare` of the largest distance from the background — give the
 * shape's measured colour (per-channel median) and, nearest to it, its palette colour. Anti-aliased
 * edge pixels, blends of shape and background, do not vote.
 */
export function shapeColor(
  image: RgbaImage,
  component: readonly number[],
  dist: Float64Array,
  palette: readonly Rgb[],
  coreShare = 0.6,
): { fg: Rgb; index: number } {
  const { data } = image;
  let maxDist = 0;
  for (const p of component) maxDist = Math.max(maxDist, dist[p] as number);
  const core = component.filter((p) => (dist[p] as number) >= coreShare * maxDist);
  const fg = [0, 1, 2].map((c) => median(core.map((p) => data[p * 4 + c] as number))) as unknown as Rgb;
  return { fg, index: nearestColor(fg[0], fg[1], fg[2], palette) };
}
