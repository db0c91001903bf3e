// The scaled-out mode with real parts: redis-server on a loopback port, two worker processes that each
// load the shipped model, the API server over a BullmqQueue, real HTTP. Images equal the in-process
// library's; progress, cancellation, interrupt and worker SIGKILL/SIGTERM as a deployment sees them.
import { BullmqQueue } from '@latentkit/server';
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BullmqCluster, shapesJob, startBullmqCluster } from '../support/bullmq-cluster.js';
import { decodeBase64Png, maxPixelDiff } from '../support/shapes-server.js';

let c: BullmqCluster;

beforeAll(async () => {
  c = await startBullmqCluster({
    workers: 2,
    workerEnv: { previewEvery: 5 },
    server: { limits: { maxSteps: 5000, maxConcurrentPerKey: 50 } },
    queue: { jobTimeoutMs: 60_000 },
  });
}, 240_000);
afterAll(() => c?.close(), 60_000);

const json = { 'content-type': 'application/json' };
function post(base: string, path: string, body: object, signal?: AbortSignal) {
  const init: RequestInit = { method: 'POST', headers: json, body: JSON.stringify(body) };
  if (signal) init.signal = signal;
  return fetch(`${base}${path}`, init);
}
/** Polls `check` every 20 ms until it holds or `ms` pass. */
async function until(check: () => Promise<boolean> | boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return check();
}
type ImagesBody = { data: { b64_json: string }[]; latentkit: { seeds: number[]; infotexts: string[] } };

