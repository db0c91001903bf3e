// What an operator relies on: health and readiness, Prometheus metrics, API keys, the per-key limit, the
// queue bound, and a client that goes away cancelling its job — over real HTTP with the shipped model.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ShapesServer, startShapesServer } from '../support/shapes-server.js';

let s: ShapesServer;
const KEY = 'sk-test-1';
beforeAll(async () => {
  s = await startShapesServer({
    apiKeys: [KEY, 'sk-test-2', 'sk-test-3'],
    limits: { maxConcurrentPerKey: 1 },
    queue: { maxWaiting: 1 },
  });
}, 60_000);
afterAll(async () => {
  await s?.close();
});

const auth = (key = KEY) => ({ authorization: `Bearer ${key}`, 'content-type': 'application/json' });
function generate(body: object, key = KEY, signal?: AbortSignal) {
  const init: RequestInit = { method: 'POST', headers: auth(key), body: JSON.stringify(body) };
  if (signal) init.signal = signal;
  return fetch(`${s.url}/v1/images/generations`, init);
}
/** Polls `check` every 20 ms until it holds or `ms` pass. */
async function until(check: () => Promise<boolean>, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return check();
}

describe('health, readiness, metrics', () => {
  it('/healthz answers without a key; /readyz and /metrics need one', async () => {
    expect((await fetch(`${s.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${s.url}/readyz`)).status).toBe(401);
    const ready = await fetch(`${s.url}/readyz`, { headers: auth() });
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready', mode: 'in-process' });
  });

  it('/metrics counts generations, images and failures by code', async () => {
    const metric = async (name: string) => {
      const text = await (await fetch(`${s.url}/metrics`, { headers: auth() })).text();
      const line = text.split('\n').find((l) => l.startsWith(name));
      return line ? Number(line.split(' ').at(-1)) : 0;
    };
    const count = 'latentkit_generation_seconds_count{api="openai"}';
    const images = 'latentkit_images_total{api="openai"}';
    const failures = 'latentkit_generation_failures_total{api="openai",code="INVALID_ARGUMENT"}';
    const before = [await metric(count), await metric(images), await metric(failures)];
    expect((await generate({ prompt: 'a red circle', n: 2, seed: 1 })).status).toBe(200);
    expect((await generate({ prompt: 'a red circle', size: '30x30' })).status).toBe(400);
    expect(await metric(count)).toBe(before[0]! + 1);
    expect(await metric(images)).toBe(before[1]! + 2);
    expect(await metric(failures)).toBe(before[2]! + 1);
    const text = await (await fetch(`${s.url}/metrics`, { headers: auth() })).text();
    expect(text).toMatch(/^latentkit_queue_waiting 0$/m);
    expect(text).toMatch(/^latentkit_queue_active 0$/m);
  });
});

describe('API keys', () => {
  it('no key, a malformed header and a wrong key get 401 UNAUTHORIZED', async () => {
    for (const headers of [
      {},
      { authorization: 'Basic abc' },
      { authorization: 'Bearer sk-wrong' },
    ] as Record<string, string>[]) {
      const res = await fetch(`${s.url}/v1/models`, { headers });
      expect(res.status).toBe(401);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('UNAUTHORIZED');
    }
    expect((await fetch(`${s.url}/v1/models`, { headers: auth('sk-test-2') })).status).toBe(200);
  });
});

describe('limits and cancellation', () => {
  it('a key over its concurrency limit gets 429 with Retry-After; another key is not held up', async () => {
    const long = generate({ prompt: 'a red circle', size: '128x128', steps: 40, seed: 2 });
    expect(await until(async () => (await s.queue.status()).active.length === 1, 10_000)).toBe(true);
    const second = await generate({ prompt: 'a red circle', seed: 3 });
    expect(second.status).toBe(429);
    expect(second.headers.get('retry-after')).toBe('1');
    expect(((await second.json()) as { error: { code: string } }).error.code).toBe('TOO_MANY_REQUESTS');
    // Key 2 queues behind the running job and gets its image.
    const other = await generate({ prompt: 'a blue square', seed: 4 }, 'sk-test-2');
    expect(other.status).toBe(200);
    expect((await long).status).toBe(200);
  });

  it('a client that disconnects cancels its running job within a step', async () => {
    const controller = new AbortController();
    // 100 steps at 256² take ~20 s here; the job must stop long before.
    const request = generate(
      { prompt: 'a red circle', size: '256x256', steps: 100, seed: 5 },
      KEY,
      controller.signal,
    ).catch((e: unknown) => e);
    expect(
      await until(async () => ((await s.queue.status()).active[0]?.progress.step ?? 0) >= 1, 20_000),
    ).toBe(true);
    const aborted = Date.now();
    controller.abort();
    await request;
    expect(await until(async () => (await s.queue.status()).active.length === 0, 5_000)).toBe(true);
    expect(Date.now() - aborted).toBeLessThan(5_000);
  });

  it('a full queue answers 503 QUEUE_UNAVAILABLE with Retry-After', async () => {
    const running = generate({ prompt: 'a red circle', size: '128x128', steps: 40, seed: 6 });
    expect(await until(async () => (await s.queue.status()).active.length === 1, 10_000)).toBe(true);
    const waiting = generate({ prompt: 'a red circle', seed: 7 }, 'sk-test-2');
    expect(await until(async () => (await s.queue.status()).waiting === 1, 10_000)).toBe(true);
    // maxWaiting 1: a third job (a third key, so the per-key limit is not what refuses it) is refused.
    const third = await generate({ prompt: 'a red circle', seed: 8 }, 'sk-test-3');
    expect(third.status).toBe(503);
    expect(third.headers.get('retry-after')).toBe('5');
    expect(((await third.json()) as { error: { code: string } }).error.code).toBe('QUEUE_UNAVAILABLE');
    expect((await running).status).toBe(200);
    expect((await waiting).status).toBe(200);
  });
});
