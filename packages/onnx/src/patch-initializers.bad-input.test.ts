import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FileModelSource, NodeSessionFactory } from '@latentkit/backend-node';
import {
  InferenceFailedError,
  InvalidArgumentError,
  type LatentkitError,
  ModelInvalidError,
  ModelMismatchError,
  ShapeMismatchError,
  Tensor,
} from '@latentkit/core';
import type { InferenceSession } from 'onnxruntime-common';
import { describe, expect, it } from 'vitest';
import type { InitializerOverrides } from './initializer-overrides.js';
import { patchInitializers } from './patch-initializers.js';
import type { SessionRequest } from './session-factory.js';
import { UnetDenoiser } from './unet-denoiser.js';

// Bad overrides fail as typed errors naming the weight, what was expected and the fix — before
// onnxruntime sees the model, so never as a crash inside it or as a NaN image.
const fixtures = fileURLToPath(new URL('../../../tests/fixtures/', import.meta.url));
const sd1 = new FileModelSource(join(fixtures, 'models', 'sd1'));
const sd1External = new FileModelSource(join(fixtures, 'models', 'sd1-external'));
const fp16 = new FileModelSource(join(fixtures, 'models', 'sd1-fp16'));
const storage = new FileModelSource(join(fixtures, 'initializer-storage'));

async function patch(source: FileModelSource, path: string, overrides: unknown) {
  return patchInitializers(await source.readBytes(path), path, overrides as InitializerOverrides);
}

const unetPatch = (name: string, dims: unknown, data: unknown) =>
  patch(sd1, 'unet/model.onnx', new Map([[name, { dims, data }]]));

const W = 'conv_out.weight'; // [4, 8, 3, 3] = 288 values
const full = (n: number, v = 0.5) => new Float32Array(n).fill(v);

const CASES: {
  what: string;
  run: () => Promise<unknown>;
  error: new (...args: never[]) => LatentkitError;
  message: RegExp;
}[] = [
  {
    what: 'overrides that are a plain object, not a Map',
    run: () => patch(sd1, 'unet/model.onnx', { [W]: { dims: [4, 8, 3, 3], data: full(288) } }),
    error: InvalidArgumentError,
    message: /overrides .* expected a Map from initializer name/,
  },
  {
    what: 'a name that is no initializer of the model',
    run: () => unetPatch('conv_out.weights', [4, 8, 3, 3], full(288)),
    error: InvalidArgumentError,
    message: /"conv_out\.weights" .*unet\/model\.onnx \(it has no initializer by that name\).*readOnnxGraph/,
  },
  {
    what: 'the name of an int64 initializer',
    run: () => patch(storage, 'float-data.onnx', new Map([['idx', { dims: [1], data: full(1) }]])),
    error: InvalidArgumentError,
    message: /"idx" .*float32 or float16 initializer .*of type int64/,
  },
  {
    what: 'data given as a plain array',
    run: () => unetPatch(W, [4, 8, 3, 3], Array.from(full(288))),
    error: InvalidArgumentError,
    message: /"conv_out\.weight" data .* expected a Float32Array/,
  },
  {
    what: 'dims with a 0',
    run: () => unetPatch(W, [0, 8, 3, 3], full(0)),
    error: InvalidArgumentError,
    message: /dims = \[0, 8, 3, 3\] .*whole numbers ≥ 1/,
  },
  {
    what: 'dims that are not whole numbers',
    run: () => unetPatch(W, [4, 8, 3, 3.5], full(336)),
    error: InvalidArgumentError,
    message: /dims = \[4, 8, 3, 3\.5\]/,
  },
  {
    what: 'a rank change (the weight flattened)',
    run: () => unetPatch(W, [4, 72], full(288)),
    error: ShapeMismatchError,
    message: /dims = \[4, 72\] .*\[n, 8, 3, 3\].*only the first may change/,
  },
  {
    what: 'a trailing dim changed',
    run: () => unetPatch(W, [4, 8, 3, 4], full(384)),
    error: ShapeMismatchError,
    message: /dims = \[4, 8, 3, 4\] .*\[4,8,3,3\]/,
  },
  {
    what: 'data shorter than the product of the dims',
    run: () => unetPatch(W, [4, 8, 3, 3], full(287)),
    error: ShapeMismatchError,
    message: /data length = 287 .*288, the product of its dims/,
  },
  {
    what: 'a NaN value',
    run: () => unetPatch(W, [4, 8, 3, 3], full(288).fill(Number.NaN, 7, 8)),
    error: InvalidArgumentError,
    message: /"conv_out\.weight" data\[7\] = NaN .*a finite number/,
  },
  {
    what: 'an infinite value',
    run: () => unetPatch('conv_out.bias', [4], Float32Array.from([0, 0, Number.NEGATIVE_INFINITY, 0])),
    error: InvalidArgumentError,
    message: /data\[2\] = -Infinity/,
  },
  {
    what: 'a value beyond float16 range for a float16 weight',
    run: () =>
      patch(
        fp16,
        'unet/model.onnx',
        new Map([['conv_out.bias_fp16', { dims: [4], data: Float32Array.from([0, 1e5, 0, 0]) }]]),
      ),
    error: InvalidArgumentError,
    message: /data\[1\] = 100000 .*float16 range \(\|x\| ≤ 65504\)/,
  },
  {
    what: 'data given as a Float64Array',
    run: () => unetPatch('conv_out.bias', [4], new Float64Array(4)),
    error: InvalidArgumentError,
    message: /"conv_out\.bias" data = \[object Float64Array\] .* expected a Float32Array/,
  },
  {
    what: 'an entry without a value',
    run: () => patch(sd1External, 'unet/model.onnx', new Map([[W, undefined]])),
    error: InvalidArgumentError,
    message: /"conv_out\.weight" data = undefined .* expected a Float32Array/,
  },
  {
    what: 'bytes that are not an ONNX model',
    run: async () =>
      patchInitializers(
        new TextEncoder().encode('<html>404</html>'),
        'unet/model.onnx',
        new Map([[W, { dims: [1], data: full(1) }]]),
      ),
    error: ModelInvalidError,
    message: /unet\/model\.onnx could not be read as an ONNX model/,
  },
];

