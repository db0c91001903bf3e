/**
 * staticShapes on onnxruntime-web (its WebAssembly build, in Node): the UNet and VAE decoder get
 * `freeDimensionOverrides` mapped from the export's own dimension names; at the static size and batch the
 * pixels equal the dynamic-shape ones (bit for bit at graphOptimizationLevel 'basic', within 1e-5 at 'all');
 * onnxruntime-web itself then refuses another shape, and generate() at another size is a ShapeMismatchError.
 */
import { fileURLToPath } from 'node:url';
import { ShapeMismatchError, StableDiffusionPipeline, type Tensor } from '@latentkit/core';
import { StaticShapeSession } from '@latentkit/onnx';
import * as ort from 'onnxruntime-web';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpModelSource } from './http-model-source.js';
import { type StaticServer, startStaticServer } from './test-support/static-server.js';
import { type WebBackendOptions, webBackend } from './web-backend.js';
import { WebSessionFactory } from './web-session-factory.js';

const models = fileURLToPath(new URL('../../../tests/fixtures/models/', import.meta.url));
const generate = {
  prompt: 'a cat',
  negativePrompt: 'a dog',
  seed: 4,
  numInferenceSteps: 3,
  width: 64,
  height: 32,
  outputType: 'tensor' as const,
};

describe('staticShapes on onnxruntime-web (wasm, in Node)', () => {
  let server: StaticServer;
  beforeAll(async () => {
    server = await startStaticServer({ '/models/': models });
  });
  afterAll(() => server.close());

  async function pixels(options: Partial<WebBackendOptions>): Promise<Float32Array> {
    const pipe = await StableDiffusionPipeline.fromPretrained(`${server.origin}/models/sd1/`, {
      backend: webBackend,
      providers: ['wasm'],
      numThreads: 1,
      ...options,
    });
    try {
      return ((await pipe.generate(generate)).images as Tensor).data;
    } finally {
      await pipe.dispose();
    }
  }

  it('sd1: the dynamic-shape pixels (bit for bit at basic, ≤ 1e-5 at all)', async () => {
    const staticShapes = { width: 64, height: 32 };
    const basic = { graphOptimizationLevel: 'basic' } as const;
    const a = await pixels(basic);
    const b = await pixels({ ...basic, staticShapes });
    expect(Buffer.from(b.buffer).equals(Buffer.from(a.buffer))).toBe(true);
    const c = await pixels({});
    const d = await pixels({ staticShapes });
    // graphCapture only applies where the UNet runs on WebGPU: on WebAssembly it changes nothing
    const e = await pixels({ staticShapes, graphCapture: true });
    expect(Buffer.from(e.buffer).equals(Buffer.from(d.buffer))).toBe(true);
    let max = 0;
    for (let i = 0; i < c.length; i++) max = Math.max(max, Math.abs(c[i]! - d[i]!));
    expect(max).toBeLessThanOrEqual(1e-5);
  });

  it('the override is applied by onnxruntime-web; generate() at another size → ShapeMismatchError', async () => {
    const factory = new WebSessionFactory({ providers: ['wasm'], staticShapes: { width: 64, height: 64 } });
    const source = new HttpModelSource(`${server.origin}/models/sd1/`);
    const unet = await factory.create({ component: 'unet', modelPath: 'unet/model.onnx', source });
    try {
      expect(unet).toBeInstanceOf(StaticShapeSession);
      const feeds = (h: number) => ({
        sample: new ort.Tensor('float32', new Float32Array(2 * 4 * h * h), [2, 4, h, h]),
        timestep: new ort.Tensor('float32', new Float32Array([1, 1]), [2]),
        encoder_hidden_states: new ort.Tensor('float32', new Float32Array(2 * 77 * 32), [2, 77, 32]),
      });
      const inner = (unet as StaticShapeSession).session;
      await expect(inner.run(feeds(8))).resolves.toBeDefined();
      await expect(inner.run(feeds(4))).rejects.toThrow(/invalid dimensions|dimension/i);
    } finally {
      await factory.releaseAll();
    }
    const pipe = await StableDiffusionPipeline.fromPretrained(`${server.origin}/models/sd1/`, {
      backend: webBackend,
      providers: ['wasm'],
      staticShapes: { width: 64, height: 64 },
    });
    try {
      const run = pipe.generate({ ...generate, width: 32, height: 32 });
      await expect(run).rejects.toBeInstanceOf(ShapeMismatchError);
      await expect(run).rejects.toThrow(/unet input sample = \[2, 4, 4, 4\].*expected \[2, 4, 8, 8\]/);
    } finally {
      await pipe.dispose();
    }
  });
});
