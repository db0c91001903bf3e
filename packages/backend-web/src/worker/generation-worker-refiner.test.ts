/**
 * Issue 18: base + refiner in the generation worker (page and worker sides in-process, messages through
 * structuredClone; onnxruntime-web's WebAssembly build in Node) on the tiny SDXL fixtures
 * (tests/fixtures/models/sdxl-tiny + sdxl-refiner-tiny): a `generate` request with `refiner` gives the
 * pixels of core's generateWithRefiner run with the same build in this process, reports each model's steps
 * with `pass`, keeps the refiner loaded, and refuses bad refiner requests before any download.
 */
import { fileURLToPath } from 'node:url';
import {
  generateWithRefiner,
  InvalidArgumentError,
  NotImplementedError,
  type RefinerHandOffParameters,
  StableDiffusionXLPipeline,
} from '@latentkit/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectInProcess } from '../test-support/in-process-worker.js';
import { type StaticServer, startStaticServer } from '../test-support/static-server.js';
import { webBackend } from '../web-backend.js';
import type { GenerationWorker } from './generation-worker-client.js';
import type { WorkerStepInfo } from './messages.js';

const models = fileURLToPath(new URL('../../../../tests/fixtures/models/', import.meta.url));
const TIMEOUT = 120_000;
const OPTIONS = {
  prompt: 'a photo of a cat',
  negativePrompt: 'a dog',
  numInferenceSteps: 5,
  seed: 7,
} as const;

describe('the generation worker with a refiner (in-process, onnxruntime-web wasm)', () => {
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

  it(
    'base + refiner: the pixels of generateWithRefiner in this process, steps of both passes, the refiner kept for the next call',
    async () => {
      await gen.load(`${server.origin}/models/sdxl-tiny/`, { providers: ['wasm'] });
      const steps: WorkerStepInfo[] = [];
      const progress = new Set<string>();
      const refiner = {
        model: `${server.origin}/models/sdxl-refiner-tiny/`,
        highNoiseFrac: 0.6,
        aestheticScore: 7,
        loadOptions: { providers: ['wasm' as const] },
      };
      const result = await gen.generate({
        ...OPTIONS,
        refiner,
        preview: { every: 1 },
        onStep: (s) => steps.push(s),
        onProgress: (p) => progress.add(p.file),
      });
      expect(steps.map((s) => [s.pass, s.step, s.totalSteps, s.previews?.length ?? 0])).toEqual([
        ['base', 0, 3, 1],
        ['base', 1, 3, 1],
        ['base', 2, 3, 0],
        ['refiner', 0, 2, 1],
        ['refiner', 1, 2, 0],
      ]);
      expect(progress).toContain('unet/model.onnx');
      progress.clear();
      const parameters = result.parameters as RefinerHandOffParameters;
      expect(parameters.highNoiseFrac).toBe(0.6);
      expect(parameters.refinerPass.sdxl?.aestheticScore).toBe(7);

      // The same build in this process, loaded the same way.
      const base = await StableDiffusionXLPipeline.fromPretrained(`${server.origin}/models/sdxl-tiny/`, {
        backend: webBackend,
        providers: ['wasm'],
      });
      const second = await StableDiffusionXLPipeline.fromPretrained(refiner.model, {
        backend: webBackend,
        providers: ['wasm'],
      });
      try {
        const expected = await generateWithRefiner(base, second, {
          ...OPTIONS,
          highNoiseFrac: 0.6,
          aestheticScore: 7,
        });
        expect(result.images[0]!.data).toEqual(expected.images[0]!.data);
      } finally {
        await base.dispose();
        await second.dispose();
      }

      // A second call with the same refiner does not download it again.
      const again = await gen.generate({
        ...OPTIONS,
        seed: 8,
        refiner: { ...refiner, loadOptions: { providers: ['wasm'] } },
        onProgress: (p) => progress.add(p.file),
      });
      expect(again.images).toHaveLength(1);
      expect(progress.size).toBe(0);
    },
    TIMEOUT,
  );

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
    const thrown = await gen
      .generate({ ...OPTIONS, image, refiner: { model: `${server.origin}/models/sdxl-refiner-tiny/` } })
      .catch((e: unknown) => e);
    expect(thrown).toBeInstanceOf(NotImplementedError);
    expect((thrown as Error).message).toMatch(/image is not supported/);
  });
});
