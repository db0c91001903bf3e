/**
 * TiledLatentCodec's arithmetic, with fakes that pin it down: an exactly local codec (tiled must equal
 * untiled), a codec whose tiles differ (the streaming blend must equal a direct transcription of
 * diffusers' tiled_decode, which keeps every tile and blends in place), and a hand-computed case. The
 * real VAE is in tests/vae-tiling.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { NonFiniteOutputError } from '../errors.js';
import type { LatentCodec } from '../interfaces/latent-codec.js';
import { StableDiffusionPipeline } from '../pipeline/stable-diffusion-pipeline.js';
import {
  FakeCodec,
  FakeDenoiser,
  FakePromptEncoder,
  FakeScheduler,
  testImage,
} from '../pipeline/test-fakes.js';
import type { Generator } from '../random/generator.js';
import { TorchGenerator } from '../random/torch-generator.js';
import { Tensor } from '../tensor.js';
import { tileStarts } from './tile-blend.js';
import { TiledLatentCodec } from './tiled-latent-codec.js';

function randomTensor(shape: number[], seed: number, scale = 1): Tensor {
  return new TorchGenerator(seed).randn(shape).mul(scale);
}

function maxAbsDiff(a: Tensor, b: Tensor): number {
  expect(a.shape).toEqual(b.shape);
  let m = 0;
  for (let i = 0; i < a.data.length; i++) m = Math.max(m, Math.abs(a.data[i]! - b.data[i]!));
  return m;
}

/**
 * Not local: decode(z)[b, c] = nearest ×2 of 0.5·z[b, c] + mean(z[b, 3]) over the tile + 0.125·(call
 * index), so every tile decodes the shared pixels differently and the blend shows.
 */
class TileSensitiveCodec implements LatentCodec {
  readonly latentChannels = 4;
  readonly downscale = 2;
  calls = 0;
  async decode(z: Tensor): Promise<Tensor> {
    const [n, , h, w] = z.shape as [number, number, number, number];
    const offset = 0.125 * this.calls++;
    const out = new Float32Array(n * 3 * h * 2 * w * 2);
    for (let b = 0; b < n; b++) {
      let mean = 0;
      for (let p = 0; p < h * w; p++) mean += z.data[(b * 4 + 3) * h * w + p]!;
      mean /= h * w;
      for (let c = 0; c < 3; c++) {
        for (let y = 0; y < 2 * h; y++) {
          for (let x = 0; x < 2 * w; x++) {
            const v = z.data[((b * 4 + c) * h + (y >> 1)) * w + (x >> 1)]!;
            out[((b * 3 + c) * 2 * h + y) * 2 * w + x] = 0.5 * v + mean + offset;
          }
        }
      }
    }
    return new Tensor(out, [n, 3, 2 * h, 2 * w]);
  }
  async encode(image: Tensor): Promise<Tensor> {
    const [n, , H, W] = image.shape as [number, number, number, number];
    return Tensor.full([n, 4, H / 2, W / 2], 0.25 * this.calls++);
  }
}

/** A mutable [B, C, H, W] array, as torch holds a tile. */
interface Nd {
  data: Float32Array;
  shape: [number, number, number, number];
}
const at = (t: Nd, b: number, c: number, y: number, x: number) =>
  ((b * t.shape[1] + c) * t.shape[2] + y) * t.shape[3] + x;

/**
 * diffusers' AutoencoderKL.tiled_decode transcribed literally (int() arithmetic, all tiles decoded first,
 * blend_v / blend_h writing into the tiles in place, crop, cat), as the reference for the streaming code.
 */
