import { fileURLToPath } from 'node:url';
import { Tensor as CoreTensor, type Tensor } from '@latentkit/core';
import {
  type InitializerOverrides,
  readOnnxWeights,
  type SessionRequest,
  UnetDenoiser,
} from '@latentkit/onnx';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpModelSource } from './http-model-source.js';
import { type StaticServer, startStaticServer } from './test-support/static-server.js';
import { WebSessionFactory } from './web-session-factory.js';

// onnxruntime-web's WebAssembly build, in Node, on a fixture served over HTTP with external weights
// (unet/model.onnx_data): the web factory creates sessions from patched bytes (readPatchedModel).
const models = fileURLToPath(new URL('../../../tests/fixtures/models/', import.meta.url));

describe('WebSessionFactory honours initializer overrides (onnxruntime-web, wasm)', () => {
  let server: StaticServer;
  beforeAll(async () => {
    server = await startStaticServer({ '/models/': models });
  });
  afterAll(() => server.close());

  it('sd1-external UNet: own values identical, conv_out ×2 exactly 2×, zeroed exactly 0, undefined restores', async () => {
    const source = new HttpModelSource(`${server.origin}/models/sd1-external/`, { cache: false });
    const factory = new WebSessionFactory({ providers: ['wasm'], numThreads: 1 });
    const request: SessionRequest = { component: 'unet', modelPath: 'unet/model.onnx', source };
    const unet = new UnetDenoiser(await factory.create(request), factory, { request });
    const input = {
      sample: new CoreTensor(
        Float32Array.from({ length: 256 }, (_, i) => Math.sin(0.37 * i)),
        [1, 4, 8, 8],
      ),
      timestep: 500,
      conditioning: {
        encoderHiddenStates: new CoreTensor(
          Float32Array.from({ length: 77 * 32 }, (_, i) => Math.cos(0.37 * i) * 0.5),
          [1, 77, 32],
        ),
      },
    };
    const values = (t: Tensor) => Array.from(t.data);
    const before = await unet.predict(input);
    const weights = await readOnnxWeights(source, 'unet/model.onnx', (n) => n.startsWith('conv_out.'));
    expect(weights).toHaveLength(2);
    const with_ = (f: (d: Float32Array) => Float32Array): InitializerOverrides =>
      new Map(weights.map((w) => [w.name, { dims: w.dims, data: f(w.data) }]));

    await unet.setInitializerOverrides(with_((d) => d));
    expect(values(await unet.predict(input))).toEqual(values(before));
    await unet.setInitializerOverrides(with_((d) => d.map((v) => 2 * v)));
    const doubled = await unet.predict(input);
    expect(values(doubled)).not.toEqual(values(before));
    expect(values(doubled)).toEqual(values(before).map((v) => 2 * v));
    await unet.setInitializerOverrides(with_((d) => new Float32Array(d.length)));
    expect((await unet.predict(input)).data.every((v) => v === 0)).toBe(true);
    await unet.setInitializerOverrides(undefined);
    expect(values(await unet.predict(input))).toEqual(values(before));
    await unet.release();
    await factory.releaseAll();
  });
});
