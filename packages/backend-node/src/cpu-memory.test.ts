/**
 * cpuMemory (docs/performance.md, "Memory"): the option reaches onnxruntime, sessions are created one at a
 * time, and every mode gives the same numbers bit for bit (no arena, the UNet one batch row at a time) on
 * the shipped model and the SD 1.x / SDXL fixtures, on the calling thread and in the worker. Memory itself
 * is measured by bench/memory.bench.ts, never here.
 */
import { fileURLToPath } from 'node:url';
import {
  type Tensor as CoreTensor,
  StableDiffusionPipeline,
  StableDiffusionXLPipeline,
} from '@latentkit/core';
import { shapesModelPath } from '@latentkit/model-shapes';
import { InferenceSession } from 'onnxruntime-node';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type CpuMemoryMode, cpuMemorySessionOptions, RowByRowSession, SerialQueue } from './cpu-memory.js';
import { FileModelSource } from './file-model-source.js';
import { type NodeBackendOptions, nodeBackend } from './node-backend.js';
import { NodeSessionFactory } from './node-session-factory.js';

const fixture = (name: string) =>
  fileURLToPath(new URL(`../../../tests/fixtures/models/${name}`, import.meta.url));

afterEach(() => {
  vi.restoreAllMocks();
});

async function images(
  model: string,
  options: NodeBackendOptions,
  run: (pipe: StableDiffusionPipeline) => Promise<{ images: unknown }>,
): Promise<Float32Array> {
  const pipe = await StableDiffusionPipeline.fromPretrained(model, { ...options, backend: nodeBackend });
  try {
    return ((await run(pipe)).images as CoreTensor).data;
  } finally {
    await pipe.dispose();
  }
}

const sameBits = (a: Float32Array, b: Float32Array) =>
  a.length === b.length &&
  Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

describe('cpuMemory: session options', () => {
  it('no CPU arena with "balanced" and "low"; onnxruntime\'s defaults otherwise; other providers untouched', () => {
    expect(cpuMemorySessionOptions(undefined, 'cpu')).toEqual({});
    expect(cpuMemorySessionOptions('balanced', 'cpu')).toEqual({ enableCpuMemArena: false });
    expect(cpuMemorySessionOptions('low', 'cpu')).toEqual({ enableCpuMemArena: false });
    expect(cpuMemorySessionOptions('arena', 'cpu')).toEqual({});
    expect(cpuMemorySessionOptions('low', 'cuda')).toEqual({});
    expect(cpuMemorySessionOptions(undefined, 'webgpu')).toEqual({});
  });

  it('reaches InferenceSession.create; an explicit sessionOptions.enableCpuMemArena wins', async () => {
    const spy = vi.spyOn(InferenceSession, 'create');
    const source = new FileModelSource(fixture('sd1'));
    const request = { component: 'vae_decoder', modelPath: 'vae_decoder/model.onnx', source };
    const arenaOf = async (options: ConstructorParameters<typeof NodeSessionFactory>[0]) => {
      spy.mockClear();
      const factory = new NodeSessionFactory(options);
      await factory.create(request);
      await factory.releaseAll();
      expect(spy).toHaveBeenCalledTimes(1);
      return (spy.mock.calls[0]![1] as InferenceSession.SessionOptions).enableCpuMemArena;
    };
    expect(await arenaOf({})).toBeUndefined();
    expect(await arenaOf({ cpuMemory: 'balanced' })).toBe(false);
    expect(await arenaOf({ cpuMemory: 'low' })).toBe(false);
    expect(await arenaOf({ cpuMemory: 'arena' })).toBeUndefined();
    expect(await arenaOf({ cpuMemory: 'balanced', sessionOptions: { enableCpuMemArena: true } })).toBe(true);
  });

  it('sessions are created one at a time (all modes but "arena"), in the order asked', async () => {
    const original = InferenceSession.create.bind(InferenceSession);
    let running = 0;
    let most = 0;
    const order: string[] = [];
    vi.spyOn(InferenceSession, 'create').mockImplementation((async (...args: unknown[]) => {
      running++;
      most = Math.max(most, running);
      order.push(String(args[0]));
      await new Promise((r) => setTimeout(r, 20));
      try {
        return await (original as (...a: unknown[]) => Promise<InferenceSession>)(...args);
      } finally {
        running--;
      }
    }) as typeof InferenceSession.create);
    const source = new FileModelSource(fixture('sd1'));
    const components = ['text_encoder', 'unet', 'vae_decoder', 'vae_encoder'];
    for (const [mode, expected] of [
      ['balanced', 1],
      ['low', 1],
      [undefined, components.length],
      ['arena', components.length],
    ] as const) {
      running = 0;
      most = 0;
      order.length = 0;
      const factory = new NodeSessionFactory(mode ? { cpuMemory: mode } : {});
      await Promise.all(
        components.map((component) =>
          factory.create({ component, modelPath: `${component}/model.onnx`, source }),
        ),
      );
      await factory.releaseAll();
      expect(most).toBe(expected);
      const created = order.map((p) => p.split('/').at(-2));
      // one at a time: in the order asked; at once ("arena"), each reaches onnxruntime when its file is read
      if (expected === 1) expect(created).toEqual(components);
      else expect([...created].sort()).toEqual([...components].sort());
    }
  });

  it('a failed creation does not stop the next one in the queue', async () => {
    const queue = new SerialQueue();
    const a = queue.run(() => Promise.reject(new Error('first')));
    const b = queue.run(async () => 2);
    await expect(a).rejects.toThrow('first');
    expect(await b).toBe(2);
  });
});