async function diffusersTiledDecode(
  codec: LatentCodec,
  z: Tensor,
  tileSampleMinSize: number,
  tileLatentMinSize: number,
  overlapFactor: number,
): Promise<Tensor> {
  const overlapSize = Math.trunc(tileLatentMinSize * (1 - overlapFactor));
  const blendExtent = Math.trunc(tileSampleMinSize * overlapFactor);
  const rowLimit = tileSampleMinSize - blendExtent;
  const [B, C, H, W] = z.shape as [number, number, number, number];
  const rows: Nd[][] = [];
  for (let i = 0; i < H; i += overlapSize) {
    const row: Nd[] = [];
    for (let j = 0; j < W; j += overlapSize) {
      const th = Math.min(tileLatentMinSize, H - i);
      const tw = Math.min(tileLatentMinSize, W - j);
      const tile = new Float32Array(B * C * th * tw);
      for (let b = 0; b < B; b++)
        for (let c = 0; c < C; c++)
          for (let y = 0; y < th; y++)
            for (let x = 0; x < tw; x++)
              tile[((b * C + c) * th + y) * tw + x] = z.data[((b * C + c) * H + i + y) * W + j + x]!;
      const decoded = await codec.decode(new Tensor(tile, [B, C, th, tw]));
      row.push({ data: decoded.data.slice(), shape: [...decoded.shape] as Nd['shape'] });
    }
    rows.push(row);
  }
  const blendV = (a: Nd, b: Nd, extent: number) => {
    const e = Math.min(a.shape[2], b.shape[2], extent);
    for (let y = 0; y < e; y++)
      for (let n = 0; n < b.shape[0]; n++)
        for (let c = 0; c < b.shape[1]; c++)
          for (let x = 0; x < b.shape[3]; x++) {
            const av = a.data[at(a, n, c, a.shape[2] - e + y, x)]!;
            const i = at(b, n, c, y, x);
            b.data[i] = Math.fround(
              Math.fround(av * Math.fround(1 - y / e)) + Math.fround(b.data[i]! * Math.fround(y / e)),
            );
          }
  };
  const blendH = (a: Nd, b: Nd, extent: number) => {
    const e = Math.min(a.shape[3], b.shape[3], extent);
    for (let x = 0; x < e; x++)
      for (let n = 0; n < b.shape[0]; n++)
        for (let c = 0; c < b.shape[1]; c++)
          for (let y = 0; y < b.shape[2]; y++) {
            const av = a.data[at(a, n, c, y, a.shape[3] - e + x)]!;
            const i = at(b, n, c, y, x);
            b.data[i] = Math.fround(
              Math.fround(av * Math.fround(1 - x / e)) + Math.fround(b.data[i]! * Math.fround(x / e)),
            );
          }
  };
  const [, oc] = rows[0]![0]!.shape;
  const k = rows[0]![0]!.shape[2] / Math.min(tileLatentMinSize, H);
  const out = new Float32Array(B * oc * H * k * W * k);
  let y0 = 0;
  rows.forEach((row, i) => {
    let x0 = 0;
    let keptH = 0;
    row.forEach((tile, j) => {
      if (i > 0) blendV(rows[i - 1]![j]!, tile, blendExtent);
      if (j > 0) blendH(row[j - 1]!, tile, blendExtent);
      const kh = Math.min(rowLimit, tile.shape[2]);
      const kw = Math.min(rowLimit, tile.shape[3]);
      for (let n = 0; n < B; n++)
        for (let c = 0; c < oc; c++)
          for (let y = 0; y < kh; y++)
            for (let x = 0; x < kw; x++)
              out[((n * oc + c) * H * k + y0 + y) * W * k + x0 + x] = tile.data[at(tile, n, c, y, x)]!;
      x0 += kw;
      keptH = kh;
    });
    y0 += keptH;
  });
  expect(y0).toBe(H * k);
  return new Tensor(out, [B, oc, H * k, W * k]);
}

describe('tileStarts', () => {
  it('steps by the stride while below the length, as range(0, length, stride)', () => {
    expect(tileStarts(64, 48)).toEqual([0, 48]);
    expect(tileStarts(100, 48)).toEqual([0, 48, 96]);
    expect(tileStarts(96, 48)).toEqual([0, 48]);
    expect(tileStarts(1, 3)).toEqual([0]);
  });
});

describe('TiledLatentCodec: options and geometry', () => {
  it("defaults to diffusers' SD values: 512 px tiles, overlap 0.25 (64 latent px, stride 48, blend 128 px)", () => {
    const codec = new TiledLatentCodec(new FakeCodec());
    expect(codec.tiling).toEqual({
      tileSampleSize: 512,
      tileLatentSize: 64,
      tileOverlapFactor: 0.25,
      overlapLatent: 16,
      strideLatent: 48,
    });
    expect(codec.latentChannels).toBe(4);
    expect(codec.downscale).toBe(8);
  });

  it('derives one tile size from the other with the inner downscale', () => {
    expect(new TiledLatentCodec(new FakeCodec(), { tileLatentSize: 32 }).tileSampleSize).toBe(256);
    expect(new TiledLatentCodec(new FakeCodec(), { tileSampleSize: 256 }).tileLatentSize).toBe(32);
    const shapes = new TiledLatentCodec(new TileSensitiveCodec(), {
      tileSampleSize: 32,
      tileOverlapFactor: 0.5,
    });
    expect([shapes.tileLatentSize, shapes.tiling.overlapLatent, shapes.tiling.strideLatent]).toEqual([
      16, 8, 8,
    ]);
  });
});

