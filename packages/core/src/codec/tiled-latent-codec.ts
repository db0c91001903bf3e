import {
  InvalidArgumentError,
  LimitExceededError,
  NotImplementedError,
  ShapeMismatchError,
} from '../errors.js';
import type { LatentCodec } from '../interfaces/latent-codec.js';
import type { Generator } from '../random/generator.js';
import { shapeSize, Tensor } from '../tensor.js';
import { runTiled, type TileGrid } from './tile-blend.js';
import { resolveVaeTilingOptions, type VaeTiling, type VaeTilingOptions } from './vae-tiling-options.js';

export type { VaeTiling, VaeTilingOptions } from './vae-tiling-options.js';

/**
 * The most elements a tiled output may have: the longest `Float32Array` V8 makes (2³² − 1). A larger
 * request is refused before any tile runs, instead of failing with a `RangeError` after the work.
 */
export const MAX_TILED_OUTPUT_ELEMENTS = 2 ** 32 - 1;

/** A codec's encode, which decode-only codecs (the x4 upscaler's VAE) do not have. */
type EncodeFn = (image: Tensor, options?: { generator?: Generator }) => Promise<Tensor>;

function isTensor(value: unknown): value is Tensor {
  return value instanceof Tensor;
}

/**
 * Tiled VAE decoding and encoding with diffusers' `enable_vae_tiling()` semantics, around any
 * {@link LatentCodec}: latents larger than one tile (`tileLatentSize` along either side) are cut into
 * overlapping tiles of `tileLatentSize`, `tileLatentSize × (1 − tileOverlapFactor)` apart; each is decoded
 * by the inner codec (the whole batch at once, `[B, C, th, tw]`), blended linearly with the tile above and
 * the tile on its left over `tileSampleSize × tileOverlapFactor` pixels, and its first
 * `tileSampleSize − blendExtent` pixels kept. Peak memory then grows with the tile, not the image (the
 * VAE decoder's attention grows with the square of the latent area). Smaller inputs go to the inner codec
 * untouched.
 *
 * Encoding tiles the image the same way (tiles of `tileSampleSize` pixels) and blends what the inner
 * codec's `encode` returns. diffusers blends the encoder's moments (mean and log-variance) and samples the
 * blended posterior once; a {@link LatentCodec} returns sampled, scaled latents, so here each tile is
 * sampled with the generator on its own and the samples are blended. Two effects: the generator is advanced
 * by the tiles' latent sizes added up (more than the image's), so the draws after encoding (img2img's
 * noise) differ from an untiled run with the same seed; and the noise in the blended bands is a weighted
 * mean of two draws, so its spread is smaller there (down to 0.71× in the middle of a band). Without a
 * generator (the posterior's mean) there is no such effect.
 *
 * Decoded tiles differ from an untiled decode near the seams, because a real decoder sees past a tile's
 * edge (its receptive field); the blending hides the seams. See docs/performance.md ("VAE tiling").
 *
 * @example
 * ```ts
 * pipe.codec = new TiledLatentCodec(pipe.codec, { tileSampleSize: 512 });
 * ```
 */
export class TiledLatentCodec implements LatentCodec {
  /** The codec that runs each tile. */
  readonly inner: LatentCodec;
  /** The inner codec's latent channels. */
  readonly latentChannels: number;
  /** The inner codec's image pixels per latent pixel. */
  readonly downscale: number;
  /** The tile geometry, from the options and the inner codec's `downscale`. */
  readonly tiling: VaeTiling;

  /**
   * @param inner - The codec to run on each tile (e.g. a pipeline's `codec`).
   * @param options - Tile size and overlap; diffusers' defaults when left out.
   * @throws {@link InvalidArgumentError} when `inner` is not a codec or an option is invalid (see
   *   {@link VaeTilingOptions}).
   */
  constructor(inner: LatentCodec, options?: VaeTilingOptions) {
    const codec = inner as Partial<LatentCodec> | null | undefined;
    const channels = codec?.latentChannels;
    const downscale = codec?.downscale;
    if (
      typeof codec !== 'object' ||
      codec === null ||
      typeof codec.decode !== 'function' ||
      typeof channels !== 'number' ||
      !Number.isSafeInteger(channels) ||
      channels < 1 ||
      typeof downscale !== 'number' ||
      !Number.isSafeInteger(downscale) ||
      downscale < 1
    ) {
      throw new InvalidArgumentError({
        name: 'TiledLatentCodec inner codec',
        value: inner,
        expected: 'a LatentCodec: decode() and integer latentChannels ≥ 1 and downscale ≥ 1',
        fix: "pass the pipeline's codec, e.g. new TiledLatentCodec(pipe.codec)",
      });
    }
    this.inner = inner;
    this.latentChannels = channels;
    this.downscale = downscale;
    this.tiling = resolveVaeTilingOptions(options, downscale);
  }

  /** Tile side in image pixels (diffusers' `tile_sample_min_size`). */
  get tileSampleSize(): number {
    return this.tiling.tileSampleSize;
  }

  /** Tile side in latent pixels (diffusers' `tile_latent_min_size`). */
  get tileLatentSize(): number {
    return this.tiling.tileLatentSize;
  }

