import { fileURLToPath } from 'node:url';
import {
  InvalidArgumentError,
  LatentkitError,
  LimitExceededError,
  ModelMismatchError,
  type RgbaImage,
} from '@latentkit/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectInProcess } from '../test-support/in-process-worker.js';
import { type StaticServer, startStaticServer } from '../test-support/static-server.js';
import type { GenerationWorker, WorkerUpscaleCallOptions } from './generation-worker-client.js';

// Bad input to the worker's `upscale` request and its `vaeTiling` option (load, generate, upscale): each
// is a typed LatentkitError that crosses the worker with its class, naming the value, what was expected
// and the fix — and the form checks come before any download.

const models = fileURLToPath(new URL('../../../../tests/fixtures/models/', import.meta.url));

function image(width = 16, height = 16): RgbaImage {
  return { width, height, data: new Uint8ClampedArray(width * height * 4).fill(128) };
}

describe('generation worker: bad upscale and vaeTiling input', () => {
  let server: StaticServer;
  let gen: GenerationWorker;
  let upscaler: string;
  const wasm = { providers: ['wasm' as const], numThreads: 1 };
  beforeAll(async () => {
    server = await startStaticServer({ '/models/': models });
    gen = connectInProcess();
    upscaler = `${server.origin}/models/sd-x4-upscaler/`;
  });
  afterAll(async () => {
    await gen.dispose();
    await server.close();
  });

  const base = (): WorkerUpscaleCallOptions => ({
    model: upscaler,
    image: image(),
    prompt: 'a red house',
    numInferenceSteps: 2,
    loadOptions: wasm,
  });

  // Refused before any download: the worker fetches nothing.
  const early: { name: string; options: () => unknown; message: RegExp }[] = [
    {
      name: 'no model',
      options: () => ({ ...base(), model: undefined }),
      message: /^upscale model = undefined/,
    },
    {
      name: 'empty model URL',
      options: () => ({ ...base(), model: '' }),
      message: /^upscale model = "" .*x4 upscaler folder/,
    },
    {
      name: 'model URL not http(s)',
      options: () => ({ ...base(), model: 'ftp://host/up/' }),
      message: /model URL/,
    },
    {
      name: 'no image',
      options: () => ({ ...base(), image: undefined }),
      message: /^upscale image = undefined.*RgbaImage/,
    },
    {
      name: 'image as a plain array',
      options: () => ({ ...base(), image: [1, 2, 3] }),
      message: /^upscale image .*RgbaImage/,
    },
    {
      name: 'image whose data is a number[]',
      options: () => ({ ...base(), image: { width: 1, height: 1, data: [0, 0, 0, 255] } }),
      message: /^upscale image .*Uint8ClampedArray/,
    },
    {
      name: 'vaeTiling a string',
      options: () => ({ ...base(), vaeTiling: 'yes' }),
      message: /^upscale vaeTiling = "yes".*tileSampleSize/,
    },
    {
      name: 'vaeTiling a number',
      options: () => ({ ...base(), vaeTiling: 1 }),
      message: /^upscale vaeTiling = 1 /,
    },
    {
      name: 'loadOptions.vaeTiling an array',
      options: () => ({ ...base(), loadOptions: { ...wasm, vaeTiling: [256] } }),
      message: /^upscale loadOptions\.vaeTiling = /,
    },
  ];
  for (const row of early) {
    it(`upscale: ${row.name} → InvalidArgumentError before any download`, async () => {
      const before = server.requests.length;
      const err = await gen.upscale(row.options() as WorkerUpscaleCallOptions).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(InvalidArgumentError);
      expect((err as Error).message).toMatch(row.message);
      expect((err as Error).message).toMatch(/Fix: /);
      expect(server.requests.length).toBe(before);
    });
  }

  // Refused by the upscaler (once loaded) before it runs: the pipeline's own checks, through the worker.
  const late: {
    name: string;
    options: () => unknown;
    error: new (...a: never[]) => Error;
    message: RegExp;
  }[] = [
    {
      name: 'noiseLevel above maxNoiseLevel',
      options: () => ({ ...base(), noiseLevel: 351 }),
      error: InvalidArgumentError,
      message: /noiseLevel = 351/,
    },
    {
      name: 'snake_case option',
      options: () => ({ ...base(), noise_level: 20 }),
      error: InvalidArgumentError,
      message: /"noise_level".*did you mean noiseLevel/,
    },
    {
      name: 'numInferenceSteps 0',
      options: () => ({ ...base(), numInferenceSteps: 0 }),
      error: InvalidArgumentError,
      message: /numInferenceSteps = 0/,
    },
    {
      name: 'guidanceScale NaN',
      options: () => ({ ...base(), guidanceScale: Number.NaN }),
      error: InvalidArgumentError,
      message: /guidanceScale = NaN/,
    },
    {
      name: 'empty image (0×0)',
      options: () => ({ ...base(), image: image(0, 0) }),
      error: InvalidArgumentError,
      message: /image/,
    },
    {
      name: 'vaeTiling with an unknown key',
      options: () => ({ ...base(), vaeTiling: { tileSize: 32 } }),
      error: InvalidArgumentError,
      message: /"tileSize" = 32 .*known options \(tileSampleSize/,
    },
    {
      name: 'vaeTiling overlap above 0.5',
      options: () => ({ ...base(), vaeTiling: { tileSampleSize: 32, tileOverlapFactor: 0.9 } }),
      error: InvalidArgumentError,
      message: /tileOverlapFactor = 0\.9/,
    },
    {
      name: 'an upscaler file over maxFileBytes',
      options: () => ({ ...base(), loadOptions: { ...wasm, maxFileBytes: 10 } }),
      error: LimitExceededError,
      message: /maxFileBytes = 10/,
    },
  ];
  for (const row of late) {
    it(`upscale: ${row.name} → ${row.error.name}`, async () => {
      const err = await gen.upscale(row.options() as WorkerUpscaleCallOptions).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(row.error);
      expect((err as Error).message).toMatch(row.message);
    }, 60_000);
  }

  it('upscale: a text-to-image model as the upscaler → ModelMismatchError', async () => {
    const err = await gen
      .upscale({ ...base(), model: `${server.origin}/models/sd1/` })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModelMismatchError);
    expect((err as Error).message).toMatch(/is not an x4 upscaler model.*Fix: /);
  }, 60_000);

  it('upscale: a model URL with nothing there → a typed LatentkitError naming the URL', async () => {
    const err = await gen
      .upscale({ ...base(), model: `${server.origin}/models/no-such-upscaler/` })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LatentkitError);
    expect((err as Error).message).toContain('no-such-upscaler');
  }, 60_000);

  it('load: vaeTiling "on" → InvalidArgumentError before any download', async () => {
    const before = server.requests.length;
    const err = await gen
      .load(`${server.origin}/models/sd1/`, { ...wasm, vaeTiling: 'on' as never })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect((err as Error).message).toMatch(/^vaeTiling = "on"/);
    expect(server.requests.length).toBe(before);
  });

  it('load: vaeTiling with a tile size not a multiple of the VAE downscale → InvalidArgumentError, no model kept', async () => {
    const err = await gen
      .load(`${server.origin}/models/sd1/`, { ...wasm, vaeTiling: { tileSampleSize: 30 } })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect((err as Error).message).toMatch(/tileSampleSize = 30/);
    await expect(gen.generate({ prompt: 'a' })).rejects.toThrow(/a loaded model/);
  }, 60_000);

  it('generate and upscale: options postMessage cannot copy → InvalidArgumentError naming the request, not DataCloneError', async () => {
    const gen2 = await gen
      .generate({ prompt: (() => 'a') as unknown as string, numInferenceSteps: 1 })
      .catch((e: unknown) => e);
    expect(gen2).toBeInstanceOf(InvalidArgumentError);
    expect((gen2 as Error).message).toMatch(
      /^generate options = .*could not be cloned.*Fix: pass plain data/,
    );
    const up = await gen
      .upscale({ ...base(), prompt: Symbol('a red house') as unknown as string })
      .catch((e: unknown) => e);
    expect(up).toBeInstanceOf(InvalidArgumentError);
    expect((up as Error).message).toMatch(/^upscale options = /);
  });

  it('generate: vaeTiling 5 → InvalidArgumentError', async () => {
    await gen.load(`${server.origin}/models/sd1/`, wasm);
    const err = await gen
      .generate({ prompt: 'a', numInferenceSteps: 1, vaeTiling: 5 as never })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect((err as Error).message).toMatch(/^vaeTiling = 5 /);
  }, 60_000);
});