describe('TiledLatentCodec.decode with an exactly local codec equals the untiled decode', () => {
  const cases = [
    { name: 'one row of tiles, batch 2', shape: [2, 4, 8, 20], options: { tileLatentSize: 8 } },
    { name: 'a 3×3 grid, the last tiles narrow', shape: [1, 4, 21, 19], options: { tileLatentSize: 8 } },
    { name: 'overlap 0.5', shape: [1, 4, 17, 17], options: { tileLatentSize: 8, tileOverlapFactor: 0.5 } },
    { name: 'no overlap', shape: [1, 4, 12, 9], options: { tileLatentSize: 4, tileOverlapFactor: 0 } },
    { name: 'SD defaults, latents 65×130', shape: [1, 4, 65, 130], options: {} },
  ];
  for (const { name, shape, options } of cases) {
    it(`${name}: latents [${shape.join(', ')}]`, async () => {
      const z = randomTensor(shape, 7, 2);
      const inner = new FakeCodec();
      const untiled = await inner.decode(z);
      inner.decodeCalls.length = 0;
      const tiled = await new TiledLatentCodec(inner, options).decode(z);
      expect(inner.decodeCalls.length).toBeGreaterThan(1);
      // Blending equal values, fl(fl(a·fl(1 − t)) + fl(a·fl(t))), gives a up to float32 rounding of the
      // weights, the products and the sum: allowed one float32 ulp of 1 (tanh values are in (−1, 1)).
      expect(maxAbsDiff(tiled, untiled)).toBeLessThanOrEqual(2 ** -23);
    });
  }

  it('the difference, stated: at most one float32 ulp of each value (measured max 5.96e-8 = 2⁻²⁴ on the SD-default case)', async () => {
    // e = 128: the weights fl(1 − y/e) and fl(y/e) are exact and add up to 1, but a·w₁ and a·w₂ are each
    // rounded to float32 before the sum, which leaves at most one ulp of a.
    const z = randomTensor([1, 4, 100, 100], 3, 2);
    const tiled = await new TiledLatentCodec(new FakeCodec()).decode(z);
    const untiled = await new FakeCodec().decode(z);
    let worstInUlps = 0;
    for (let i = 0; i < untiled.data.length; i++) {
      const v = untiled.data[i]!;
      const ulp = v === 0 ? 2 ** -149 : 2 ** (Math.floor(Math.log2(Math.abs(v))) - 23);
      worstInUlps = Math.max(worstInUlps, Math.abs(tiled.data[i]! - v) / ulp);
    }
    expect(worstInUlps).toBeLessThanOrEqual(1);
    expect(maxAbsDiff(tiled, untiled)).toBeLessThanOrEqual(2 ** -24);
  });

  it('latents no larger than a tile go to the inner codec untouched (one call, same tensor)', async () => {
    const z = randomTensor([1, 4, 64, 48], 1);
    const inner = new FakeCodec();
    const codec = new TiledLatentCodec(inner);
    const out = await codec.decode(z);
    expect(inner.decodeCalls).toEqual([z]);
    expect(out.shape).toEqual([1, 3, 512, 384]);
  });

  it('each tile is the whole batch: inner.decode gets [B, C, th, tw] tiles, row by row', async () => {
    const inner = new FakeCodec();
    await new TiledLatentCodec(inner, { tileLatentSize: 8 }).decode(randomTensor([3, 4, 10, 14], 2));
    // stride 6: rows at 0, 6 (heights 8, 4); columns at 0, 6, 12 (widths 8, 8, 2)
    expect(inner.decodeCalls.map((t) => t.shape)).toEqual([
      [3, 4, 8, 8],
      [3, 4, 8, 8],
      [3, 4, 8, 2],
      [3, 4, 4, 8],
      [3, 4, 4, 8],
      [3, 4, 4, 2],
    ]);
  });
});