describe('BullMQ workers behind the HTTP API', () => {
  it('/readyz is ready with workers connected (mode redis)', async () => {
    const res = await fetch(`${c.url}/readyz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ready', mode: 'redis' });
  });

  it('OpenAI-format requests give the in-process library’s pixels (max |diff| 0)', async () => {
    const body = { prompt: 'a red circle', n: 2, seed: 42, steps: 12 };
    const [remote, inproc] = await Promise.all([
      post(c.url, '/v1/images/generations', body),
      post(c.twinUrl, '/v1/images/generations', body),
    ]);
    expect(remote.status).toBe(200);
    const a = (await remote.json()) as ImagesBody;
    const b = (await inproc.json()) as ImagesBody;
    expect(a.data).toHaveLength(2);
    expect(a.latentkit.seeds).toEqual([42, 43]);
    expect(a.latentkit.infotexts).toEqual(b.latentkit.infotexts);
    for (let i = 0; i < 2; i++) {
      expect(maxPixelDiff(decodeBase64Png(a.data[i]!.b64_json), decodeBase64Png(b.data[i]!.b64_json))).toBe(
        0,
      );
    }
  }, 60_000);

  it('20 concurrent requests over 2 workers: each gets its own image (nothing lost or mixed up)', async () => {
    const prompts = ['a red circle', 'a blue square', 'a green star', 'a yellow triangle'];
    const bodies = Array.from({ length: 20 }, (_, i) => ({
      prompt: prompts[i % 4],
      seed: 1000 + i,
      steps: 8 + (i % 3),
    }));
    const answers = await Promise.all(bodies.map((b) => post(c.url, '/v1/images/generations', b)));
    const mine = (await c.inspect.getCompleted()).filter(
      (j) => j.data.request.seeds[0]! >= 1000 && j.data.request.seeds[0]! < 1020,
    );
    expect(mine).toHaveLength(20);
    const workersUsed = new Set(mine.map((j) => j.processedBy));
    for (const [i, res] of answers.entries()) {
      expect(res.status).toBe(200);
      const got = ((await res.json()) as ImagesBody).data[0]!.b64_json;
      const ref = (await (await post(c.twinUrl, '/v1/images/generations', bodies[i]!)).json()) as ImagesBody;
      expect(maxPixelDiff(decodeBase64Png(got), decodeBase64Png(ref.data[0]!.b64_json))).toBe(0);
    }
    expect(workersUsed.size).toBe(2);
  }, 120_000);

  it('progress events arrive while the job runs; status() shows it active with its step', async () => {
    const steps: number[] = [];
    let seen = false;
    const job = c.queue.submit(shapesJob({ prompt: 'a blue square', steps: 60, seeds: [7] }), {
      onProgress: (p) => steps.push(p.step),
    });
    expect(
      await until(async () => {
        const s = await c.queue.status();
        seen ||=
          s.active.length === 1 && s.active[0]!.progress.totalSteps === 60 && s.active[0]!.progress.step > 0;
        return seen;
      }, 30_000),
    ).toBe(true);
    const result = await job;
    expect(result.images).toHaveLength(1);
    expect(steps.length).toBeGreaterThan(5);
    expect(steps.at(-1)).toBe(60);
    for (let i = 1; i < steps.length; i++) expect(steps[i]!).toBeGreaterThan(steps[i - 1]!);
  }, 60_000);

  it('a client that goes away cancels its running job on the worker: it stops early, not retried', async () => {
    const controller = new AbortController();
    const request = post(
      c.url,
      '/v1/images/generations',
      { prompt: 'a green star', seed: 5, steps: 900 },
      controller.signal,
    );
    request.catch(() => {});
    expect(
      await until(async () => {
        const s = await c.queue.status();
        return s.active.some((j) => j.progress.totalSteps === 900 && j.progress.step >= 10);
      }, 30_000),
    ).toBe(true);
    const abortedAt = Date.now();
    controller.abort();
    await expect(request).rejects.toThrow();
    let failed: Awaited<ReturnType<Queue['getFailed']>>[number] | undefined;
    expect(
      await until(async () => {
        failed = (await c.inspect.getFailed()).find((j) => j.data.request.steps === 900);
        return failed !== undefined;
      }, 20_000),
    ).toBe(true);
    expect(failed!.failedReason).toContain('"code":"CANCELLED"');
    expect(failed!.attemptsMade).toBe(1);
    const progress = failed!.progress as { step: number; totalSteps: number };
    expect(progress.totalSteps).toBe(900);
    expect(progress.step).toBeLessThan(900);
    // It stopped soon after the abort, not after 900 steps (~9 s).
    expect(failed!.finishedOn! - abortedAt).toBeLessThan(5_000);
    expect((await c.queue.status()).active).toHaveLength(0);
  }, 60_000);

  it('interruptAll (A1111 interrupt) stops the running job: it returns the images it has', async () => {
    const job = c.queue.submit(shapesJob({ prompt: 'a yellow triangle', steps: 900, seeds: [11] }));
    expect(
      await until(async () => (await c.queue.status()).active.some((j) => j.progress.step >= 10), 30_000),
    ).toBe(true);
    const started = Date.now();
    expect(await c.queue.interruptAll()).toBe(1);
    const result = await job;
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(result.interrupted).toBe(true);
    expect(result.images).toHaveLength(1);
    expect(result.seeds).toEqual([11]);
    expect(decodeBase64Png(result.images[0]!).width).toBe(32);
  }, 60_000);

  /** What an A1111 client sends for txt2img (the fields that matter here, plus a few it always sends). */
  const a1111Body = (over: Record<string, unknown>) => ({
    prompt: 'a red circle',
    negative_prompt: '',
    styles: [],
    seed: 9,
    sampler_name: 'Euler',
    batch_size: 2,
    n_iter: 1,
    steps: 15,
    cfg_scale: 7,
    width: 32,
    height: 32,
    restore_faces: false,
    tiling: false,
    override_settings: {},
    send_images: true,
    save_images: false,
    ...over,
  });
  type A1111Body = { images: string[]; info: string };

  it('A1111-format txt2img gives the in-process library’s pixels and infotexts', async () => {
    const body = a1111Body({});
    const [remote, inproc] = await Promise.all([
      post(c.url, '/sdapi/v1/txt2img', body),
      post(c.twinUrl, '/sdapi/v1/txt2img', body),
    ]);
    expect(remote.status).toBe(200);
    const a = (await remote.json()) as A1111Body;
    const b = (await inproc.json()) as A1111Body;
    expect(a.images).toHaveLength(2);
    const infoA = JSON.parse(a.info) as { all_seeds: number[]; infotexts: string[]; sampler_name: string };
    const infoB = JSON.parse(b.info) as typeof infoA;
    expect(infoA.all_seeds).toEqual([9, 10]);
    expect(infoA.infotexts).toEqual(infoB.infotexts);
    expect(infoA.sampler_name).toBe('Euler');
    for (let i = 0; i < 2; i++) {
      expect(maxPixelDiff(decodeBase64Png(a.images[i]!), decodeBase64Png(b.images[i]!))).toBe(0);
    }
  }, 60_000);

  it('/sdapi/v1/progress shows a running job on a worker, with its live preview', async () => {
    const running = post(c.url, '/sdapi/v1/txt2img', a1111Body({ seed: 31, steps: 900, batch_size: 1 }));
    type Progress = {
      progress: number;
      current_image: string | null;
      state: { sampling_step: number; sampling_steps: number };
    };
    let seen: Progress | undefined;
    expect(
      await until(async () => {
        const p = (await (await fetch(`${c.url}/sdapi/v1/progress`)).json()) as Progress;
        if (p.progress > 0 && p.progress < 1 && p.current_image) seen = p;
        return seen !== undefined;
      }, 30_000),
    ).toBe(true);
    expect(seen!.state.sampling_steps).toBe(900);
    expect(seen!.state.sampling_step).toBeGreaterThan(0);
    const preview = decodeBase64Png(seen!.current_image!);
    expect([preview.width, preview.height]).toEqual([32, 32]);
    expect((await running).status).toBe(200);
  }, 60_000);

  it('POST /sdapi/v1/interrupt reaches the worker: the request answers 200 with the image so far', async () => {
    const started = Date.now();
    const running = post(c.url, '/sdapi/v1/txt2img', a1111Body({ seed: 32, steps: 900, batch_size: 1 }));
    expect(
      await until(async () => (await c.queue.status()).active.some((j) => j.progress.step >= 10), 30_000),
    ).toBe(true);
    expect((await fetch(`${c.url}/sdapi/v1/interrupt`, { method: 'POST' })).status).toBe(200);
    const res = await running;
    expect(res.status).toBe(200);
    const json = (await res.json()) as A1111Body;
    expect(json.images).toHaveLength(1);
    expect((JSON.parse(json.info) as { interrupted: boolean }).interrupted).toBe(true);
    expect(Date.now() - started).toBeLessThan(20_000);
  }, 60_000);

  it('a waiting job whose client goes away is removed from Redis (CANCELLED at once)', async () => {
    // A queue no worker serves: the job can only wait.
    const lonely = new BullmqQueue({ connection: c.redis.url, queueName: `${c.queueName}-waiting` });
    const view = new Queue(`${c.queueName}-waiting`, { connection: { url: c.redis.url } });
    try {
      const controller = new AbortController();
      const job = lonely.submit(shapesJob(), { signal: controller.signal });
      job.catch(() => {});
      expect(await until(async () => (await view.getWaitingCount()) === 1, 10_000)).toBe(true);
      controller.abort(new Error('client gone'));
      await expect(job).rejects.toMatchObject({ code: 'CANCELLED', statusCode: 499 });
      expect(await until(async () => (await view.getJobCounts()).waiting === 0, 10_000)).toBe(true);
      const counts = await view.getJobCounts();
      expect(counts.active + counts.completed + counts.failed + counts.delayed).toBe(0);
    } finally {
      await view.close();
      await lonely.close();
    }
  }, 30_000);
});
