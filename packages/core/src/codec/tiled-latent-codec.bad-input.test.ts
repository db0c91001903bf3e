/**
 * Bad input to TiledLatentCodec: each case is a typed LatentkitError whose message names the value, what
 * was expected and (where there is one) the fix — at construction for options, before any tile runs for
 * inputs, and at the first tile for an inner codec that does not keep its word.
 */
import { describe, expect, it } from 'vitest';
import {
  InvalidArgumentError,
  type LatentkitError,
  LimitExceededError,
  NotImplementedError,
  ShapeMismatchError,
} from '../errors.js';
import type { LatentCodec } from '../interfaces/latent-codec.js';
import { FakeCodec } from '../pipeline/test-fakes.js';
import { Tensor } from '../tensor.js';
import { TiledLatentCodec, type VaeTilingOptions } from './tiled-latent-codec.js';

type ErrorClass = new (...args: never[]) => LatentkitError;

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return undefined;
}

async function rejected(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => undefined,
    (e: unknown) => e,
  );
}

function expectError(error: unknown, cls: ErrorClass, code: string, patterns: RegExp[]): void {
  expect(error).toBeInstanceOf(cls);
  expect((error as LatentkitError).code).toBe(code);
  for (const p of patterns) expect((error as Error).message).toMatch(p);
}

describe('TiledLatentCodec: a bad inner codec', () => {
  const cases: [string, unknown][] = [
    ['undefined', undefined],
    ['null', null],
    ['an object without decode()', { latentChannels: 4, downscale: 8 }],
    ['downscale 0', { latentChannels: 4, downscale: 0, decode: async () => Tensor.zeros([1]) }],
    ['latentChannels 2.5', { latentChannels: 2.5, downscale: 8, decode: async () => Tensor.zeros([1]) }],
  ];
  for (const [name, inner] of cases) {
    it(`${name} → INVALID_ARGUMENT naming the inner codec and what a LatentCodec has`, () => {
      expectError(
        thrown(() => new TiledLatentCodec(inner as LatentCodec)),
        InvalidArgumentError,
        'INVALID_ARGUMENT',
        [
          /TiledLatentCodec inner codec/,
          /expected a LatentCodec: decode\(\) and integer latentChannels ≥ 1 and downscale ≥ 1/,
          /Fix: pass the pipeline's codec/,
        ],
      );
    });
  }
});

