/**
 * sessionThread: 'worker' — onnxruntime-node sessions in a worker thread, on the real shipped model and
 * the test fixtures: the same numbers as on the calling thread, bit for bit; the event loop keeps running
 * during a UNet call; an abort takes effect at the step after the call in flight; dispose ends the
 * worker; errors in the worker arrive as the same typed errors.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type Denoiser,
  InferenceFailedError,
  ModelInvalidError,
  StableDiffusionPipeline,
  StableDiffusionXLPipeline,
  Tensor,
} from '@latentkit/core';
import { shapesAdaptersPath, shapesModelPath } from '@latentkit/model-shapes';
import type { ModelSource } from '@latentkit/onnx';
import { loadOnnxPipeline } from '@latentkit/onnx';
import { describe, expect, it } from 'vitest';
import { FileModelSource } from './file-model-source.js';
import { type NodeBackendOptions, nodeBackend } from './node-backend.js';
import { NodeSessionFactory } from './node-session-factory.js';
import { listExecutionProviders } from './provider-availability.js';

const fixture = (name: string) =>
  fileURLToPath(new URL(`../../../tests/fixtures/models/${name}`, import.meta.url));

async function tensorImages(
  model: string,
  sessionThread: 'main' | 'worker',
  run: (pipe: StableDiffusionPipeline) => Promise<{ images: unknown }>,
): Promise<Float32Array> {
  const pipe = await StableDiffusionPipeline.fromPretrained(model, {
    backend: nodeBackend,
    sessionThread,
  } as NodeBackendOptions & { backend: typeof nodeBackend });
  try {
    const { images } = await run(pipe);
    return (images as Tensor).data;
  } finally {
    await pipe.dispose();
  }
}

describe("sessionThread: 'worker' gives the calling thread's numbers bit for bit", () => {
  it('shipped shapes model: txt2img with guidance, 4 steps, 2 images', async () => {
    const run = (pipe: StableDiffusionPipeline) =>
      pipe.generate({
        prompt: 'a red circle',
        negativePrompt: 'blue',
        seed: 7,
        numInferenceSteps: 4,
        numImagesPerPrompt: 2,
        outputType: 'tensor',
      });
    const main = await tensorImages(shapesModelPath, 'main', run);
    const worker = await tensorImages(shapesModelPath, 'worker', run);
    expect(main.length).toBe(2 * 3 * 32 * 32);
    expect(worker).toEqual(main);
    expect(Buffer.from(worker.buffer).equals(Buffer.from(main.buffer))).toBe(true);
  });

  it('sd1-fp16 fixture (float16 feeds and outputs cross the thread) and img2img on sd1', async () => {
    const fp16 = (pipe: StableDiffusionPipeline) =>
      pipe.generate({
        prompt: 'a cat',
        seed: 3,
        numInferenceSteps: 3,
        width: 32,
        height: 32,
        outputType: 'tensor',
      });
    expect(await tensorImages(fixture('sd1-fp16'), 'worker', fp16)).toEqual(
      await tensorImages(fixture('sd1-fp16'), 'main', fp16),
    );
    const image = new Tensor(
      new Float32Array(3 * 32 * 32).map((_, i) => 0.5 + Math.sin(i) * 0.4),
      [1, 3, 32, 32],
    );
    const img2img = (pipe: StableDiffusionPipeline) =>
      pipe.generate({
        prompt: 'a dog',
        image,
        strength: 0.6,
        seed: 5,
        numInferenceSteps: 4,
        outputType: 'tensor',
      });
    expect(await tensorImages(fixture('sd1'), 'worker', img2img)).toEqual(
      await tensorImages(fixture('sd1'), 'main', img2img),
    );
  });

  it('sd1-external fixture (UNet weights in an external file, loaded by path in the worker)', async () => {
    const run = (pipe: StableDiffusionPipeline) =>
      pipe.generate({
        prompt: 'a cat',
        seed: 9,
        numInferenceSteps: 2,
        width: 32,
        height: 32,
        outputType: 'tensor',
      });
    expect(await tensorImages(fixture('sd1-external'), 'worker', run)).toEqual(
      await tensorImages(fixture('sd1-external'), 'main', run),
    );
  });

  it('SDXL tiny fixture (two text encoders, text_embeds and time_ids)', async () => {
    const run = async (sessionThread: 'main' | 'worker') => {
      const pipe = await StableDiffusionXLPipeline.fromPretrained(fixture('sdxl-tiny'), {
        backend: nodeBackend,
        sessionThread,
      } as NodeBackendOptions & { backend: typeof nodeBackend });
      try {
        const { images } = await pipe.generate({
          prompt: 'a house',
          seed: 11,
          numInferenceSteps: 3,
          width: 64,
          height: 64,
          outputType: 'tensor',
        });
        return (images as Tensor).data;
      } finally {
        await pipe.dispose();
      }
    };
    expect(await run('worker')).toEqual(await run('main'));
  });

  it('a LoRA load and unload (session swaps in the worker) give the main thread numbers', async () => {
    const lora = join(shapesAdaptersPath, 'pink-lora.safetensors');
    const run = (pipe: StableDiffusionPipeline) => async () => {
      await pipe.loadLoraWeights(lora, { scale: 0.8 });
      const a = await pipe.generate({
        prompt: 'a circle',
        seed: 2,
        numInferenceSteps: 3,
        outputType: 'tensor',
      });
      await pipe.unloadLoraWeights();
      const b = await pipe.generate({
        prompt: 'a circle',
        seed: 2,
        numInferenceSteps: 3,
        outputType: 'tensor',
      });
      return { images: [(a.images as Tensor).data, (b.images as Tensor).data] };
    };
    const both = async (sessionThread: 'main' | 'worker') => {
      const pipe = await StableDiffusionPipeline.fromPretrained(shapesModelPath, {
        backend: nodeBackend,
        sessionThread,
      } as NodeBackendOptions & { backend: typeof nodeBackend });
      try {
        return (await run(pipe)()).images;
      } finally {
        await pipe.dispose();
      }
    };
    const main = await both('main');
    const worker = await both('worker');
    expect(worker[0]).toEqual(main[0]);
    expect(worker[1]).toEqual(main[1]);
    expect(main[0]).not.toEqual(main[1]); // the LoRA changed the image
  });
});

/** Loads the parts through a factory the test holds, to see its worker (nodeBackend.load does the same). */
async function loadWithFactory(model: string) {
  const factory = new NodeSessionFactory({ sessionThread: 'worker' });
  const parts = await loadOnnxPipeline(new FileModelSource(model), factory, {});
  return { factory, parts };
}

