// `latentkit serve` / `latentkit worker` as users run them: real child processes from the CLI, real HTTP on
// loopback (with Redis: serve-cli.redis.test.ts). Images must equal the library's for the same settings (max
// |diff| 0); SIGTERM must answer the request in flight and exit 0.
import { TorchGenerator } from '@latentkit/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../support/redis-server.js';
import { GUIDANCE, STEPS, useServeCli } from '../support/serve-cli-session.js';
import type { ServeProcess } from '../support/serve-process.js';
import { decodeBase64Png, maxPixelDiff } from '../support/shapes-server.js';

const { start, generate, expectLibraryImage, pipe } = useServeCli();

/** Polls `/metrics` until a job runs (the request reached the model), within `timeoutMs`. */
async function waitForActiveJob(url: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const text = await (await fetch(`${url}/metrics`)).text();
    if (/^latentkit_queue_active\S* [1-9]/m.test(text)) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error('no job became active');
}

describe('latentkit serve (in-process)', () => {
  let serve: ServeProcess;
  beforeAll(async () => {
    serve = await start(['serve', '--port', '0', '--steps', String(STEPS)]);
  }, 120_000);

  it('prints its URL, answers /healthz and /readyz, and serves the shipped model', async () => {
    expect(serve.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(serve.output).toContain('model shapes, 32x32, 20 steps, in-process');
    expect(await (await fetch(`${serve.url}/healthz`)).json()).toEqual({ status: 'ok' });
    expect(await (await fetch(`${serve.url}/readyz`)).json()).toEqual({
      status: 'ready',
      mode: 'in-process',
    });
    const models = (await (await fetch(`${serve.url}/v1/models`)).json()) as { data: { id: string }[] };
    expect(models.data.map((m) => m.id)).toEqual(['shapes']);
  });

  it('an openai-format generation equals the library run alone (--steps is the default)', async () => {
    const prompt = 'a red circle on a blue background';
    const { status, body } = await generate(serve.url, { prompt, seed: 11 });
    expect(status).toBe(200);
    await expectLibraryImage(body.data![0]!.b64_json, prompt, 11);
  });

  it('SIGTERM while a request runs: the request is answered in full, then the process exits 0', async () => {
    const prompt = 'a green triangle on a yellow background';
    // 8 images of 150 steps (about 2 s here): SIGTERM arrives while the job runs.
    const pending = generate(serve.url, { prompt, seed: 3, steps: 150, n: 8 });
    await waitForActiveJob(serve.url);
    serve.child.kill('SIGTERM');
    const { status, body } = await pending;
    expect(status).toBe(200);
    expect(body.data).toHaveLength(8);
    // n images are one batch, image i from its own generator seeded seed + i (runGeneration).
    const { images } = await pipe().generate({
      prompt,
      numInferenceSteps: 150,
      guidanceScale: GUIDANCE,
      numImagesPerPrompt: 8,
      generator: Array.from({ length: 8 }, (_, i) => new TorchGenerator(3 + i)),
    });
    for (const [i, image] of images.entries()) {
      expect(maxPixelDiff(decodeBase64Png(body.data![i]!.b64_json), image)).toBe(0);
    }
    const exit = await serve.exited;
    expect(exit).toEqual({ code: 0, signal: null });
    expect(serve.output).toContain('latentkit serve: SIGTERM: answering the requests in flight');
    expect(serve.output).toContain('latentkit serve: stopped.');
    // A new request after the exit is refused by the OS (nothing listens).
    await expect(fetch(`${serve.url}/healthz`)).rejects.toThrow();
  }, 120_000);
});

describe('latentkit serve --redis with Redis unreachable', () => {
  it('listens; /readyz and generations answer 503 QUEUE_UNAVAILABLE; SIGTERM still exits 0', async () => {
    const nobody = `redis://127.0.0.1:${await freePort()}`;
    const serve = await start(['serve', '--port', '0', '--redis', nobody, '--workers', '1']);
    const ready = await fetch(`${serve.url}/readyz`);
    expect(ready.status).toBe(503);
    const { status, body } = await generate(serve.url, { prompt: 'a red circle' });
    expect(status).toBe(503);
    expect((body as unknown as { error: { code: string } }).error.code).toBe('QUEUE_UNAVAILABLE');
    const exit = await serve.stop('SIGTERM', 60_000);
    expect(exit).toEqual({ code: 0, signal: null });
    expect(serve.output).toContain('latentkit serve: stopped.');
  }, 120_000);
});
