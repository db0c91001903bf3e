import { describe, expect, it } from 'vitest';
import type { Scheduler } from '../interfaces/scheduler.js';
import type { Tensor } from '../tensor.js';
import { leaseScheduler } from './scheduler-lease.js';
import { StableDiffusionPipeline } from './stable-diffusion-pipeline.js';
import { FakeCodec, FakeDenoiser, FakePromptEncoder, FakeScheduler } from './test-fakes.js';

/** A FakeScheduler with `clone`: every clone is recorded, so tests can see which object ran a call. */
class CloningScheduler extends FakeScheduler {
  readonly clones: CloningScheduler[] = [];
  clone(): Scheduler {
    const copy = new CloningScheduler(this.stochastic);
    this.clones.push(copy);
    return copy;
  }
}

/** A denoiser that waits a macrotask before answering, so concurrent calls really interleave. */
class SlowDenoiser extends FakeDenoiser {
  override async predict(input: Parameters<FakeDenoiser['predict']>[0]): Promise<Tensor> {
    await new Promise((resolve) => setTimeout(resolve, 1));
    return super.predict(input);
  }
}

function pipeline(scheduler: Scheduler) {
  return new StableDiffusionPipeline({
    promptEncoder: new FakePromptEncoder(),
    denoiser: new SlowDenoiser({ sampleSize: 2 }),
    codec: new FakeCodec(),
    scheduler,
  });
}

/** Mixed calls: step counts, sizes, seeds, prompts and CFG differ, as served requests do. */
const CALLS = [
  { prompt: 'a', numInferenceSteps: 5, seed: 1 },
  { prompt: 'bb', numInferenceSteps: 9, seed: 2, width: 32 },
  { prompt: 'ccc', numInferenceSteps: 3, seed: 3, guidanceScale: 1 },
  { prompt: 'dd', numInferenceSteps: 7, seed: 4, height: 8, width: 24 },
  { prompt: 'e', numInferenceSteps: 6, seed: 5, numImagesPerPrompt: 2 },
  { prompt: 'ff', numInferenceSteps: 4, seed: 6 },
] as const;

async function alone(scheduler: () => Scheduler): Promise<number[][]> {
  const out: number[][] = [];
  for (const call of CALLS) {
    const { images } = await pipeline(scheduler()).generate({ ...call, outputType: 'latent' });
    out.push(Array.from(images.data));
  }
  return out;
}

describe('leaseScheduler', () => {
  it('a scheduler with clone: each lease gets a fresh clone at once, never the shared object', async () => {
    const shared = new CloningScheduler();
    const [a, b] = await Promise.all([leaseScheduler(shared), leaseScheduler(shared)]);
    expect(shared.clones).toHaveLength(2);
    expect(a!.scheduler).toBe(shared.clones[0]);
    expect(b!.scheduler).toBe(shared.clones[1]);
    expect(a!.scheduler).not.toBe(shared);
  });

  it('a scheduler without clone: leases are granted one at a time, in call order', async () => {
    const shared = new FakeScheduler();
    const order: string[] = [];
    const first = await leaseScheduler(shared);
    const second = leaseScheduler(shared).then((lease) => {
      order.push('second');
      return lease;
    });
    const third = leaseScheduler(shared).then((lease) => {
      order.push('third');
      return lease;
    });
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(order).toEqual([]);
    first.release();
    (await second).release();
    (await third).release();
    expect(order).toEqual(['second', 'third']);
    expect((await second).scheduler).toBe(shared);
  });

  it('a call aborted while it waits rejects with the reason and does not let the next one in early', async () => {
    const shared = new FakeScheduler();
    const first = await leaseScheduler(shared);
    const controller = new AbortController();
    const second = leaseScheduler(shared, controller.signal);
    let thirdIn = false;
    const third = leaseScheduler(shared).then((lease) => {
      thirdIn = true;
      return lease;
    });
    controller.abort(new Error('stop'));
    await expect(second).rejects.toThrow('stop');
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(thirdIn).toBe(false);
    first.release();
    (await third).release();
    expect(thirdIn).toBe(true);
  });
});

describe('StableDiffusionPipeline: concurrent generate() calls', () => {
  it('a scheduler without clone (stochastic): concurrent calls give exactly the latents of each call alone', async () => {
    const expected = await alone(() => new FakeScheduler(true));
    const shared = new FakeScheduler(true);
    const pipe = pipeline(shared);
    const results = await Promise.all(CALLS.map((c) => pipe.generate({ ...c, outputType: 'latent' })));
    expect(results.map((r) => Array.from(r.images.data))).toEqual(expected);
    // All ran on the shared object, one loop at a time: its steps come in whole calls, in call order.
    const perCall = CALLS.map((c) => c.numInferenceSteps);
    expect(shared.stepCalls).toHaveLength(perCall.reduce((a, b) => a + b, 0));
    let at = 0;
    for (const steps of perCall) {
      const ts = shared.stepCalls.slice(at, at + steps).map((s) => s.timestep);
      expect(ts).toEqual(Array.from({ length: steps }, (_, i) => (steps - i) * 100));
      at += steps;
    }
  });

  it('a scheduler with clone: every call runs on its own clone, the shared scheduler is never stepped', async () => {
    const expected = await alone(() => new CloningScheduler(true));
    const shared = new CloningScheduler(true);
    const pipe = pipeline(shared);
    const results = await Promise.all(CALLS.map((c) => pipe.generate({ ...c, outputType: 'latent' })));
    expect(results.map((r) => Array.from(r.images.data))).toEqual(expected);
    expect(shared.stepCalls).toHaveLength(0);
    expect(shared.clones.map((c) => c.stepCalls.length)).toEqual(CALLS.map((c) => c.numInferenceSteps));
  });

  it('swapping pipe.scheduler while a call runs: that call keeps its scheduler, the next uses the new one', async () => {
    const first = new FakeScheduler();
    const second = new FakeScheduler();
    const pipe = pipeline(first);
    const running = pipe.generate({ prompt: 'a', numInferenceSteps: 4, seed: 1, outputType: 'latent' });
    pipe.scheduler = second;
    const next = pipe.generate({ prompt: 'a', numInferenceSteps: 3, seed: 1, outputType: 'latent' });
    await Promise.all([running, next]);
    expect(first.stepCalls).toHaveLength(4);
    expect(second.stepCalls).toHaveLength(3);
  });

  it('a failing call releases its scheduler: the calls queued behind it still run', async () => {
    const shared = new FakeScheduler();
    const pipe = pipeline(shared);
    const failing = pipe.generate({
      prompt: 'a',
      numInferenceSteps: 3,
      seed: 1,
      onStep: () => {
        throw new Error('boom');
      },
    });
    const after = pipe.generate({ prompt: 'a', numInferenceSteps: 2, seed: 1, outputType: 'latent' });
    await expect(failing).rejects.toThrow('boom');
    expect((await after).images.shape).toEqual([1, 4, 2, 2]);
  });
});
