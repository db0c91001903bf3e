/**
 * The tiling arithmetic of diffusers' `AutoencoderKL.tiled_decode` / `tiled_encode`, written once for
 * both directions. Both work on a grid of "units" (a latent pixel): the input has `inScale` pixels per
 * unit (1 for latents, `downscale` for images), the output `outScale` (the other way round).
 *
 * diffusers decodes every tile, then walks them row by row, blending each tile in place with the tile
 * above (`blend_v`) and then the tile on its left (`blend_h`) — both already blended themselves — and keeps
 * its top-left `row_limit` pixels. Here each tile is blended as soon as it is decoded, and only what later
 * tiles read of it is kept: the bottom rows of the previous row of tiles and the right columns of the
 * previous tile. The numbers are the same; the memory is the output plus one tile and those strips.
 */
import { ShapeMismatchError } from '../errors.js';
import { Tensor } from '../tensor.js';

/** How a tiled run cuts its input and assembles its output, in units (latent pixels). */
export interface TileGrid {
  /** Tile side. */
  readonly tile: number;
  /** Distance between the starts of neighbouring tiles: `tile − overlap`. */
  readonly stride: number;
  /** Units two neighbouring tiles share. */
  readonly overlap: number;
  /** Input pixels per unit. */
  readonly inScale: number;
  /** Output pixels per unit. */
  readonly outScale: number;
}

/** The start of each tile along an axis of `length` units: 0, stride, 2·stride, … while below `length`. */
export function tileStarts(length: number, stride: number): number[] {
  const starts: number[] = [];
  for (let s = 0; s < length; s += stride) starts.push(s);
  return starts;
}

/** Rows × columns of a tile's last rows or columns, for each of the `planes` = batch × channels. */
interface Strip {
  readonly data: Float32Array;
  readonly rows: number;
  readonly cols: number;
}

/** `[planes, h, w]` rows `[h − rows, h)` (all of them when fewer), copied. */
function bottomStrip(d: Float32Array, planes: number, h: number, w: number, rows: number): Strip {
  const r = Math.min(h, rows);
  const out = new Float32Array(planes * r * w);
  for (let p = 0; p < planes; p++) {
    out.set(d.subarray((p * h + h - r) * w, (p + 1) * h * w), p * r * w);
  }
  return { data: out, rows: r, cols: w };
}

/** `[planes, h, w]` columns `[w − cols, w)` (all of them when fewer), copied. */
function rightStrip(d: Float32Array, planes: number, h: number, w: number, cols: number): Strip {
  const c = Math.min(w, cols);
  const out = new Float32Array(planes * h * c);
  for (let p = 0; p < planes; p++) {
    for (let y = 0; y < h; y++) {
      const from = (p * h + y) * w + w - c;
      out.set(d.subarray(from, from + c), (p * h + y) * c);
    }
  }
  return { data: out, rows: h, cols: c };
}

/**
 * diffusers' `blend_v(a, b, extent)` in place on `b` `[planes, h, w]`: over `e = min(a's rows, h, extent)`
 * rows, `b[y] = a[−e + y]·(1 − y/e) + b[y]·(y/e)`, each weight rounded to float32 first and each product
 * and the sum rounded to float32, as torch computes it. `a` holds the above tile's last rows.
 */
function blendRows(a: Strip, b: Float32Array, planes: number, h: number, w: number): void {
  const e = Math.min(a.rows, h);
  for (let y = 0; y < e; y++) {
    const wa = Math.fround(1 - y / e);
    const wb = Math.fround(y / e);
    for (let p = 0; p < planes; p++) {
      const ai = (p * a.rows + a.rows - e + y) * w;
      const bi = (p * h + y) * w;
      for (let x = 0; x < w; x++) {
        b[bi + x] = Math.fround(Math.fround(a.data[ai + x]! * wa) + Math.fround(b[bi + x]! * wb));
      }
    }
  }
}

/** diffusers' `blend_h(a, b, extent)` in place on `b`, along columns; `a` holds the left tile's last columns. */
function blendCols(a: Strip, b: Float32Array, planes: number, h: number, w: number): void {
  const e = Math.min(a.cols, w);
  for (let x = 0; x < e; x++) {
    const wa = Math.fround(1 - x / e);
    const wb = Math.fround(x / e);
    for (let p = 0; p < planes; p++) {
      for (let y = 0; y < h; y++) {
        const ai = (p * h + y) * a.cols + a.cols - e + x;
        const bi = (p * h + y) * w + x;
        b[bi] = Math.fround(Math.fround(a.data[ai]! * wa) + Math.fround(b[bi]! * wb));
      }
    }
  }
}

