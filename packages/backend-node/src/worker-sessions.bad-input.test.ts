/**
 * Bad input for `sessionThread` and what cannot cross to the session worker: each refused with a typed
 * error that names the value, what was expected and the fix — before any session is made.
 */
import { fileURLToPath } from 'node:url';
import { InferenceFailedError, InvalidArgumentError, StableDiffusionPipeline } from '@latentkit/core';
import { shapesModelPath } from '@latentkit/model-shapes';
import { Tensor as OrtTensor } from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { FileModelSource } from './file-model-source.js';
import { nodeBackend } from './node-backend.js';
import { NodeSessionFactory } from './node-session-factory.js';

const sd1 = fileURLToPath(new URL('../../../tests/fixtures/models/sd1', import.meta.url));

describe('sessionThread: bad values', () => {
  const values: unknown[] = ['thread', 'Worker', 'workers', '', true, 1, null];
  for (const value of values) {
    it(`sessionThread: ${JSON.stringify(value)} → InvalidArgumentError naming it`, async () => {
      const error = await StableDiffusionPipeline.fromPretrained(shapesModelPath, {
        backend: nodeBackend,
        sessionThread: value,
      } as never).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InvalidArgumentError);
      expect((error as Error).message).toContain(`sessionThread = ${value === '' ? '""' : ''}`);
      expect((error as Error).message).toContain('"main"');
      expect((error as Error).message).toContain('"worker"');
      expect((error as Error).message).toContain('Fix:');
    });
  }

  it('new NodeSessionFactory({ sessionThread: "gpu" }) → InvalidArgumentError', () => {
    expect(() => new NodeSessionFactory({ sessionThread: 'gpu' as never })).toThrow(InvalidArgumentError);
  });
});

describe("sessionThread: 'worker': what cannot cross the thread", () => {
  it('sessionOptions holding a function → InvalidArgumentError at construction (sessionOptions named)', () => {
    const error = (() => {
      try {
        return new NodeSessionFactory({
          sessionThread: 'worker',
          sessionOptions: { extra: { onLog: () => undefined } } as never,
        });
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect((error as Error).message).toContain('sessionOptions');
    expect((error as Error).message).toContain('sessionThread: "main"');
  });

  it('sessionOptions holding a Symbol → InvalidArgumentError', () => {
    expect(
      () =>
        new NodeSessionFactory({
          sessionThread: 'worker',
          sessionOptions: { extra: { tag: Symbol('x') } } as never,
        }),
    ).toThrow(InvalidArgumentError);
  });

  it('preallocated outputs (run(feeds, { sample: tensor }, options)) → InvalidArgumentError naming fetches', async () => {
    const factory = new NodeSessionFactory({ sessionThread: 'worker' });
    try {
      const session = await factory.create({
        component: 'vae_decoder',
        modelPath: 'vae_decoder/model.onnx',
        source: new FileModelSource(sd1),
      });
      const feed = factory.createTensor({ type: 'float32', data: new Float32Array(64) }, [1, 4, 4, 4]);
      const out = new OrtTensor('float32', new Float32Array(3 * 32 * 32), [1, 3, 32, 32]);
      const error = await session.run({ latent_sample: feed }, { sample: out }, {}).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InvalidArgumentError);
      expect((error as Error).message).toContain('fetches');
    } finally {
      await factory.releaseAll();
    }
  });

  it('a session used after releaseAll (worker closed) → InferenceFailedError, no new worker started', async () => {
    const factory = new NodeSessionFactory({ sessionThread: 'worker' });
    const session = await factory.create({
      component: 'vae_decoder',
      modelPath: 'vae_decoder/model.onnx',
      source: new FileModelSource(sd1),
    });
    await factory.releaseAll();
    const feed = factory.createTensor({ type: 'float32', data: new Float32Array(64) }, [1, 4, 4, 4]);
    const error = await session.run({ latent_sample: feed }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InferenceFailedError);
    expect((error as Error).message).toContain('load the pipeline again');
    expect(factory.workerThreadId).toBeUndefined();
  });
});