describe("TiledLatentCodec.decode follows diffusers' tiled_decode number for number", () => {
  const cases = [
    { shape: [1, 4, 20, 20], tileLatent: 8, factor: 0.25 },
    { shape: [2, 4, 13, 30], tileLatent: 8, factor: 0.25 },
    { shape: [1, 4, 17, 9], tileLatent: 8, factor: 0.5 },
    { shape: [1, 4, 33, 33], tileLatent: 16, factor: 0.125 },
    { shape: [1, 4, 10, 7], tileLatent: 6, factor: 0.5 },
  ];
  for (const { shape, tileLatent, factor } of cases) {
    it(`latents [${shape.join(', ')}], tiles of ${tileLatent}, overlap ${factor}: identical to the in-place transcription`, async () => {
      const z = randomTensor(shape, 11);
      const expected = await diffusersTiledDecode(
        new TileSensitiveCodec(),
        z,
        tileLatent * 2,
        tileLatent,
        factor,
      );
      const codec = new TiledLatentCodec(new TileSensitiveCodec(), {
        tileLatentSize: tileLatent,
        tileOverlapFactor: factor,
      });
      const actual = await codec.decode(z);
      expect(actual.shape).toEqual(expected.shape);
      expect(maxAbsDiff(actual, expected)).toBe(0);
      // and the tiles really differ (the blend is exercised): far from an untiled decode
      expect(maxAbsDiff(actual, await new TileSensitiveCodec().decode(z))).toBeGreaterThan(0.1);
    });
  }

  it('hand-computed: three tiles of constants 0, 1, 2 along a row blend to 0 0 | 0 ½ | 1 1½', async () => {
    const constant: LatentCodec = {
      latentChannels: 1,
      downscale: 1,
      calls: 0,
      async decode(z: Tensor) {
        const [n, , h, w] = z.shape as number[] as [number, number, number, number];
        return Tensor.full([n, 3, h, w], (this as { calls: number }).calls++);
      },
      async encode() {
        throw new Error('unused');
      },
    } as LatentCodec & { calls: number };
    const codec = new TiledLatentCodec(constant, { tileLatentSize: 4, tileOverlapFactor: 0.5 });
    // width 6, stride 2: tiles at columns 0 (width 4), 2 (4), 4 (2); blend over 2 columns, keep 2
    const out = await codec.decode(Tensor.zeros([1, 1, 1, 6]));
    expect(Array.from(out.data.subarray(0, 6))).toEqual([0, 0, 0, 0.5, 1, 1.5]);
  });
});

