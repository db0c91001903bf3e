import { fileURLToPath } from 'node:url';
import { nodeBackend } from '@latentkit/backend-node';
import { type LayoutObject, type RgbaImage, StableDiffusionGLIGENPipeline } from '@latentkit/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectInProcess } from '../test-support/in-process-worker.js';
import { type StaticServer, startStaticServer } from '../test-support/static-server.js';
import type { GenerationWorker } from './generation-worker-client.js';
import type { WorkerStepInfo } from './messages.js';

// The worker's `layout` request (generateLayout) on the tiny grounded fixture
// (tests/fixtures/models/sd-gligen-tiny: random weights, GLIGEN ONNX convention, 64×64 images), served over
// HTTP and run on onnxruntime-web's WebAssembly build in Node, against onnxruntime-node running
// StableDiffusionGLIGENPipeline on the same layout and settings.

const models = fileURLToPath(new URL('../../../../tests/fixtures/models/', import.meta.url));
const DIR = `${models}sd-gligen-tiny`;
const layout: LayoutObject[] = [
  { phrase: 'a red circle', box: [0.05, 0.1, 0.45, 0.5] },
  { phrase: 'a blue square', box: [0.55, 0.5, 0.95, 0.9] },
];
const settings = {
  prompt: 'on a white background',
  negativePrompt: 'blurry',
  numInferenceSteps: 4,
  guidanceScale: 5,
  gligenScheduledSamplingBeta: 0.5,
  seed: 11,
};
const wasm = { providers: ['wasm' as const], numThreads: 1 };

function maxDifference(a: Uint8ClampedArray, b: Uint8ClampedArray): number {
  expect(a.length).toBe(b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}

/** onnxruntime-node's StableDiffusionGLIGENPipeline on `objects` with the test's settings. */
async function nodeImage(objects: LayoutObject[]): Promise<RgbaImage> {
  const pipe = await StableDiffusionGLIGENPipeline.fromPretrained(DIR, { backend: nodeBackend });
  try {
    return (await pipe.generate({ ...settings, layout: objects })).images[0]!;
  } finally {
    await pipe.dispose();
  }
}

describe('the generation worker: generateLayout (grounded model, StableDiffusionGLIGENPipeline)', () => {
  let server: StaticServer;
  let gen: GenerationWorker;
  let model: string;
  let reference: RgbaImage;
  beforeAll(async () => {
    server = await startStaticServer({ '/models/': models });
    gen = connectInProcess();
    model = `${server.origin}/models/sd-gligen-tiny/`;
    reference = await nodeImage(layout);
  });
  afterAll(async () => {
    await gen.dispose();
    await server.close();
  });

  it("returns onnxruntime-node's image for the layout (≤ 2/255), its steps, and the layout it ran in parameters", async () => {
    const steps: WorkerStepInfo[] = [];
    const files = new Set<string>();
    const out = await gen.generateLayout({
      ...settings,
      model,
      layout,
      loadOptions: wasm,
      onStep: (s) => steps.push(s),
      onProgress: (p) => files.add(p.file),
    });
    const image = out.images[0]!;
    expect([image.width, image.height]).toEqual([64, 64]);
    expect(maxDifference(image.data, reference.data)).toBeLessThanOrEqual(2);
    // PNDM (PLMS) runs 4 inference steps as 5 loop steps.
    expect(steps.map((s) => s.step)).toEqual([0, 1, 2, 3, 4]);
    expect(files.has('unet/model.onnx')).toBe(true);
    expect(out.parameters.layout).toEqual({
      phrases: layout.map((o) => o.phrase),
      boxes: layout.map((o) => o.box),
      scheduledSamplingBeta: 0.5,
    });
    expect(out.parameters.images[0]?.seed).toBe(11);
    expect([out.parameters.width, out.parameters.height]).toEqual([64, 64]);

    // The boxes reach the model: moving one box changes the image (as onnxruntime-node's does). The
    // fixture's random-weight grounding moves 8-bit pixels by at most 1/255 (measured: max 1, mean 0.007),
    // inside the wasm/node tolerance, so the change is checked worker against worker (deterministic), and
    // `parameters.layout` above is the pipeline's own record of the boxes it ran.
    const moved: LayoutObject[] = [layout[0]!, { ...layout[1]!, box: [0.05, 0.55, 0.45, 0.95] }];
    const gets = server.requests.filter((r) => r.method === 'GET').length;
    const other = await gen.generateLayout({ ...settings, model, layout: moved, loadOptions: wasm });
    // The grounded model stays loaded: the second call downloads nothing.
    expect(server.requests.filter((r) => r.method === 'GET').length).toBe(gets);
    expect(maxDifference(other.images[0]!.data, image.data)).toBeGreaterThan(0);
    expect(maxDifference(other.images[0]!.data, (await nodeImage(moved)).data)).toBeLessThanOrEqual(2);
  }, 120_000);

  it('step previews, and a text-to-image model loaded beside it keeps working', async () => {
    await gen.load(`${server.origin}/models/sd1/`, wasm);
    const steps: WorkerStepInfo[] = [];
    const out = await gen.generateLayout({
      ...settings,
      model,
      layout,
      loadOptions: wasm,
      preview: { every: 2 },
      onStep: (s) => steps.push(s),
    });
    expect(steps.map((s) => s.previews?.length ?? 0)).toEqual([0, 1, 0, 1, 0]);
    expect(steps[1]?.previews?.[0]?.width).toBe(64);
    expect(out.previewMs).toBeGreaterThan(0);
    expect(maxDifference(out.images[0]!.data, reference.data)).toBeLessThanOrEqual(2);
    const plain = await gen.generate({ prompt: 'a photo of a cat', seed: 3, numInferenceSteps: 2 });
    expect(plain.parameters.layout).toBeUndefined();
    expect(plain.images[0]?.width).toBe(64);
  }, 120_000);

  it('cancel aborts a running layout generation with AbortError; the next one runs', async () => {
    const running = gen.generateLayout({
      ...settings,
      numInferenceSteps: 200,
      model,
      layout,
      loadOptions: wasm,
      onStep: (s) => {
        if (s.step === 1) gen.cancel();
      },
    });
    await expect(running).rejects.toMatchObject({ name: 'AbortError' });
    const out = await gen.generateLayout({ ...settings, model, layout, loadOptions: wasm });
    expect(maxDifference(out.images[0]!.data, reference.data)).toBeLessThanOrEqual(2);
  }, 120_000);
});