/** Input `[B, C, H, W]` rows `[y0, y0 + h)`, columns `[x0, x0 + w)`, copied. */
function cropInput(input: Tensor, y0: number, x0: number, h: number, w: number): Tensor {
  const [b, c, H, W] = input.shape as [number, number, number, number];
  const out = new Float32Array(b * c * h * w);
  for (let p = 0; p < b * c; p++) {
    for (let y = 0; y < h; y++) {
      const from = (p * H + y0 + y) * W + x0;
      out.set(input.data.subarray(from, from + w), (p * h + y) * w);
    }
  }
  return new Tensor(out, [b, c, h, w]);
}

/** What {@link runTiled} runs on each tile, and how its output is described in errors. */
export interface TiledRun {
  /** Runs the inner codec on one input tile; its output may be changed in place. */
  run(tile: Tensor): Promise<Tensor>;
  /** Channels the output must have. */
  outChannels: number;
  /** What produced a tile's output, for error messages, e.g. `the inner codec's decode`. */
  what: string;
  /** How to fix an output of the wrong shape. */
  fix: string;
}

/**
 * Runs `job.run` on the overlapping tiles of `input` `[B, C, H, W]` (H and W multiples of `grid.inScale`),
 * row by row, each on the whole batch, and assembles `[B, outChannels, H/inScale·outScale, W/inScale·outScale]`
 * as diffusers' tiled decode/encode does: each tile blended linearly with the tile above and then the tile on
 * its left over `overlap · outScale` pixels, and its first `stride · outScale` rows and columns kept.
 *
 * @throws {@link ShapeMismatchError} when a tile's output is not `[B, outChannels, h·outScale, w·outScale]`.
 */
export async function runTiled(input: Tensor, grid: TileGrid, job: TiledRun): Promise<Tensor> {
  const [batch, , height, width] = input.shape as [number, number, number, number];
  const { tile, stride, overlap, inScale, outScale } = grid;
  const unitsH = height / inScale;
  const unitsW = width / inScale;
  const outH = unitsH * outScale;
  const outW = unitsW * outScale;
  const planes = batch * job.outChannels;
  const blend = overlap * outScale;
  const keep = stride * outScale;
  const rowStarts = tileStarts(unitsH, stride);
  const colStarts = tileStarts(unitsW, stride);
  let out: Float32Array | undefined;
  let above: Strip[] = [];
  for (let i = 0; i < rowStarts.length; i++) {
    const r0 = rowStarts[i]!;
    const th = Math.min(tile, unitsH - r0);
    const h = th * outScale;
    const below: Strip[] = [];
    let left: Strip | undefined;
    for (let j = 0; j < colStarts.length; j++) {
      const c0 = colStarts[j]!;
      const tw = Math.min(tile, unitsW - c0);
      const w = tw * outScale;
      const result = await job.run(cropInput(input, r0 * inScale, c0 * inScale, th * inScale, tw * inScale));
      const expected = [batch, job.outChannels, h, w];
      const ok = result instanceof Tensor && result.shape.every((d, k) => d === expected[k]);
      if (!ok || result.shape.length !== 4) {
        throw new ShapeMismatchError({
          name: `${job.what} output for the tile at row ${i}, column ${j}`,
          value: result instanceof Tensor ? result.shape : result,
          expected: `a Tensor [${expected.join(', ')}]`,
          fix: job.fix,
        });
      }
      const d = result.data;
      if (i > 0) blendRows(above[j]!, d, planes, h, w);
      if (j > 0) blendCols(left!, d, planes, h, w);
      // Allocated once the first tile came back right, so a failing inner codec allocates nothing here.
      out ??= new Float32Array(planes * outH * outW);
      const keepH = Math.min(h, keep);
      const keepW = Math.min(w, keep);
      for (let p = 0; p < planes; p++) {
        for (let y = 0; y < keepH; y++) {
          const from = (p * h + y) * w;
          out.set(d.subarray(from, from + keepW), (p * outH + r0 * outScale + y) * outW + c0 * outScale);
        }
      }
      if (i + 1 < rowStarts.length) below.push(bottomStrip(d, planes, h, w, blend));
      if (j + 1 < colStarts.length) left = rightStrip(d, planes, h, w, blend);
    }
    above = below;
  }
  return new Tensor(out ?? new Float32Array(0), [batch, job.outChannels, outH, outW]);
}