describe('TiledLatentCodec.encode', () => {
  it('with an exactly local encoder and no generator: equals the untiled encode (block means)', async () => {
    const image = testImage(160, 2).mul(2).sub(1);
    const inner = new FakeCodec();
    const codec = new TiledLatentCodec(inner, { tileSampleSize: 64 });
    const tiled = await codec.encode(image);
    // 160 px: tiles at 0, 48, 96 (64 px) and 144 (16 px) along each side, each the whole batch of 2
    const sides = [64, 64, 64, 16];
    expect(inner.encodeCalls.map((c) => c.image.shape)).toEqual(
      sides.flatMap((h) => sides.map((w) => [2, 3, h, w])),
    );
    const untiled = FakeCodec.blockMeans(image);
    expect(tiled.shape).toEqual([2, 4, 20, 20]);
    // bounded by one float32 ulp of 1: |block means| ≤ 1
    expect(maxAbsDiff(tiled, untiled)).toBeLessThanOrEqual(2 ** -23);
  });

  it('tiles the image in pixels: tiles of tileSampleSize, 0.75 of it apart (64 px tiles, stride 48 px)', async () => {
    const inner = new FakeCodec();
    await new TiledLatentCodec(inner, { tileSampleSize: 64 }).encode(testImage(112).mul(2).sub(1));
    // 112 px: tiles at 0 (64), 48 (64), 96 (16) along each side
    const shapes = inner.encodeCalls.map((c) => c.image.shape.slice(2).join('×'));
    expect(shapes).toEqual(['64×64', '64×64', '64×16', '64×64', '64×64', '64×16', '16×64', '16×64', '16×16']);
  });

  it('passes the generator to every tile, row by row: it advances by the tiles’ latent sizes added up', async () => {
    const inner = new FakeCodec(true);
    const generator = new TorchGenerator(42);
    const image = testImage(112).mul(2).sub(1);
    await new TiledLatentCodec(inner, { tileSampleSize: 64 }).encode(image, { generator });
    expect(inner.encodeCalls.every((c) => c.generator === generator)).toBe(true);
    // the same draws, made by hand: 4×[8×8] … per tile as above, then the next draw must agree
    const byHand = new TorchGenerator(42);
    for (const { image: tile } of inner.encodeCalls)
      byHand.randn([1, 4, tile.shape[2]! / 8, tile.shape[3]! / 8]);
    expect(Array.from(generator.randn([4]).data)).toEqual(Array.from(byHand.randn([4]).data));
    const untiled = new TorchGenerator(42);
    untiled.randn([1, 4, 14, 14]);
    expect(Array.from(generator.randn([4]).data)).not.toEqual(Array.from(untiled.randn([4]).data));
  });

  it('images no larger than a tile go to the inner encode untouched, with the options', async () => {
    const inner = new FakeCodec(true);
    const generator: Generator = new TorchGenerator(1);
    const image = testImage(64);
    await new TiledLatentCodec(inner, { tileSampleSize: 64 }).encode(image, { generator });
    expect(inner.encodeCalls).toEqual([{ image, generator }]);
  });

  it('canEncode follows the inner codec', () => {
    expect(new TiledLatentCodec(new FakeCodec()).canEncode).toBe(true);
    const decodeOnly = {
      latentChannels: 4,
      downscale: 4,
      decode: async (z: Tensor) => z,
    } as unknown as LatentCodec;
    expect(new TiledLatentCodec(decodeOnly).canEncode).toBe(false);
    const said = Object.assign(new FakeCodec(), { canEncode: false });
    expect(new TiledLatentCodec(said).canEncode).toBe(false);
  });
});

describe('TiledLatentCodec in the pipeline: non-finite checks still hold (issue 14)', () => {
  class PoisonOneTile extends FakeCodec {
    constructor(
      readonly poisonCall: number,
      readonly value: number,
    ) {
      super();
    }
    override async decode(latents: Tensor): Promise<Tensor> {
      const out = await super.decode(latents);
      if (this.decodeCalls.length - 1 === this.poisonCall) out.data[0] = this.value;
      return out;
    }
  }
  // Pixel 0 of every tile is in the tile's top-left corner: kept for the first tile, blended with weight 0
  // (NaN·0 = NaN) for the others, so it always reaches the output.
  for (const [call, value] of [
    [0, Number.NaN],
    [1, Number.NaN],
    [3, Number.POSITIVE_INFINITY],
  ] as const) {
    it(`${value} in tile ${call} of 4 → NonFiniteOutputError from generate(), no image`, async () => {
      const codec = new TiledLatentCodec(new PoisonOneTile(call, value), { tileLatentSize: 4 });
      const pipe = new StableDiffusionPipeline({
        promptEncoder: new FakePromptEncoder(),
        denoiser: new FakeDenoiser(),
        codec,
        scheduler: new FakeScheduler(),
      });
      const error = await pipe
        .generate({ prompt: 'a red circle', seed: 1, numInferenceSteps: 2, width: 48, height: 48 })
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(error).toBeInstanceOf(NonFiniteOutputError);
      expect((error as Error).message).toContain("the VAE decoder's output");
    });
  }

  it('without poison the same pipeline makes the same image tiled and untiled', async () => {
    const run = (codec: LatentCodec) =>
      new StableDiffusionPipeline({
        promptEncoder: new FakePromptEncoder(),
        denoiser: new FakeDenoiser(),
        codec,
        scheduler: new FakeScheduler(),
      }).generate({
        prompt: 'a red circle',
        seed: 1,
        numInferenceSteps: 2,
        width: 48,
        height: 48,
        outputType: 'tensor',
      });
    const tiled = (await run(new TiledLatentCodec(new FakeCodec(), { tileLatentSize: 4 }))).images as Tensor;
    const untiled = (await run(new FakeCodec())).images as Tensor;
    expect(maxAbsDiff(tiled, untiled)).toBeLessThanOrEqual(2 ** -23);
  });
});