describe('cpuMemory "low": the UNet one batch row at a time', () => {
  it('only the CPU UNet is wrapped; a batch of 2 becomes two calls of 1 and the output is the same bits', async () => {
    const source = new FileModelSource(fixture('sd1'));
    const request = { component: 'unet', modelPath: 'unet/model.onnx', source };
    const low = new NodeSessionFactory({ cpuMemory: 'low' });
    const plain = new NodeSessionFactory({ cpuMemory: 'arena' });
    const rowByRow = await low.create(request);
    const whole = await plain.create(request);
    expect(rowByRow).toBeInstanceOf(RowByRowSession);
    expect(whole).not.toBeInstanceOf(RowByRowSession);
    expect(
      await low.create({ ...request, component: 'vae_decoder', modelPath: 'vae_decoder/model.onnx' }),
    ).not.toBeInstanceOf(RowByRowSession);
    const inner = (rowByRow as RowByRowSession).session;
    const runs = vi.spyOn(inner, 'run');
    const meta = Object.fromEntries(inner.inputMetadata.map((m) => [m.name, m]));
    const hidden = meta['encoder_hidden_states'] as unknown as { shape: readonly (number | string)[] };
    const width = Number(hidden.shape[2]);
    const feeds = () => ({
      sample: low.createTensor(
        { type: 'float32', data: new Float32Array(2 * 4 * 8 * 8).map((_, i) => Math.sin(i * 0.37)) },
        [2, 4, 8, 8],
      ),
      timestep: low.createTensor({ type: 'float32', data: new Float32Array([500, 500]) }, [2]),
      encoder_hidden_states: low.createTensor(
        { type: 'float32', data: new Float32Array(2 * 77 * width).map((_, i) => Math.cos(i * 0.011)) },
        [2, 77, width],
      ),
    });
    const a = await rowByRow.run(feeds());
    const b = await whole.run(feeds());
    expect(runs).toHaveBeenCalledTimes(2);
    for (const call of runs.mock.calls)
      expect((call[0] as unknown as Record<string, { dims: readonly number[] }>)['sample']!.dims).toEqual([
        1, 4, 8, 8,
      ]);
    const name = inner.outputNames[0]!;
    expect(a[name]!.dims).toEqual(b[name]!.dims);
    expect(sameBits(a[name]!.data as Float32Array, b[name]!.data as Float32Array)).toBe(true);
    // a batch of 1 is one call
    runs.mockClear();
    const one = {
      sample: low.createTensor({ type: 'float32', data: new Float32Array(4 * 8 * 8) }, [1, 4, 8, 8]),
      timestep: low.createTensor({ type: 'float32', data: new Float32Array([1]) }, [1]),
      encoder_hidden_states: low.createTensor({ type: 'float32', data: new Float32Array(77 * width) }, [
        1,
        77,
        width,
      ]),
    };
    await rowByRow.run(one);
    expect(runs).toHaveBeenCalledTimes(1);
    await low.releaseAll();
    await plain.releaseAll();
  });

  const modes: CpuMemoryMode[] = ['balanced', 'low'];
  for (const thread of ['main', 'worker'] as const) {
    it(`sd1 fixture, shipped model (${thread} thread): every mode = onnxruntime's defaults, bit for bit`, async () => {
      const sd1 = (pipe: StableDiffusionPipeline) =>
        pipe.generate({
          prompt: 'a cat',
          negativePrompt: 'a dog',
          seed: 4,
          numInferenceSteps: 3,
          numImagesPerPrompt: 2,
          width: 32,
          height: 32,
          outputType: 'tensor',
        });
      const reference = await images(fixture('sd1'), { cpuMemory: 'arena', sessionThread: thread }, sd1);
      expect(reference.length).toBe(2 * 3 * 32 * 32);
      for (const mode of modes) {
        expect(
          sameBits(await images(fixture('sd1'), { cpuMemory: mode, sessionThread: thread }, sd1), reference),
        ).toBe(true);
      }
      const shapes = (pipe: StableDiffusionPipeline) =>
        pipe.generate({ prompt: 'a red circle', seed: 2, numInferenceSteps: 3, outputType: 'tensor' });
      const shapesRef = await images(shapesModelPath, { cpuMemory: 'arena', sessionThread: thread }, shapes);
      expect(
        sameBits(
          await images(shapesModelPath, { cpuMemory: 'low', sessionThread: thread }, shapes),
          shapesRef,
        ),
      ).toBe(true);
    });
  }

  it('SDXL tiny fixture (text_embeds and time_ids cut by row too): "low" = "arena", bit for bit', async () => {
    const run = async (cpuMemory: CpuMemoryMode) => {
      const pipe = await StableDiffusionXLPipeline.fromPretrained(fixture('sdxl-tiny'), {
        backend: nodeBackend,
        cpuMemory,
      });
      try {
        const { images } = await pipe.generate({
          prompt: 'a cat',
          negativePrompt: 'blurry',
          seed: 6,
          numInferenceSteps: 2,
          width: 64,
          height: 64,
          outputType: 'tensor',
        });
        return (images as CoreTensor).data;
      } finally {
        await pipe.dispose();
      }
    };
    expect(sameBits(await run('low'), await run('arena'))).toBe(true);
  });
});
