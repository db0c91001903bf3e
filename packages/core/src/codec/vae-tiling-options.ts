import { InvalidArgumentError } from '../errors.js';
import { checkKnownKeys } from '../pipeline/option-keys.js';

/**
 * Options of tiled VAE decoding and encoding ({@link TiledLatentCodec}), with the meaning of diffusers'
 * `AutoencoderKL.enable_tiling()` attributes. Give either size; the other follows from the codec's
 * `downscale` (`tileSampleSize = tileLatentSize × downscale`).
 */
export interface VaeTilingOptions {
  /**
   * The side of a tile in image pixels (diffusers' `tile_sample_min_size`): images larger than this along
   * either side are encoded in tiles, latents larger than `tileSampleSize / downscale` are decoded in tiles.
   * A multiple of the codec's `downscale`. Default 512 (diffusers takes the VAE config's `sample_size`:
   * 512 for SD 1.x).
   */
  tileSampleSize?: number;
  /** The side of a tile in latent pixels (diffusers' `tile_latent_min_size`). Default `tileSampleSize / downscale`. */
  tileLatentSize?: number;
  /**
   * The share of a tile that overlaps its neighbour and is blended linearly (diffusers'
   * `tile_overlap_factor`), in [0, 0.5]; `tileLatentSize × tileOverlapFactor` must be a whole number of
   * latent pixels. Default 0.25.
   */
  tileOverlapFactor?: number;
}

/** The tile geometry a {@link TiledLatentCodec} derives from its options, in latent pixels unless said otherwise. */
export interface VaeTiling {
  /** Tile side in image pixels: `tileLatentSize × downscale`. */
  readonly tileSampleSize: number;
  /** Tile side in latent pixels. */
  readonly tileLatentSize: number;
  /** The overlap factor. */
  readonly tileOverlapFactor: number;
  /** Latent pixels two neighbouring tiles share: `tileLatentSize × tileOverlapFactor`. */
  readonly overlapLatent: number;
  /** Latent pixels from one tile's start to the next one's: `tileLatentSize − overlapLatent`. */
  readonly strideLatent: number;
}

/** The keys {@link VaeTilingOptions} knows. */
export const VAE_TILING_OPTION_KEYS = ['tileSampleSize', 'tileLatentSize', 'tileOverlapFactor'] as const;

/** diffusers' SD 1.x tile size, in image pixels. */
export const DEFAULT_TILE_SAMPLE_SIZE = 512;

/** diffusers' `tile_overlap_factor`. */
export const DEFAULT_TILE_OVERLAP_FACTOR = 0.25;

/** The largest overlap factor: beyond it a tile's blend zone would reach past the part of it that is kept. */
export const MAX_TILE_OVERLAP_FACTOR = 0.5;

function positiveInteger(name: string, value: unknown, fix: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw new InvalidArgumentError({ name, value, expected: 'an integer ≥ 1', fix });
  }
  return value;
}

/** The smallest tile size d ≤ 1024 for which `d × factor` is whole, if there is one (4 for 0.25, 10 for 0.3). */
function smallestWholeMultiple(factor: number): number | undefined {
  for (let d = 1; d <= 1024; d++) {
    if (Math.abs(d * factor - Math.round(d * factor)) <= 1e-9 * d) return d;
  }
  return undefined;
}

/**
 * Checks {@link VaeTilingOptions} for a codec with the given `downscale` and derives the tile geometry.
 * diffusers truncates with `int()` where a size is not whole, which makes the output the wrong size; here
 * such options are refused instead.
 *
 * @throws {@link InvalidArgumentError} for an unknown key, a size that is not a positive integer, a
 *   `tileSampleSize` that is not a multiple of `downscale` or disagrees with `tileLatentSize`, an overlap
 *   factor outside [0, 0.5], or one that does not give a whole number of latent pixels.
 */
export function resolveVaeTilingOptions(options: unknown, downscale: number): VaeTiling {
  if (options === undefined) options = {};
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new InvalidArgumentError({
      name: 'VAE tiling options',
      value: options,
      expected: `undefined or an object with any of ${VAE_TILING_OPTION_KEYS.join(', ')}`,
      fix: 'pass e.g. { tileSampleSize: 512, tileOverlapFactor: 0.25 }, or nothing for the defaults',
    });
  }
  checkKnownKeys('VAE tiling options', options, VAE_TILING_OPTION_KEYS);
  const given = options as VaeTilingOptions;
  let sample: number | undefined;
  if (given.tileSampleSize !== undefined) {
    sample = positiveInteger(
      'tileSampleSize',
      given.tileSampleSize,
      'pass a tile side in image pixels, e.g. 512',
    );
    if (sample % downscale !== 0) {
      const below = Math.floor(sample / downscale) * downscale;
      const sizes = [below, below + downscale].filter((s) => s > 0);
      throw new InvalidArgumentError({
        name: 'tileSampleSize',
        value: sample,
        expected: `a multiple of the codec's downscale (${downscale})`,
        fix: `use ${sizes.join(' or ')}`,
      });
    }
  }
  let latent: number;
  if (given.tileLatentSize !== undefined) {
    latent = positiveInteger(
      'tileLatentSize',
      given.tileLatentSize,
      'pass a tile side in latent pixels, e.g. 64',
    );
    if (sample !== undefined && sample !== latent * downscale) {
      throw new InvalidArgumentError({
        name: 'tileSampleSize',
        value: sample,
        expected: `tileLatentSize × downscale = ${latent} × ${downscale} = ${latent * downscale}`,
        fix: 'give only one of tileSampleSize and tileLatentSize; the other follows from it',
      });
    }
  } else {
    latent = Math.max(1, Math.floor((sample ?? DEFAULT_TILE_SAMPLE_SIZE) / downscale));
  }
  const factor = given.tileOverlapFactor ?? DEFAULT_TILE_OVERLAP_FACTOR;
  if (
    typeof factor !== 'number' ||
    !Number.isFinite(factor) ||
    factor < 0 ||
    factor > MAX_TILE_OVERLAP_FACTOR
  ) {
    throw new InvalidArgumentError({
      name: 'tileOverlapFactor',
      value: factor,
      expected: `a number in [0, ${MAX_TILE_OVERLAP_FACTOR}]`,
      fix: `use ${DEFAULT_TILE_OVERLAP_FACTOR} (diffusers' default)`,
    });
  }
  const exact = latent * factor;
  const overlap = Math.round(exact);
  if (Math.abs(exact - overlap) > 1e-9 * Math.max(1, latent)) {
    const lower = Math.floor(exact) / latent;
    const upper = Math.min(Math.ceil(exact) / latent, MAX_TILE_OVERLAP_FACTOR);
    const multiple = smallestWholeMultiple(factor);
    throw new InvalidArgumentError({
      name: 'tileOverlapFactor',
      value: factor,
      expected: `a factor that makes tileLatentSize × tileOverlapFactor a whole number of latent pixels (${latent} × ${factor} = ${exact})`,
      fix: `use ${[...new Set([lower, upper])].join(' or ')}${multiple ? `, or a tileLatentSize that is a multiple of ${multiple}` : ''}`,
    });
  }
  return Object.freeze({
    tileSampleSize: latent * downscale,
    tileLatentSize: latent,
    tileOverlapFactor: factor,
    overlapLatent: overlap,
    strideLatent: latent - overlap,
  });
}
