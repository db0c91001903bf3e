// Bad requests in the scaled-out mode: the error a worker's pipeline throws comes back to the HTTP client
// with the library's code, parameter and message (as in-process), and the job is not retried.
import { BullmqQueue, GenerationWorker } from '@latentkit/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BullmqCluster, startBullmqCluster } from '../support/bullmq-cluster.js';

let c: BullmqCluster;

beforeAll(async () => {
  c = await startBullmqCluster({ workers: 1 });
}, 240_000);
afterAll(() => c?.close(), 60_000);

function post(base: string, body: object) {
  return fetch(`${base}/v1/images/generations`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

describe('bad input through a BullMQ worker', () => {
  it('size 33x33 → 400 INVALID_ARGUMENT from the worker, same body as in-process, tried once', async () => {
    const body = { prompt: 'a red circle', size: '33x33', seed: 1 };
    const remote = await post(c.url, body);
    const inproc = await post(c.twinUrl, body);
    expect(remote.status).toBe(400);
    const error = (
      (await remote.json()) as { error: { code: string; param: string | null; message: string } }
    ).error;
    expect(error.code).toBe('INVALID_ARGUMENT');
    expect(error).toEqual(((await inproc.json()) as { error: unknown }).error);
    expect(error.message).toMatch(/33/);
    const failed = (await c.inspect.getFailed()).filter((j) => j.data.request.width === 33);
    expect(failed).toHaveLength(1);
    expect(failed[0]!.attemptsMade).toBe(1);
    expect(failed[0]!.attemptsStarted).toBe(1);
  }, 60_000);

  it('an unknown scheduler name → the same 4xx body as in-process', async () => {
    const body = { prompt: 'a red circle', scheduler: 'NoSuchSampler', seed: 1 };
    const remote = await post(c.url, body);
    const inproc = await post(c.twinUrl, body);
    expect(remote.status).toBe(inproc.status);
    expect(remote.status).toBeGreaterThanOrEqual(400);
    expect(remote.status).toBeLessThan(500);
    expect(((await remote.json()) as { error: unknown }).error).toEqual(
      ((await inproc.json()) as { error: unknown }).error,
    );
  }, 60_000);

  it('a bad Redis URL is refused when the queue or a worker is made: INVALID_ARGUMENT naming the option', async () => {
    for (const connection of ['http://127.0.0.1:1', '127.0.0.1:6379', 'redis://']) {
      expect(() => new BullmqQueue({ connection })).toThrow(
        expect.objectContaining({
          code: 'INVALID_ARGUMENT',
          message: expect.stringMatching(/^connection = .*redis:\/\//),
        }),
      );
      expect(() => new GenerationWorker(c.pipe, { connection, modelName: 'shapes' })).toThrow(
        expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
      );
    }
  });

  it.each([
    ['attempts', 0],
    ['backoffMs', -1],
    ['submitTimeoutMs', 0],
    ['jobTimeoutMs', 1.5],
    ['pollMs', 5],
  ])('BullmqQueue %s = %s → INVALID_ARGUMENT', (name, value) => {
    expect(() => new BullmqQueue({ connection: c.redis.url, [name]: value })).toThrow(
      expect.objectContaining({
        code: 'INVALID_ARGUMENT',
        message: expect.stringContaining(
          `BullmqQueue ${name} = ${value} is invalid: expected a whole number`,
        ),
      }),
    );
  });

  it.each([
    ['concurrency', 0],
    ['previewEverySteps', -1],
    ['lockDurationMs', 50],
    ['maxStalledCount', Number.NaN],
  ])('GenerationWorker %s = %s → INVALID_ARGUMENT', (name, value) => {
    expect(
      () => new GenerationWorker(c.pipe, { connection: c.redis.url, modelName: 'shapes', [name]: value }),
    ).toThrow(
      expect.objectContaining({
        code: 'INVALID_ARGUMENT',
        message: expect.stringContaining(`GenerationWorker ${name} =`),
      }),
    );
  });
});