  /** Overlap of neighbouring tiles (diffusers' `tile_overlap_factor`). */
  get tileOverlapFactor(): number {
    return this.tiling.tileOverlapFactor;
  }

  /** Whether the inner codec can encode (it has `encode`, and says `canEncode` when it tells). */
  get canEncode(): boolean {
    const flag = (this.inner as { canEncode?: unknown }).canEncode;
    return typeof this.#innerEncode() === 'function' && flag !== false;
  }

  #innerEncode(): EncodeFn | undefined {
    const encode = (this.inner as { encode?: unknown }).encode;
    return typeof encode === 'function' ? (encode as EncodeFn) : undefined;
  }

  #grid(inScale: number, outScale: number): TileGrid {
    const { tileLatentSize, strideLatent, overlapLatent } = this.tiling;
    return { tile: tileLatentSize, stride: strideLatent, overlap: overlapLatent, inScale, outScale };
  }

  #checkInput(name: string, value: unknown, channels: number, layout: string): Tensor {
    if (!isTensor(value)) {
      throw new InvalidArgumentError({ name, value, expected: `a Tensor ${layout}` });
    }
    const s = value.shape;
    if (s.length !== 4 || s[1] !== channels || s.some((d) => d < 1)) {
      throw new ShapeMismatchError({
        name,
        value: s,
        expected: `${layout} with ${channels} channels and every dimension ≥ 1`,
      });
    }
    return value;
  }

  #checkOutputSize(name: string, shape: readonly number[]): void {
    const elements = shapeSize(shape);
    if (elements > MAX_TILED_OUTPUT_ELEMENTS) {
      throw new LimitExceededError({
        name,
        value: shape,
        expected: `at most ${MAX_TILED_OUTPUT_ELEMENTS} elements (the longest Float32Array), not ${elements}`,
        fix: 'decode fewer images at once, or a smaller size',
      });
    }
  }

  /**
   * Latents `[B, C, h, w]` → image `[B, 3, h·downscale, w·downscale]`; in tiles when h or w is larger than
   * `tileLatentSize`, else by the inner codec alone.
   *
   * @throws {@link ShapeMismatchError} for latents that are not `[B, latentChannels, h, w]`, or a tile the
   *   inner codec decodes to another shape; {@link LimitExceededError} for an output no Float32Array holds.
   */
  async decode(latents: Tensor): Promise<Tensor> {
    const z = this.#checkInput('latents', latents, this.latentChannels, '[B, C, h, w]');
    const [b, , h, w] = z.shape as [number, number, number, number];
    const t = this.tiling.tileLatentSize;
    if (h <= t && w <= t) return this.inner.decode(z);
    const k = this.downscale;
    this.#checkOutputSize('tiled decode output', [b, 3, h * k, w * k]);
    return runTiled(z, this.#grid(1, k), {
      run: (tile) => this.inner.decode(tile),
      outChannels: 3,
      what: "the inner codec's decode",
      fix: `the inner codec must decode [B, ${this.latentChannels}, h, w] to [B, 3, h·${k}, w·${k}] (its downscale)`,
    });
  }

  /**
   * Image `[B, 3, H, W]` → latents `[B, latentChannels, H/downscale, W/downscale]`; in tiles when H or W is
   * larger than `tileSampleSize` (H and W must then be multiples of `downscale`), else by the inner codec
   * alone. `options.generator` goes to every tile's encode, in row-major tile order (see the class notes).
   *
   * @throws {@link NotImplementedError} when the inner codec cannot encode; {@link ShapeMismatchError} for
   *   an image that is not `[B, 3, H, W]` (H and W multiples of `downscale` when tiled) or a tile the inner
   *   codec encodes to another shape; {@link LimitExceededError} for an output no Float32Array holds.
   */
  async encode(image: Tensor, options?: { generator?: Generator }): Promise<Tensor> {
    const encode = this.#innerEncode();
    if (!encode) {
      throw new NotImplementedError(
        'The codec inside TiledLatentCodec has no encode() (a decode-only VAE), so it cannot encode images (img2img, inpainting). Fix: use a model with a VAE encoder.',
      );
    }
    const x = this.#checkInput('image', image, 3, '[B, 3, H, W]');
    const [b, , height, width] = x.shape as [number, number, number, number];
    const size = this.tiling.tileSampleSize;
    const run = (tile: Tensor) => encode.call(this.inner, tile, options);
    if (height <= size && width <= size) return run(x);
    const k = this.downscale;
    if (height % k !== 0 || width % k !== 0) {
      throw new ShapeMismatchError({
        name: 'image',
        value: x.shape,
        expected: `height and width multiples of the codec's downscale (${k}) to encode in tiles`,
        fix: `resize the image to ${Math.round(height / k) * k || k}×${Math.round(width / k) * k || k} (height×width) first`,
      });
    }
    this.#checkOutputSize('tiled encode output', [b, this.latentChannels, height / k, width / k]);
    return runTiled(x, this.#grid(k, 1), {
      run,
      outChannels: this.latentChannels,
      what: "the inner codec's encode",
      fix: `the inner codec must encode [B, 3, H, W] to [B, ${this.latentChannels}, H/${k}, W/${k}] (its downscale)`,
    });
  }
}
