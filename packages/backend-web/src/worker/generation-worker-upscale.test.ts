import { fileURLToPath } from 'node:url';
import { nodeBackend } from '@latentkit/backend-node';
import { type RgbaImage, StableDiffusionUpscalePipeline } from '@latentkit/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectInProcess } from '../test-support/in-process-worker.js';
import { type StaticServer, startStaticServer } from '../test-support/static-server.js';
import type { GenerationWorker } from './generation-worker-client.js';
import type { WorkerStepInfo } from './messages.js';

// The worker's `upscale` request on the tiny x4 upscaler fixture (tests/fixtures/models/sd-x4-upscaler,
// random weights, 16×16 → 64×64), served over HTTP and run on onnxruntime-web's WebAssembly build in Node,
// against onnxruntime-node running StableDiffusionUpscalePipeline on the same inputs.

const models = fileURLToPath(new URL('../../../../tests/fixtures/models/', import.meta.url));
const DIR = `${models}sd-x4-upscaler`;
const settings = {
  prompt: 'a red house',
  negativePrompt: 'blue',
  noiseLevel: 20,
  numInferenceSteps: 3,
  guidanceScale: 9,
  seed: 7,
};

/** A 16×16 test card: a gradient with a square, opaque. */
function lowRes(): RgbaImage {
  const data = new Uint8ClampedArray(16 * 16 * 4);
  for (let y = 0; y < 16; y++) {
    for (let x = 0; x < 16; x++) {
      const i = (y * 16 + x) * 4;
      const inSquare = x >= 4 && x < 12 && y >= 4 && y < 12;
      data[i] = inSquare ? 230 : x * 16;
      data[i + 1] = y * 16;
      data[i + 2] = inSquare ? 20 : 255 - x * 8;
      data[i + 3] = 255;
    }
  }
  return { width: 16, height: 16, data };
}

function maxDifference(a: Uint8ClampedArray, b: Uint8ClampedArray): number {
  expect(a.length).toBe(b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}

describe('the generation worker: upscale (x4 upscaler) and vaeTiling', () => {
  let server: StaticServer;
  let gen: GenerationWorker;
  let reference: RgbaImage;
  let tiledReference: RgbaImage;
  beforeAll(async () => {
    server = await startStaticServer({ '/models/': models });
    gen = connectInProcess();
    const pipe = await StableDiffusionUpscalePipeline.fromPretrained(DIR, { backend: nodeBackend });
    try {
      reference = (await pipe.generate({ ...settings, image: lowRes() })).images[0]!;
      pipe.enableVaeTiling({ tileSampleSize: 32, tileOverlapFactor: 0.25 });
      tiledReference = (await pipe.generate({ ...settings, image: lowRes() })).images[0]!;
    } finally {
      await pipe.dispose();
    }
  });
  afterAll(async () => {
    await gen.dispose();
    await server.close();
  });

  it('loads the upscaler once, reports steps, returns the 4× image of onnxruntime-node (≤ 2/255) with parameters', async () => {
    const steps: WorkerStepInfo[] = [];
    const files = new Set<string>();
    const model = `${server.origin}/models/sd-x4-upscaler/`;
    const out = await gen.upscale({
      ...settings,
      model,
      image: lowRes(),
      loadOptions: { providers: ['wasm'], numThreads: 1 },
      onStep: (s) => steps.push(s),
      onProgress: (p) => files.add(p.file),
    });
    const image = out.images[0]!;
    expect([image.width, image.height]).toEqual([64, 64]);
    expect(maxDifference(image.data, reference.data)).toBeLessThanOrEqual(2);
    expect(steps.map((s) => s.step)).toEqual([0, 1, 2]);
    expect(files.has('unet/model.onnx')).toBe(true);
    expect(out.parameters.mode).toBe('upscale');
    expect([out.parameters.width, out.parameters.height]).toEqual([64, 64]);
    expect(out.parameters.images[0]?.seed).toBe(7);

    // A second call with the same model and load options downloads nothing.
    const gets = server.requests.filter((r) => r.method === 'GET').length;
    const again = await gen.upscale({
      ...settings,
      model,
      image: lowRes(),
      loadOptions: { providers: ['wasm'], numThreads: 1 },
    });
    expect(server.requests.filter((r) => r.method === 'GET').length).toBe(gets);
    expect(maxDifference(again.images[0]!.data, image.data)).toBe(0);

    // vaeTiling per call: the tiled decode of onnxruntime-node (32 px tiles over a 64 px image).
    const tiled = await gen.upscale({
      ...settings,
      model,
      image: lowRes(),
      loadOptions: { providers: ['wasm'], numThreads: 1 },
      vaeTiling: { tileSampleSize: 32, tileOverlapFactor: 0.25 },
    });
    expect(maxDifference(tiled.images[0]!.data, tiledReference.data)).toBeLessThanOrEqual(2);
    expect(maxDifference(tiled.images[0]!.data, image.data)).toBeGreaterThan(0);
  }, 120_000);

  it('cancel aborts a running upscale with AbortError; the next one runs', async () => {
    const model = `${server.origin}/models/sd-x4-upscaler/`;
    const loadOptions = { providers: ['wasm' as const], numThreads: 1 };
    const running = gen.upscale({
      ...settings,
      numInferenceSteps: 200,
      model,
      image: lowRes(),
      loadOptions,
      onStep: (s) => {
        if (s.step === 1) gen.cancel();
      },
    });
    await expect(running).rejects.toMatchObject({ name: 'AbortError' });
    const out = await gen.upscale({ ...settings, model, image: lowRes(), loadOptions });
    expect(maxDifference(out.images[0]!.data, reference.data)).toBeLessThanOrEqual(2);
  }, 120_000);
});
