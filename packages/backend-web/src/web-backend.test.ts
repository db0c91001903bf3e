import { fileURLToPath } from 'node:url';
import { nodeBackend } from '@latentkit/backend-node';
import { type RgbaImage, StableDiffusionPipeline } from '@latentkit/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type StaticServer, startStaticServer } from './test-support/static-server.js';
import { webBackend } from './web-backend.js';

// onnxruntime-web runs in Node too (its WebAssembly build), so the whole web backend — fetch, external
// weights, float16 — is checked here against onnxruntime-node on the same model; the browser tests
// (tests/browser) add Chromium, Cache Storage, WebGPU and the worker.
const models = fileURLToPath(new URL('../../../tests/fixtures/models/', import.meta.url));
const settings = {
  prompt: 'a photo of a cat',
  negativePrompt: 'a dog',
  seed: 7,
  numInferenceSteps: 4,
  guidanceScale: 5,
};

function maxDifference(a: RgbaImage, b: RgbaImage): number {
  let max = 0;
  for (let i = 0; i < a.data.length; i++) max = Math.max(max, Math.abs(a.data[i]! - b.data[i]!));
  return max;
}

describe('webBackend on onnxruntime-web (wasm, in Node)', () => {
  let server: StaticServer;
  beforeAll(async () => {
    server = await startStaticServer({ '/models/': models });
  });
  afterAll(() => server.close());

  for (const name of ['sd1', 'sd1-external', 'sd1-fp16']) {
    it(`${name}: the same image as onnxruntime-node (max difference ≤ 2/255)`, async () => {
      const warnings: string[] = [];
      const web = await StableDiffusionPipeline.fromPretrained(`${server.origin}/models/${name}/`, {
        backend: webBackend,
        providers: ['wasm'],
        numThreads: 1,
        onWarning: (m: string) => warnings.push(m),
      });
      const node = await StableDiffusionPipeline.fromPretrained(`${models}${name}`, { backend: nodeBackend });
      const [a] = (await web.generate(settings)).images;
      const [b] = (await node.generate(settings)).images;
      await web.dispose();
      await node.dispose();
      expect(a!.width).toBe(64);
      expect(maxDifference(a!, b!)).toBeLessThanOrEqual(2);
      expect(warnings).toEqual([]);
    });
  }

  it('external weights are fetched from the same folder', async () => {
    server.requests.length = 0;
    const parts = await webBackend.load(`${server.origin}/models/sd1-external`, { providers: ['wasm'] });
    await parts.dispose();
    const got = server.requests.filter((r) => r.method === 'GET').map((r) => r.path);
    expect(got).toContain('/models/sd1-external/unet/model.onnx_data');
    expect(parts.providers).toEqual({
      unet: 'wasm',
      vae_decoder: 'wasm',
      text_encoder: 'wasm',
      vae_encoder: 'wasm',
    });
  });

  it('webgpu is skipped with one warning (not one per component) saying why when there is no navigator.gpu', async () => {
    const warnings: string[] = [];
    const parts = await webBackend.load(`${server.origin}/models/sd1/`, {
      onWarning: (m) => warnings.push(m),
      components: ['unet', 'vae_decoder'],
    });
    await parts.dispose();
    expect(parts.providers).toEqual({ unet: 'wasm', vae_decoder: 'wasm' });
    expect(warnings.length).toBe(1);
    expect(warnings[0]).toMatch(/"webgpu" cannot run .*navigator\.gpu is missing.*falling back to "wasm"/);
  });

  it('a missing model is a ModelNotFoundError naming the file and URL', async () => {
    const error = await webBackend
      .load(`${server.origin}/models/nope/`, { providers: ['wasm'] })
      .catch((e) => e);
    expect(error).toMatchObject({ code: 'MODEL_NOT_FOUND' });
    expect(error.message).toContain('model_index.json');
    expect(error.message).toContain(`${server.origin}/models/nope/`);
  });

  it('an unknown option is refused before any request, with the closest known option', async () => {
    let requests = 0;
    const counting: typeof fetch = (input, init) => {
      requests++;
      return fetch(input, init);
    };
    for (const [options, fix] of [
      [{ provider: ['wasm'] }, 'did you mean providers?'],
      [{ max_file_bytes: 10 }, 'did you mean maxFileBytes?'],
    ] as const) {
      const error = await webBackend
        .load(`${server.origin}/models/sd1/`, { fetch: counting, ...(options as object) })
        .catch((e) => e);
      expect(error).toMatchObject({ code: 'INVALID_ARGUMENT' });
      expect(error.message).toContain(`webBackend options key ${JSON.stringify(Object.keys(options)[0])}`);
      expect(error.message).toContain(fix);
    }
    expect(requests).toBe(0);
  });
});
