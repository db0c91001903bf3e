/**
 * Bad refiner requests to the generation worker (issue 18; page and worker sides in-process, messages
 * through structuredClone; onnxruntime-web's WebAssembly build in Node; the tiny SDXL fixtures): each is
 * refused with a typed error, revived with its class on the page side, before the refiner is downloaded
 * (no progress reported).
 */
import { fileURLToPath } from 'node:url';
import { InvalidArgumentError, NotImplementedError } from '@latentkit/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectInProcess } from '../test-support/in-process-worker.js';
import { type StaticServer, startStaticServer } from '../test-support/static-server.js';
import type { GenerationWorker } from './generation-worker-client.js';

const models = fileURLToPath(new URL('../../../../tests/fixtures/models/', import.meta.url));
const OPTIONS = {
  prompt: 'a photo of a cat',
  negativePrompt: 'a dog',
  numInferenceSteps: 5,
  seed: 7,
} as const;

describe('the generation worker with a refiner: bad requests (in-process, onnxruntime-web wasm)', () => {
  let server: StaticServer;
  let gen: GenerationWorker;
  beforeAll(async () => {
    server = await startStaticServer({ '/models/': models });
    gen = connectInProcess();
  });
  afterAll(async () => {
    await gen.dispose();
    await server.close();
  });

  it('a refiner on an SD 1.x model is refused before the refiner is downloaded', async () => {
    await gen.load(`${server.origin}/models/sd1/`, { providers: ['wasm'] });
    const files: string[] = [];
    const error = await gen
      .generate({
        ...OPTIONS,
        onProgress: (p) => files.push(p.file),
        refiner: {
          model: `${server.origin}/models/sdxl-refiner-tiny/`,
          loadOptions: { providers: ['wasm'] },
        },
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect(files).toEqual([]);
    expect((error as Error).message).toMatch(
      /^refiner = .* expected an SDXL model loaded first.*Fix: load an SDXL base model/,
    );
  });

  it.each([
    [
      'refiner not an object',
      'a refiner' as never,
      InvalidArgumentError,
      /^refiner = "a refiner" is invalid/,
    ],
    ['refiner without a model', {} as never, InvalidArgumentError, /^refiner model = undefined is invalid/],
    [
      'highNoiseFrac 1.5',
      { model: 'sdxl-refiner-tiny/', highNoiseFrac: 1.5 },
      InvalidArgumentError,
      /^highNoiseFrac = 1\.5 is invalid: expected a number in \(0, 1\)/,
    ],
    [
      'a refiner-only option misspelt (high_noise_frac)',
      { model: 'sdxl-refiner-tiny/', high_noise_frac: 0.8 },
      InvalidArgumentError,
      /^generateWithRefiner key "high_noise_frac" .*did you mean highNoiseFrac\?/,
    ],
  ])('bad refiner request: %s', async (_name, refiner, error, message) => {
    await gen.load(`${server.origin}/models/sdxl-tiny/`, { providers: ['wasm'] });
    const r =
      typeof refiner === 'object' && refiner !== null && 'model' in refiner
        ? { ...(refiner as object), model: `${server.origin}/models/${(refiner as { model: string }).model}` }
        : refiner;
    const files: string[] = [];
    const thrown = await gen
      .generate({ ...OPTIONS, refiner: r as never, onProgress: (p) => files.push(p.file) })
      .catch((e: unknown) => e);
    expect(thrown).toBeInstanceOf(error);
    expect(files).toEqual([]); // refused before any download
    expect((thrown as Error).message).toMatch(message);
  });

  it('an image with a refiner: NotImplementedError (text-to-image only)', async () => {
    await gen.load(`${server.origin}/models/sdxl-tiny/`, { providers: ['wasm'] });
    const image = { width: 32, height: 32, data: new Uint8ClampedArray(32 * 32 * 4).fill(128) };
    const files: string[] = [];
    const thrown = await gen
      .generate({
        ...OPTIONS,
        image,
        refiner: { model: `${server.origin}/models/sdxl-refiner-tiny/` },
        onProgress: (p) => files.push(p.file),
      })
      .catch((e: unknown) => e);
    expect(thrown).toBeInstanceOf(NotImplementedError);
    expect(files).toEqual([]);
    expect((thrown as Error).message).toMatch(/image is not supported/);
  });
});
