import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  BackendUnavailableError,
  InvalidArgumentError,
  ModelInvalidError,
  ModelNotFoundError,
} from '@latentkit/core';
import type { ModelSource } from '@latentkit/onnx';
import { Tensor as OrtTensor } from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileModelSource } from './file-model-source.js';
import { NodeSessionFactory } from './node-session-factory.js';
import { listExecutionProviders } from './provider-availability.js';
import { makeAddModel } from './test-support/tiny-onnx-model.js';

let dir: string;
let source: FileModelSource;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'latentkit-sessions-'));
  for (const [component, external] of [
    ['text_encoder', undefined],
    ['unet', 'model.onnx_data'],
    ['vae_decoder', 'weights.pb'],
  ] as const) {
    await mkdir(join(dir, component));
    const files = makeAddModel(4, external);
    await writeFile(join(dir, component, 'model.onnx'), files.model);
    if (external) await writeFile(join(dir, component, external), files.external!);
  }
  await mkdir(join(dir, 'broken'));
  await writeFile(join(dir, 'broken', 'model.onnx'), 'not a model');
  source = new FileModelSource(dir);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function runAdd(factory: NodeSessionFactory, component: string): Promise<number[]> {
  const session = await factory.create({ component, modelPath: `${component}/model.onnx`, source });
  const x = factory.createTensor({ type: 'float32', data: new Float32Array([10, 20, 30, 40]) }, [4]);
  const { y } = await session.run({ x });
  return Array.from(y!.data as Float32Array);
}

describe('NodeSessionFactory', () => {
  it('loads inline weights and external weight files (model.onnx_data, weights.pb) by path', async () => {
    const factory = new NodeSessionFactory();
    // w = [1, 2, 3, 4]: a wrong or missing external file would give other numbers or fail.
    expect(await runAdd(factory, 'text_encoder')).toEqual([11, 22, 33, 44]);
    expect(await runAdd(factory, 'unet')).toEqual([11, 22, 33, 44]);
    expect(await runAdd(factory, 'vae_decoder')).toEqual([11, 22, 33, 44]);
    expect(factory.assignment).toEqual({ text_encoder: 'cpu', unet: 'cpu', vae_decoder: 'cpu' });
    await factory.releaseAll();
    await factory.releaseAll(); // twice is fine
  });

  it('release(session) releases one session and forgets it; releaseAll then releases only the others', async () => {
    const factory = new NodeSessionFactory();
    const request = { component: 'unet', modelPath: 'unet/model.onnx', source };
    const first = await factory.create(request);
    const second = await factory.create(request);
    const x = () => factory.createTensor({ type: 'float32', data: new Float32Array([1, 1, 1, 1]) }, [4]);
    await factory.release(first);
    await expect(first.run({ x: x() })).rejects.toThrow(); // released
    expect(Array.from((await second.run({ x: x() })).y!.data as Float32Array)).toEqual([2, 3, 4, 5]);
    const released: unknown[] = [];
    for (const session of [first, second]) {
      const release = session.release.bind(session);
      session.release = () => {
        released.push(session);
        return release();
      };
    }
    await factory.releaseAll();
    expect(released).toEqual([second]); // the forgotten session is not released twice
  });

  it('loads from bytes for sources that are not folders', async () => {
    const inMemory: ModelSource = {
      location: 'memory:',
      exists: async () => true,
      readText: async () => '',
      readBytes: async () => makeAddModel(4).model,
    };
    const factory = new NodeSessionFactory();
    const session = await factory.create({
      component: 'unet',
      modelPath: 'unet/model.onnx',
      source: inMemory,
    });
    expect(session.inputNames).toEqual(['x']);
    await factory.releaseAll();
  });

  it.runIf(!listExecutionProviders().find((p) => p.name === 'cuda')?.bundled)(
    'falls back from cuda (not installed here) to cpu with a warning naming provider, component and cause',
    async () => {
      const warnings: string[] = [];
      const factory = new NodeSessionFactory({
        providers: ['cuda', 'cpu'],
        componentProviders: { vae_decoder: ['cpu'] },
        logLevel: 'fatal',
        onWarning: (m) => warnings.push(m),
      });
      expect(await runAdd(factory, 'unet')).toEqual([11, 22, 33, 44]);
      expect(await runAdd(factory, 'vae_decoder')).toEqual([11, 22, 33, 44]);
      expect(warnings).toHaveLength(1); // vae_decoder asked for cpu only
      expect(warnings[0]).toMatch(
        /^latentkit: execution provider "cuda" cannot run unet \(.*[Ff]ailed to load shared library.*\); falling back to "cpu"\.$/,
      );
      expect(factory.assignment).toEqual({ unet: 'cpu', vae_decoder: 'cpu' });
      await factory.releaseAll();
    },
  );

  it('fails with BackendUnavailableError when no listed provider works', async () => {
    const factory = new NodeSessionFactory({ providers: ['dml', 'coreml'], onWarning: () => {} });
    const error = await factory
      .create({ component: 'unet', modelPath: 'unet/model.onnx', source })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BackendUnavailableError);
    expect((error as Error).message).toMatch(
      /^No execution provider could run unet .*dml: .*coreml: .*add "cpu"/,
    );
  });

  it('reports an unreadable model as ModelInvalidError and a missing one as ModelNotFoundError', async () => {
    const factory = new NodeSessionFactory();
    await expect(
      factory.create({ component: 'broken', modelPath: 'broken/model.onnx', source }),
    ).rejects.toThrow(ModelInvalidError);
    await expect(
      factory.create({ component: 'unet', modelPath: 'unet/missing.onnx', source }),
    ).rejects.toThrow(ModelNotFoundError);
  });

  it('checks its options', () => {
    expect(() => new NodeSessionFactory({ providers: ['gpu' as 'cpu'] })).toThrow(InvalidArgumentError);
    expect(() => new NodeSessionFactory({ providers: ['gpu' as 'cpu'] })).toThrow(
      'providers = "gpu" is invalid: expected one of cuda, dml, coreml, webgpu, cpu.',
    );
    expect(() => new NodeSessionFactory({ componentProviders: { unet: [] } })).toThrow(
      /componentProviders\.unet/,
    );
    expect(() => new NodeSessionFactory({ intraOpNumThreads: 1.5 })).toThrow(/intraOpNumThreads/);
    expect(() => new NodeSessionFactory({ graphOptimizationLevel: 'max' as 'all' })).toThrow(
      /graphOptimizationLevel/,
    );
  });

  it('makes onnxruntime-node tensors of each feed type', () => {
    const factory = new NodeSessionFactory();
    const f16 = factory.createTensor({ type: 'float16', data: new Uint16Array([0x3c00]) }, [1]);
    expect(f16).toBeInstanceOf(OrtTensor);
    expect(f16.type).toBe('float16');
    expect(factory.createTensor({ type: 'int64', data: new BigInt64Array([981n]) }, []).dims).toEqual([]);
    expect(factory.createTensor({ type: 'int32', data: new Int32Array([1, 2]) }, [1, 2]).type).toBe('int32');
  });
});