describe('patchInitializers: bad overrides are typed errors', () => {
  it.each(CASES)('$what', async ({ run, error, message }) => {
    const err = await run().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(error);
    expect((err as Error).message).toMatch(message);
  });
});

const input = {
  sample: new Tensor(
    Float32Array.from({ length: 256 }, (_, i) => Math.sin(i)),
    [1, 4, 8, 8],
  ),
  timestep: 500,
  conditioning: {
    encoderHiddenStates: new Tensor(
      Float32Array.from({ length: 77 * 32 }, (_, i) => Math.cos(i)),
      [1, 77, 32],
    ),
  },
};

async function unetOn(factory: NodeSessionFactory) {
  const request: SessionRequest = { component: 'unet', modelPath: 'unet/model.onnx', source: sd1 };
  return new UnetDenoiser(await factory.create(request), factory, { request });
}

/** A factory whose session for overridden weights is another model's (the VAE decoder): a changed interface. */
class OtherModelFactory extends NodeSessionFactory {
  override create(request: SessionRequest): Promise<InferenceSession> {
    if (!request.overrides) return super.create(request);
    return super.create({ component: 'unet', modelPath: 'vae_decoder/model.onnx', source: request.source });
  }
}

describe('UnetDenoiser.setInitializerOverrides: bad calls', () => {
  it('a bad override rejects with the typed error and keeps the current session (same outputs)', async () => {
    const unet = await unetOn(new NodeSessionFactory());
    const before = await unet.predict(input);
    const bad = new Map([[W, { dims: [4, 8, 3, 3], data: full(288).fill(Number.NaN) }]]);
    await expect(unet.setInitializerOverrides(bad)).rejects.toThrow(InvalidArgumentError);
    expect(unet.initializerOverrides).toBeUndefined();
    expect(Array.from((await unet.predict(input)).data)).toEqual(Array.from(before.data));
    await unet.release();
  });

  it('after release it rejects with InferenceFailedError naming the component and the fix', async () => {
    const unet = await unetOn(new NodeSessionFactory());
    await unet.release();
    await expect(unet.setInitializerOverrides(undefined)).rejects.toThrow(
      /unet session \(unet\/model\.onnx\) was released .*Fix: load the pipeline again/,
    );
    await expect(unet.setInitializerOverrides(undefined)).rejects.toThrow(InferenceFailedError);
  });

  it('a new session with other inputs or outputs is refused with ModelMismatchError, the current one kept', async () => {
    const unet = await unetOn(new OtherModelFactory());
    const before = await unet.predict(input);
    const same = new Map([[W, { dims: [4, 8, 3, 3], data: full(288) }]]);
    await expect(unet.setInitializerOverrides(same)).rejects.toThrow(ModelMismatchError);
    await expect(unet.setInitializerOverrides(same)).rejects.toThrow(/inputs \{ latent_sample/);
    expect(Array.from((await unet.predict(input)).data)).toEqual(Array.from(before.data));
    await unet.release();
  });
});