describe("sessionThread: 'worker': the event loop, abort and dispose", () => {
  it('a setInterval counter advances while a UNet call runs in the worker (128×128 on the shapes model)', async () => {
    const { factory, parts } = await loadWithFactory(shapesModelPath);
    let ticks = 0;
    let longestGap = 0;
    let last = performance.now();
    const timer = setInterval(() => {
      const now = performance.now();
      longestGap = Math.max(longestGap, now - last);
      last = now;
      ticks++;
    }, 2);
    const calls: { ms: number; ticks: number }[] = [];
    const denoiser: Denoiser = {
      inChannels: parts.denoiser.inChannels,
      predict: async (input) => {
        const [t0, n0] = [performance.now(), ticks];
        const out = await parts.denoiser.predict(input);
        calls.push({ ms: performance.now() - t0, ticks: ticks - n0 });
        return out;
      },
    };
    try {
      const pipe = new StableDiffusionPipeline({ ...parts, denoiser });
      last = performance.now();
      await pipe.generate({
        prompt: 'a square',
        seed: 1,
        numInferenceSteps: 2,
        width: 128,
        height: 128,
        outputType: 'latent',
      });
    } finally {
      clearInterval(timer);
      await parts.dispose?.();
    }
    expect(calls).toHaveLength(2);
    for (const call of calls) {
      // the interval fires every 2 ms of a call that takes tens of milliseconds or more (on the calling
      // thread it could not fire at all during the call)
      expect(call.ms).toBeGreaterThan(20);
      expect(call.ticks).toBeGreaterThanOrEqual(3);
    }
    expect(longestGap).toBeLessThan(Math.max(...calls.map((c) => c.ms)));
    expect(factory.workerThreadId).toBeUndefined();
  });

  it('an abort during a UNet call rejects at the next step boundary: no further UNet call', async () => {
    const { parts } = await loadWithFactory(shapesModelPath);
    const controller = new AbortController();
    let predictCalls = 0;
    let inFlight = false;
    let abortedInFlight: boolean | undefined;
    controller.signal.addEventListener('abort', () => {
      abortedInFlight = inFlight;
    });
    const denoiser: Denoiser = {
      inChannels: parts.denoiser.inChannels,
      predict: async (input) => {
        predictCalls++;
        // during the second call, a timer aborts: it can fire only because the call is off this thread
        if (predictCalls === 2) setTimeout(() => controller.abort(new Error('stop')), 1);
        inFlight = true;
        try {
          return await parts.denoiser.predict(input);
        } finally {
          inFlight = false;
        }
      },
    };
    const steps: number[] = [];
    try {
      const pipe = new StableDiffusionPipeline({ ...parts, denoiser });
      const error = await pipe
        .generate({
          prompt: 'a square',
          seed: 1,
          numInferenceSteps: 6,
          width: 256,
          height: 256,
          signal: controller.signal,
          onStep: ({ step }) => {
            steps.push(step);
          },
        })
        .catch((e: unknown) => e);
      expect((error as Error).message).toBe('stop');
    } finally {
      await parts.dispose?.();
    }
    expect(abortedInFlight).toBe(true);
    expect(predictCalls).toBe(2); // the call in flight finished; none after it
    expect(steps.length).toBeLessThanOrEqual(2);
  });

  it('dispose terminates the worker; its sessions then refuse to run with InferenceFailedError', async () => {
    const { factory, parts } = await loadWithFactory(fixture('sd1'));
    const threadId = factory.workerThreadId;
    expect(typeof threadId).toBe('number');
    const pipe = new StableDiffusionPipeline(parts);
    await pipe.generate({ prompt: 'x', seed: 1, numInferenceSteps: 1, width: 32, height: 32 });
    await parts.dispose?.();
    expect(factory.workerThreadId).toBeUndefined();
    const error = await pipe
      .generate({ prompt: 'x', seed: 1, numInferenceSteps: 1, width: 32, height: 32 })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InferenceFailedError);
  });

  it('nodeBackend.load: dispose of the loaded parts ends the worker thread (a second load gets its own)', async () => {
    const a = await nodeBackend.load(shapesModelPath, { sessionThread: 'worker' });
    const b = await nodeBackend.load(shapesModelPath, { sessionThread: 'worker' });
    // the option reaches the sessions: timers fire while a's UNet call runs
    let ticks = 0;
    const timer = setInterval(() => ticks++, 2);
    const during: number[] = [];
    const pa = new StableDiffusionPipeline({
      ...a,
      denoiser: {
        inChannels: a.denoiser.inChannels,
        predict: async (input) => {
          const before = ticks;
          const out = await a.denoiser.predict(input);
          during.push(ticks - before);
          return out;
        },
      },
    });
    const pb = new StableDiffusionPipeline(b);
    const opts = {
      prompt: 'x',
      seed: 1,
      numInferenceSteps: 1,
      width: 32,
      height: 32,
      outputType: 'tensor',
    } as const;
    const big = { ...opts, width: 128, height: 128 };
    try {
      await pa.generate(big);
    } finally {
      clearInterval(timer);
    }
    expect(during[0]).toBeGreaterThanOrEqual(3);
    const [ia, ib] = await Promise.all([pa.generate(opts), pb.generate(opts)]);
    expect((ia.images as Tensor).data).toEqual((ib.images as Tensor).data);
    await a.dispose();
    // b's worker still runs
    await expect(pb.generate(opts)).resolves.toBeDefined();
    await expect(pa.generate(opts)).rejects.toBeInstanceOf(InferenceFailedError);
    await b.dispose();
  });
});