describe('TiledLatentCodec: bad options', () => {
  const cases: [string, unknown, RegExp[]][] = [
    [
      'options 512 (a number)',
      512,
      [/VAE tiling options = 512/, /undefined or an object with any of tileSampleSize/],
    ],
    ['options an array', [512], [/VAE tiling options = \[512\]/, /Fix: pass e\.g\. \{ tileSampleSize: 512/]],
    [
      'snake_case tile_sample_size',
      { tile_sample_size: 512 },
      [/"tile_sample_size"/, /did you mean tileSampleSize\?/],
    ],
    ['unknown key tileOverlap', { tileOverlap: 0.25 }, [/"tileOverlap"/, /did you mean tileOverlapFactor\?/]],
    ['tileSampleSize 0', { tileSampleSize: 0 }, [/tileSampleSize = 0/, /an integer ≥ 1/]],
    ['tileSampleSize NaN', { tileSampleSize: Number.NaN }, [/tileSampleSize = NaN/, /an integer ≥ 1/]],
    [
      'tileSampleSize "512" (a string)',
      { tileSampleSize: '512' },
      [/tileSampleSize = "512"/, /an integer ≥ 1/],
    ],
    [
      'tileSampleSize 500, not a multiple of downscale 8',
      { tileSampleSize: 500 },
      [/tileSampleSize = 500/, /a multiple of the codec's downscale \(8\)/, /Fix: use 496 or 504/],
    ],
    ['tileLatentSize −1', { tileLatentSize: -1 }, [/tileLatentSize = -1/, /an integer ≥ 1/, /e\.g\. 64/]],
    ['tileLatentSize 1.5', { tileLatentSize: 1.5 }, [/tileLatentSize = 1.5/, /an integer ≥ 1/]],
    [
      'tileSampleSize 512 with tileLatentSize 32 (downscale 8 makes 256)',
      { tileSampleSize: 512, tileLatentSize: 32 },
      [/tileSampleSize = 512/, /tileLatentSize × downscale = 32 × 8 = 256/, /give only one of/],
    ],
    [
      'tileOverlapFactor −0.1',
      { tileOverlapFactor: -0.1 },
      [/tileOverlapFactor = -0.1/, /a number in \[0, 0.5\]/],
    ],
    [
      'tileOverlapFactor 0.6',
      { tileOverlapFactor: 0.6 },
      [/tileOverlapFactor = 0.6/, /\[0, 0.5\]/, /use 0.25/],
    ],
    ['tileOverlapFactor NaN', { tileOverlapFactor: Number.NaN }, [/tileOverlapFactor = NaN/, /\[0, 0.5\]/]],
    [
      'tileOverlapFactor Infinity',
      { tileOverlapFactor: Number.POSITIVE_INFINITY },
      [/tileOverlapFactor = Infinity/, /\[0, 0.5\]/],
    ],
    [
      'tileOverlapFactor 0.3 with 64-latent tiles (19.2 latent px)',
      { tileOverlapFactor: 0.3 },
      [
        /tileOverlapFactor = 0.3/,
        /whole number of latent pixels \(64 × 0.3 = 19.2/,
        /use 0.296875 or 0.3125, or a tileLatentSize that is a multiple of 10/,
      ],
    ],
    [
      'tileLatentSize 10 with the default overlap 0.25 (2.5 latent px)',
      { tileLatentSize: 10 },
      [
        /tileOverlapFactor = 0.25/,
        /10 × 0.25 = 2.5/,
        /use 0.2 or 0.3, or a tileLatentSize that is a multiple of 4/,
      ],
    ],
  ];
  for (const [name, options, patterns] of cases) {
    it(`${name} → INVALID_ARGUMENT`, () => {
      const error = thrown(() => new TiledLatentCodec(new FakeCodec(), options as VaeTilingOptions));
      expectError(error, InvalidArgumentError, 'INVALID_ARGUMENT', patterns);
    });
  }
});

describe('TiledLatentCodec.decode: bad latents', () => {
  const cases: [string, unknown, ErrorClass, RegExp[]][] = [
    [
      'a Float32Array instead of a Tensor',
      new Float32Array(16),
      InvalidArgumentError,
      [/latents = \[object Float32Array\]/, /a Tensor \[B, C, h, w\]/],
    ],
    ['rank 3', Tensor.zeros([4, 80, 80]), ShapeMismatchError, [/latents = \[4, 80, 80\]/, /with 4 channels/]],
    [
      '3 channels for a 4-channel codec',
      Tensor.zeros([1, 3, 80, 80]),
      ShapeMismatchError,
      [/\[1, 3, 80, 80\]/, /4 channels/],
    ],
    [
      'a zero-height batch',
      Tensor.zeros([1, 4, 0, 80]),
      ShapeMismatchError,
      [/\[1, 4, 0, 80\]/, /every dimension ≥ 1/],
    ],
  ];
  for (const [name, latents, cls, patterns] of cases) {
    it(`${name} → ${cls.name}, no tile decoded`, async () => {
      const inner = new FakeCodec();
      const error = await rejected(new TiledLatentCodec(inner).decode(latents as Tensor));
      expectError(error, cls, cls === InvalidArgumentError ? 'INVALID_ARGUMENT' : 'SHAPE_MISMATCH', patterns);
      expect(inner.decodeCalls).toHaveLength(0);
    });
  }

  it('an output longer than any Float32Array (a codec with downscale 1024) → LIMIT_EXCEEDED before any tile', async () => {
    const inner = Object.assign(new FakeCodec(), { downscale: 1024 });
    const codec = new TiledLatentCodec(inner, { tileLatentSize: 4 });
    const error = await rejected(codec.decode(Tensor.zeros([1, 4, 64, 64])));
    expectError(error, LimitExceededError, 'LIMIT_EXCEEDED', [
      /tiled decode output = \[1, 3, 65536, 65536\]/,
      /at most 4294967295 elements/,
      /Fix: decode fewer images at once/,
    ]);
    expect(inner.decodeCalls).toHaveLength(0);
  });
});

describe('TiledLatentCodec: an inner codec that does not keep its word', () => {
  /** A codec that claims downscale 8 but decodes ×4 (or returns something else). */
  function lying(result: (z: Tensor) => unknown): LatentCodec {
    return {
      latentChannels: 4,
      downscale: 8,
      decode: async (z: Tensor) => result(z) as Tensor,
      encode: async (x: Tensor) => result(x) as Tensor,
    };
  }
  it('decode ×4 while claiming downscale 8 → SHAPE_MISMATCH naming the tile and the expected shape', async () => {
    const codec = new TiledLatentCodec(
      lying((z) => Tensor.zeros([1, 3, z.shape[2]! * 4, z.shape[3]! * 4])),
      { tileLatentSize: 8 },
    );
    const error = await rejected(codec.decode(Tensor.zeros([1, 4, 8, 12])));
    expectError(error, ShapeMismatchError, 'SHAPE_MISMATCH', [
      /the inner codec's decode output for the tile at row 0, column 0 = \[1, 3, 32, 32\]/,
      /expected a Tensor \[1, 3, 64, 64\]/,
      /Fix: the inner codec must decode \[B, 4, h, w\] to \[B, 3, h·8, w·8\] \(its downscale\)/,
    ]);
  });

  it('decode returning a plain array → SHAPE_MISMATCH', async () => {
    const codec = new TiledLatentCodec(
      lying(() => [0, 1]),
      { tileLatentSize: 8 },
    );
    const error = await rejected(codec.decode(Tensor.zeros([1, 4, 8, 12])));
    expectError(error, ShapeMismatchError, 'SHAPE_MISMATCH', [
      /= \[0, 1\]/,
      /expected a Tensor \[1, 3, 64, 64\]/,
    ]);
  });

  it('encode to the wrong channel count → SHAPE_MISMATCH', async () => {
    const codec = new TiledLatentCodec(
      lying((x) => Tensor.zeros([1, 8, x.shape[2]! / 8, x.shape[3]! / 8])),
      { tileSampleSize: 64 },
    );
    const error = await rejected(codec.encode(Tensor.zeros([1, 3, 64, 96])));
    expectError(error, ShapeMismatchError, 'SHAPE_MISMATCH', [
      /the inner codec's encode output for the tile at row 0, column 0 = \[1, 8, 8, 8\]/,
      /expected a Tensor \[1, 4, 8, 8\]/,
    ]);
  });
});

describe('TiledLatentCodec.encode: bad images', () => {
  it('4 channels (RGBA) → SHAPE_MISMATCH', async () => {
    const error = await rejected(new TiledLatentCodec(new FakeCodec()).encode(Tensor.zeros([1, 4, 64, 64])));
    expectError(error, ShapeMismatchError, 'SHAPE_MISMATCH', [/image = \[1, 4, 64, 64\]/, /with 3 channels/]);
  });

  it('a side that is not a multiple of the downscale, when tiled → SHAPE_MISMATCH with the size to resize to', async () => {
    const inner = new FakeCodec();
    const codec = new TiledLatentCodec(inner, { tileSampleSize: 64 });
    const error = await rejected(codec.encode(Tensor.zeros([1, 3, 100, 130])));
    expectError(error, ShapeMismatchError, 'SHAPE_MISMATCH', [
      /image = \[1, 3, 100, 130\]/,
      /multiples of the codec's downscale \(8\) to encode in tiles/,
      /Fix: resize the image to 104×128/,
    ]);
    expect(inner.encodeCalls).toHaveLength(0);
  });

  it('a decode-only inner codec (no encode) → NOT_IMPLEMENTED', async () => {
    const decodeOnly = {
      latentChannels: 4,
      downscale: 4,
      decode: async (z: Tensor) => z,
    } as unknown as LatentCodec;
    const error = await rejected(new TiledLatentCodec(decodeOnly).encode(Tensor.zeros([1, 3, 64, 64])));
    expectError(error, NotImplementedError, 'NOT_IMPLEMENTED', [
      /has no encode\(\)/,
      /Fix: use a model with a VAE encoder/,
    ]);
  });
});
