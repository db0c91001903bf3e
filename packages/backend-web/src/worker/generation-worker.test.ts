import { fileURLToPath } from 'node:url';
import {
  DownloadFailedError,
  InvalidArgumentError,
  LimitExceededError,
  type RgbaImage,
  UnknownSchedulerError,
} from '@latentkit/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectInProcess } from '../test-support/in-process-worker.js';
import { type StaticServer, startStaticServer } from '../test-support/static-server.js';
import type { GenerationWorker } from './generation-worker-client.js';
import type { WorkerStepInfo } from './messages.js';

// The page side and the worker side connected in-process (connectInProcess: messages go through
// structuredClone, as postMessage would copy them). The model runs on onnxruntime-web's WebAssembly build
// in Node; tests/browser runs the same code in a real Worker in Chromium.

const models = fileURLToPath(new URL('../../../../tests/fixtures/models/', import.meta.url));

describe('the generation worker (page and worker sides, in-process)', () => {
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

  it('generate before load is an InvalidArgumentError, revived with its class', async () => {
    await expect(gen.generate({ prompt: 'a' })).rejects.toBeInstanceOf(InvalidArgumentError);
  });

  it('download errors cross the worker with their class: LimitExceededError, DownloadFailedError (with its URL)', async () => {
    const tooBig = await gen
      .load(`${server.origin}/models/sd1/`, { providers: ['wasm'], maxFileBytes: 10 })
      .catch((e: unknown) => e);
    expect(tooBig).toBeInstanceOf(LimitExceededError);
    expect((tooBig as LimitExceededError).details?.expected).toMatch(/at most maxFileBytes = 10 bytes/);
    const gone = await startStaticServer({});
    await gone.close();
    const unreachable = await gen.load(`${gone.origin}/m/`, { providers: ['wasm'] }).catch((e: unknown) => e);
    expect(unreachable).toBeInstanceOf(DownloadFailedError);
    expect((unreachable as DownloadFailedError).url).toBe(`${gone.origin}/m/model_index.json`);
  });

  it('loads with progress, generates with steps and decoded previews, returns the image', async () => {
    const files = new Set<string>();
    const loaded = await gen.load(`${server.origin}/models/sd1/`, {
      providers: ['wasm'],
      onProgress: (p) => files.add(p.file),
    });
    expect(loaded.providers).toEqual({
      unet: 'wasm',
      vae_decoder: 'wasm',
      text_encoder: 'wasm',
      vae_encoder: 'wasm',
    });
    expect(loaded.scheduler).toBe('PNDMScheduler');
    expect(loaded.imageSize).toBe(64);
    expect(files).toContain('unet/model.onnx');

    const steps: WorkerStepInfo[] = [];
    const result = await gen.generate({
      prompt: 'a photo of a cat',
      seed: 3,
      numInferenceSteps: 4,
      preview: { every: 2 },
      onStep: (s) => steps.push(s),
    });
    // PNDM (PLMS) runs 4 inference steps as 5 loop steps: it repeats its first timestep.
    expect(steps.map((s) => [s.step, s.totalSteps, s.previews?.length ?? 0])).toEqual([
      [0, 5, 0],
      [1, 5, 1], // every 2nd step…
      [2, 5, 0],
      [3, 5, 1],
      [4, 5, 0], // …but never the last: the result follows
    ]);
    const preview = steps[1]!.previews![0]!;
    expect([preview.width, preview.height]).toEqual([64, 64]);
    const image: RgbaImage = result.images[0]!;
    expect([image.width, image.height, image.data.length]).toEqual([64, 64, 64 * 64 * 4]);
    expect(result.totalMs).toBeGreaterThan(result.previewMs);

    // The same call again gives the same pixels; a scheduler swap gives other ones.
    const again = await gen.generate({ prompt: 'a photo of a cat', seed: 3, numInferenceSteps: 4 });
    expect(again.images[0]!.data).toEqual(image.data);
    const euler = await gen.generate({
      prompt: 'a photo of a cat',
      seed: 3,
      numInferenceSteps: 4,
      scheduler: 'EulerDiscreteScheduler',
    });
    expect(euler.images[0]!.data).not.toEqual(image.data);
    // The resolved parameters cross too (for toPngBlob's A1111 text): this call's scheduler and seed.
    expect(euler.parameters).toMatchObject({
      scheduler: 'EulerDiscreteScheduler',
      numInferenceSteps: 4,
      images: [{ prompt: 'a photo of a cat', seed: 3, batchIndex: 0 }],
    });
  });

  it('approximate previews are at latent size', async () => {
    const sizes: number[][] = [];
    await gen.generate({
      prompt: 'a',
      seed: 1,
      numInferenceSteps: 2,
      preview: { mode: 'approximate' },
      onStep: (s) => s.previews && sizes.push([s.previews[0]!.width, s.previews[0]!.height]),
    });
    // 2 PNDM steps are 3 loop steps: previews after the first two.
    expect(sizes).toEqual([
      [8, 8],
      [8, 8],
    ]);
  });

  it('errors keep their class, message and details across the worker (UnknownScheduler, InvalidArgument)', async () => {
    const unknown = await gen.generate({ prompt: 'a', scheduler: 'Eular a' }).catch((e: unknown) => e);
    expect(unknown).toBeInstanceOf(UnknownSchedulerError);
    expect((unknown as UnknownSchedulerError).code).toBe('UNKNOWN_SCHEDULER');
    expect((unknown as Error).message).toMatch(/^Unknown scheduler "Eular a"\. Known names: .*Euler a/);
    const badSize = await gen.generate({ prompt: 'a', width: 36 }).catch((e: unknown) => e);
    expect(badSize).toBeInstanceOf(InvalidArgumentError);
    const details = (badSize as InvalidArgumentError).details;
    expect([details?.name, details?.value]).toEqual(['width', 36]);
    expect((badSize as Error).message).toMatch(/^width = 36 is invalid: expected a positive multiple of 16/);
  });

  it('cancel() stops a running generation with an AbortError; the next call runs', async () => {
    let seen = 0;
    const running = gen.generate({
      prompt: 'a',
      seed: 1,
      numInferenceSteps: 200,
      onStep: () => {
        seen++;
        if (seen === 2) gen.cancel();
      },
    });
    await expect(running).rejects.toMatchObject({ name: 'AbortError' });
    expect(seen).toBeLessThan(20);
    const after = await gen.generate({ prompt: 'a', seed: 1, numInferenceSteps: 2 });
    expect(after.images).toHaveLength(1);
  });

  it('an aborted signal cancels only its own call', async () => {
    const controller = new AbortController();
    const first = gen.generate({ prompt: 'a', seed: 1, numInferenceSteps: 200, signal: controller.signal });
    const second = gen.generate({ prompt: 'a', seed: 1, numInferenceSteps: 2 });
    controller.abort();
    await expect(first).rejects.toMatchObject({ name: 'AbortError' });
    expect((await second).images).toHaveLength(1);
  });
});