describe("sessionThread: 'worker': session creation", () => {
  it('a source that is not a folder: model bytes and external data are sent to the worker', async () => {
    const folder = new FileModelSource(fixture('sd1-external'));
    const inMemory: ModelSource = {
      location: 'memory:sd1-external',
      exists: (path) => folder.exists(path),
      readText: (path) => folder.readText(path),
      readBytes: (path) => folder.readBytes(path),
    };
    const outputs: Float32Array[] = [];
    for (const sessionThread of ['main', 'worker'] as const) {
      const factory = new NodeSessionFactory({ sessionThread });
      const parts = await loadOnnxPipeline(inMemory, factory, {});
      try {
        const { images } = await new StableDiffusionPipeline(parts).generate({
          prompt: 'a cat',
          seed: 4,
          numInferenceSteps: 2,
          width: 32,
          height: 32,
          outputType: 'tensor',
        });
        outputs.push((images as Tensor).data);
      } finally {
        await parts.dispose?.();
        await factory.releaseAll();
      }
    }
    expect(outputs[1]).toEqual(outputs[0]);
  });

  it.runIf(!listExecutionProviders().find((p) => p.name === 'cuda')?.bundled)(
    'provider fallback (cuda, not installed here → cpu): the warning reaches onWarning on the calling thread',
    async () => {
      const warnings: Record<string, string[]> = { main: [], worker: [] };
      for (const sessionThread of ['main', 'worker'] as const) {
        const factory = new NodeSessionFactory({
          sessionThread,
          providers: ['cuda', 'cpu'],
          logLevel: 'fatal',
          onWarning: (m) => warnings[sessionThread]!.push(m),
        });
        await factory.create({
          component: 'vae_decoder',
          modelPath: 'vae_decoder/model.onnx',
          source: new FileModelSource(fixture('sd1')),
        });
        expect(factory.assignment).toEqual({ vae_decoder: 'cpu' });
        await factory.releaseAll();
      }
      expect(warnings['worker']).toHaveLength(1);
      expect(warnings['worker']).toEqual(warnings['main']);
      expect(warnings['worker']![0]).toMatch(/execution provider "cuda" cannot run vae_decoder/);
    },
  );
});

