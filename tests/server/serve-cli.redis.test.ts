// `latentkit serve --redis` as users run it: a real redis-server (Debian's; `npm run test:redis`), the API
// process and the worker processes it supervises, real HTTP on loopback. Images must equal the library's
// (max |diff| 0); a SIGKILLed worker is started again; SIGTERM stops everything with exit 0.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisServer } from '../support/redis-server.js';
import { STEPS, useServeCli } from '../support/serve-cli-session.js';
import { processAlive, type ServeProcess } from '../support/serve-process.js';

const { start, generate, expectLibraryImage } = useServeCli();

describe('latentkit serve --redis (API + supervised worker processes)', () => {
  let redis: RedisServer;
  let serve: ServeProcess;
  beforeAll(async () => {
    redis = await RedisServer.start();
    serve = await start([
      'serve',
      '--port',
      '0',
      '--steps',
      String(STEPS),
      '--redis',
      redis.url,
      '--workers',
      '1',
      '--lock-duration',
      '3000',
      '--queue-name',
      `serve-cli-${process.pid}`,
    ]);
    await serve.waitForLine(/\[worker 1\] latentkit worker: ready/, 120_000);
  }, 180_000);
  afterAll(async () => {
    await serve?.stop('SIGKILL');
    await redis?.stop();
  }, 60_000);

  it('/readyz reports redis mode; a generation through the worker equals the library run alone', async () => {
    const ready = await fetch(`${serve.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready', mode: 'redis' });
    const prompt = 'a blue square on a red background';
    const { status, body } = await generate(serve.url, { prompt, seed: 21 });
    expect(status).toBe(200);
    await expectLibraryImage(body.data![0]!.b64_json, prompt, 21);
  }, 60_000);

  it('a worker killed with SIGKILL is started again, and serves the next request', async () => {
    const [first] = serve.workerPids;
    process.kill(first!, 'SIGKILL');
    await serve.waitForLine(/worker 1 \(pid \d+\) exited \(SIGKILL\); starting it again/, 30_000);
    await serve.waitForLine(/\[worker 1\] latentkit worker: ready/, 120_000);
    const second = serve.workerPids.at(-1)!;
    expect(second).not.toBe(first);
    const prompt = 'a yellow circle on a green background';
    const { status, body } = await generate(serve.url, { prompt, seed: 5 });
    expect(status).toBe(200);
    await expectLibraryImage(body.data![0]!.b64_json, prompt, 5);
  }, 180_000);

  it('SIGTERM stops the API and its workers; both exit 0', async () => {
    const worker = serve.workerPids.at(-1)!;
    const exit = await serve.stop('SIGTERM');
    expect(exit).toEqual({ code: 0, signal: null });
    expect(serve.output).toContain('[worker 1] latentkit worker: SIGTERM: finishing the running job');
    expect(serve.output).toContain('[worker 1] latentkit worker: stopped.');
    expect(processAlive(worker)).toBe(false);
  }, 120_000);
});