describe("sessionThread: 'worker': errors arrive typed", () => {
  it("onnxruntime's own failure (a wrong input shape) reads as on the calling thread", async () => {
    const source = new FileModelSource(fixture('sd1'));
    const messages: string[] = [];
    for (const sessionThread of ['main', 'worker'] as const) {
      const factory = new NodeSessionFactory({ sessionThread });
      const session = await factory.create({
        component: 'vae_decoder',
        modelPath: 'vae_decoder/model.onnx',
        source,
      });
      const bad = factory.createTensor({ type: 'float32', data: new Float32Array(5) }, [1, 5, 1, 1]);
      const error = await session.run({ latent_sample: bad }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(Error);
      messages.push((error as Error).message);
      await factory.releaseAll();
    }
    expect(messages[1]).toBe(messages[0]);
    expect(messages[0]).toMatch(/channels/i);
  });

  it('a typed error thrown in the worker (a run on a session released there) keeps class, code and message', async () => {
    const source = new FileModelSource(fixture('sd1'));
    const factory = new NodeSessionFactory({ sessionThread: 'worker' });
    const keep = await factory.create({
      component: 'vae_decoder',
      modelPath: 'vae_decoder/model.onnx',
      source,
    });
    const gone = await factory.create({
      component: 'vae_decoder',
      modelPath: 'vae_decoder/model.onnx',
      source,
    });
    await gone.release();
    const feed = factory.createTensor({ type: 'float32', data: new Float32Array(4 * 4 * 4) }, [1, 4, 4, 4]);
    const error = await gone.run({ latent_sample: feed }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InferenceFailedError);
    expect((error as InferenceFailedError).code).toBe('INFERENCE_FAILED');
    expect((error as Error).message).toMatch(/does not exist in the worker thread: it was released/);
    expect((error as Error).stack).toContain('in the onnxruntime worker thread');
    // the caller's feed was copied, not moved: still readable
    expect(feed.data).toHaveLength(64);
    await expect(keep.run({ latent_sample: feed })).resolves.toHaveProperty('sample');
    await factory.releaseAll();
    expect(factory.workerThreadId).toBeUndefined();
  });

  it('an unreadable model fails in the worker and arrives as ModelInvalidError, as in-thread', async () => {
    const source = new FileModelSource(fixture('sd1'));
    const errors: unknown[] = [];
    for (const sessionThread of ['main', 'worker'] as const) {
      const factory = new NodeSessionFactory({ sessionThread });
      errors.push(
        await factory
          .create({ component: 'tokenizer', modelPath: 'tokenizer/vocab.json', source })
          .catch((e: unknown) => e),
      );
      await factory.releaseAll();
    }
    expect(errors[0]).toBeInstanceOf(ModelInvalidError);
    expect(errors[1]).toBeInstanceOf(ModelInvalidError);
    expect((errors[1] as Error).message).toBe((errors[0] as Error).message);
  });

  it("feeds marked transferable move to the worker; the caller's float32 data is copied and stays usable", async () => {
    const source = new FileModelSource(fixture('sd1'));
    const factory = new NodeSessionFactory({ sessionThread: 'worker' });
    const session = await factory.create({
      component: 'vae_decoder',
      modelPath: 'vae_decoder/model.onnx',
      source,
    });
    const mine = new Float32Array(4 * 4 * 4).fill(0.5);
    const owned = new Float32Array(4 * 4 * 4).fill(0.5);
    const a = await session.run({
      latent_sample: factory.createTensor({ type: 'float32', data: mine }, [1, 4, 4, 4]),
    });
    const b = await session.run({
      latent_sample: factory.createTensor({ type: 'float32', data: owned, transferable: true }, [1, 4, 4, 4]),
    });
    expect(mine.byteLength).toBe(256); // copied: still the caller's
    expect(owned.byteLength).toBe(0); // transferred: detached here
    expect(b['sample']!.data).toEqual(a['sample']!.data);
    expect(a['sample']!.dims).toEqual([1, 3, 32, 32]);
    await factory.releaseAll();
  });
});
