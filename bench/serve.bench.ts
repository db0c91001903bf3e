/**
 * `npm run bench:serve`: the load and fault test of `latentkit serve --redis` on loopback, bounded in time.
 *
 * A redis-server of its own (127.0.0.1, a free port, append-only file in a temporary folder), the shipped
 * model, an API process with 2 worker processes started by `latentkit serve --redis … --workers 2` (the
 * CLI's supervisor), then:
 *   1. load: 200 requests from 20 concurrent clients (mixed prompts, seeds, steps, samplers, 1–2 images,
 *      OpenAI and A1111 formats): throughput (requests/s, images/s), latency p50/p95/max; every image
 *      compared with the same request run alone by the library in this process (max |diff| 0 expected);
 *   2. worker SIGKILL: 40 requests from 20 clients; one worker is killed with SIGKILL while it runs a job:
 *      its job must complete on the other worker, no request may fail; the CLI starts the worker again;
 *   3. Redis stopped for 5 s while 20 clients keep sending: each request must succeed or answer 503
 *      QUEUE_UNAVAILABLE before its deadline (none hang), and 40 requests sent once Redis is back must all
 *      succeed.
 * Prints a summary table; exits 1 if any request was lost, hung, or got another request's image.
 *
 * Options: --requests N (200), --clients N (20), --deadline-ms N (60000, per request), --json.
 */
import { nodeBackend } from '@latentkit/backend-node';
import { StableDiffusionPipeline } from '@latentkit/core';
import { shapesModelPath } from '@latentkit/model-shapes';
import { RedisServer } from '../tests/support/redis-server.js';
import { processAlive, ServeProcess } from '../tests/support/serve-process.js';
import {
  benchRequests,
  compareWithReferences,
  type Outcome,
  percentile,
  References,
  runClients,
  send,
} from './serve/requests.js';

function option(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}
const REQUESTS = option('--requests', 200);
const CLIENTS = option('--clients', 20);
const DEADLINE_MS = option('--deadline-ms', 60_000);
const JSON_OUT = process.argv.includes('--json');
/** The whole bench stops (and fails) after this long. */
const BENCH_LIMIT_MS = 10 * 60_000;

const log = (line: string) => process.stderr.write(`${line}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface PhaseSummary {
  phase: string;
  requests: number;
  ok: number;
  /** 503 QUEUE_UNAVAILABLE answers (allowed only while Redis is down). */
  unavailable: number;
  /** Any other failure: another status, a network error. */
  failed: number;
  hung: number;
  /** 200 answers whose images differ from the reference. */
  mismatched: number;
  images: number;
  wallMs: number;
  p50: number;
  p95: number;
  max: number;
}

function summarize(phase: string, outcomes: readonly Outcome[], wallMs: number): PhaseSummary {
  const ok = outcomes.filter((o) => o.status === 200);
  const ms = ok.map((o) => o.ms);
  return {
    phase,
    requests: outcomes.length,
    ok: ok.length,
    unavailable: outcomes.filter((o) => o.status === 503 && o.code === 'QUEUE_UNAVAILABLE').length,
    failed: outcomes.filter(
      (o) => !o.hung && o.status !== 200 && !(o.status === 503 && o.code === 'QUEUE_UNAVAILABLE'),
    ).length,
    hung: outcomes.filter((o) => o.hung).length,
    mismatched: ok.filter((o) => o.maxDiff !== 0).length,
    images: ok.reduce((n, o) => n + o.request.images, 0),
    wallMs,
    p50: percentile(ms, 50),
    p95: percentile(ms, 95),
    max: ms.length ? Math.max(...ms) : Number.NaN,
  };
}

async function waitReady(url: string, timeoutMs: number): Promise<number> {
  const started = performance.now();
  while (performance.now() - started < timeoutMs) {
    try {
      if ((await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(2000) })).status === 200) {
        return performance.now() - started;
      }
    } catch {}
    await sleep(100);
  }
  throw new Error(`/readyz not ready within ${timeoutMs} ms`);
}

/** Polls `/metrics` until `n` jobs run at once. */
async function waitActive(url: string, n: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const text = await (await fetch(`${url}/metrics`)).text();
    const m = text.match(/^latentkit_queue_active\S* (\d+)/m);
    if (m && Number(m[1]) >= n) return;
    await sleep(20);
  }
  throw new Error(`fewer than ${n} jobs running after ${timeoutMs} ms`);
}

async function main(): Promise<number> {
  const benchTimer = setTimeout(() => {
    log(`bench:serve: over its ${BENCH_LIMIT_MS / 60_000} min limit: stopping (FAIL).`);
    process.exit(1);
  }, BENCH_LIMIT_MS);
  benchTimer.unref();

  const loadRequests = benchRequests(REQUESTS);
  const killRequests = benchRequests(40, REQUESTS).map((r) => ({ ...r, steps: 50 })); // longer jobs
  const outageRequests = benchRequests(400, REQUESTS + 40);
  const afterRequests = benchRequests(40, REQUESTS + 440);

  // The references: the library in this process (the pipeline class the workers use), after each phase.
  const pipe = await StableDiffusionPipeline.fromPretrained(shapesModelPath, { backend: nodeBackend });
  const refs = new References(pipe);

  const redis = await RedisServer.start({ persistent: true });
  let serve: ServeProcess | undefined;
  const phases: PhaseSummary[] = [];
  const notes: string[] = [];
  try {
    serve = await ServeProcess.start(
      [
        'serve',
        '--port',
        '0',
        '--redis',
        redis.url,
        '--workers',
        '2',
        '--steps',
        '20',
        '--max-concurrent-per-key',
        String(CLIENTS * 2),
        '--lock-duration',
        '4000',
        '--job-timeout',
        '45000',
      ],
      { timeoutMs: 120_000 },
    );
    const url = serve.url;
    await serve.waitForLine(
      /\[worker 2\] latentkit worker: ready|\[worker 1\] latentkit worker: ready/,
      120_000,
    );
    while (serve.workerPids.length < 2) await serve.waitForLine(/latentkit worker: ready/, 120_000);
    await waitReady(url, 60_000);
    log(`bench:serve: ${url}, redis ${redis.url}, workers ${serve.workerPids.join(', ')}`);

    // Warm-up: each worker's first job pays onnxruntime's first-call costs.
    await runClients(url, benchRequests(4, 10_000), 4, DEADLINE_MS);

    // 1. Load.
    log(`bench:serve: load: ${REQUESTS} requests from ${CLIENTS} clients …`);
    const load = await runClients(url, loadRequests, CLIENTS, DEADLINE_MS);
    await compareWithReferences(load.outcomes, refs);
    phases.push(summarize('load', load.outcomes, load.wallMs));

    // 2. SIGKILL one worker while both run jobs.
    log('bench:serve: SIGKILL a worker mid-job …');
    const [victim] = serve.workerPids.slice(-2);
    const kill = runClients(url, killRequests, CLIENTS, DEADLINE_MS);
    await waitActive(url, 2, 30_000);
    const killedAt = performance.now();
    process.kill(victim!, 'SIGKILL');
    notes.push(`worker pid ${victim} SIGKILLed while 2 jobs ran`);
    const killed = await kill;
    await compareWithReferences(killed.outcomes, refs);
    phases.push(summarize('worker SIGKILL', killed.outcomes, killed.wallMs));
    const restartLine = serve.output.includes(`(pid ${victim}) exited (SIGKILL); starting it again`);
    // The CLI's supervisor starts it again: wait for its ready line.
    while (
      serve.workerPids.filter((p) => processAlive(p)).length < 2 &&
      performance.now() - killedAt < 120_000
    ) {
      await sleep(200);
    }
    const alive = serve.workerPids.filter((p) => processAlive(p));
    notes.push(
      `the supervisor ${restartLine ? 'restarted' : 'did NOT restart'} it: ${alive.length} workers alive after ${((performance.now() - killedAt) / 1000).toFixed(1)} s (${alive.join(', ')})`,
    );
    const restarted = restartLine && alive.length >= 2;

    // 3. Redis stopped for 5 s while clients keep sending.
    log('bench:serve: Redis stopped for 5 s under load …');
    let stopAt = 0;
    let startAt = 0;
    const outageDone = { done: false };
    const outcomes: Outcome[] = [];
    let next = 0;
    const outageStarted = performance.now();
    const clients = Promise.all(
      Array.from({ length: CLIENTS }, async () => {
        while (!outageDone.done && next < outageRequests.length) {
          const r = outageRequests[next++]!;
          outcomes.push(await send(url, r, DEADLINE_MS));
        }
      }),
    );
    await sleep(1500);
    await redis.stop('SIGTERM');
    stopAt = performance.now();
    await sleep(5000);
    await redis.start();
    startAt = performance.now();
    const readyAfter = await waitReady(url, 60_000);
    notes.push(
      `Redis down ${((startAt - stopAt) / 1000).toFixed(1)} s; /readyz ready again ${(readyAfter / 1000).toFixed(1)} s after it was back`,
    );
    // Keep the clients going 3 s more, then let them finish what they sent.
    await sleep(3000);
    outageDone.done = true;
    await clients;
    await compareWithReferences(outcomes, refs);
    phases.push(summarize('Redis down 5 s', outcomes, performance.now() - outageStarted));

    // 4. After: everything succeeds.
    log('bench:serve: 40 requests after Redis is back …');
    const after = await runClients(url, afterRequests, CLIENTS, DEADLINE_MS);
    await compareWithReferences(after.outcomes, refs);
    phases.push(summarize('after Redis', after.outcomes, after.wallMs));

    // Report.
    const fmt = (ms: number) => (Number.isFinite(ms) ? `${Math.round(ms)}` : '-');
    const rows = phases.map((p) => [
      p.phase,
      String(p.requests),
      String(p.ok),
      String(p.unavailable),
      String(p.failed),
      String(p.hung),
      String(p.mismatched),
      (p.ok / (p.wallMs / 1000)).toFixed(1),
      (p.images / (p.wallMs / 1000)).toFixed(1),
      fmt(p.p50),
      fmt(p.p95),
      fmt(p.max),
    ]);
    const head = [
      'phase',
      'requests',
      'ok',
      '503',
      'failed',
      'hung',
      'mixed up',
      'req/s',
      'img/s',
      'p50 ms',
      'p95 ms',
      'max ms',
    ];
    const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
    const line = (cells: string[]) =>
      cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
    const [loadP, killP, , afterP] = phases as [PhaseSummary, PhaseSummary, PhaseSummary, PhaseSummary];
    const failures: string[] = [];
    for (const p of phases) {
      if (p.mismatched > 0)
        failures.push(`${p.phase}: ${p.mismatched} answer(s) with images other than the request's own`);
      if (p.hung > 0)
        failures.push(`${p.phase}: ${p.hung} request(s) without an answer within ${DEADLINE_MS} ms`);
      if (p.failed > 0) failures.push(`${p.phase}: ${p.failed} request(s) failed`);
    }
    for (const p of [loadP, killP, afterP]) {
      if (p.unavailable > 0)
        failures.push(`${p.phase}: ${p.unavailable} request(s) answered 503 with Redis up`);
    }
    if (!restarted) failures.push('the killed worker was not started again');
    const report = [
      `bench:serve — latentkit serve --redis, 2 worker processes, the shipped model (32×32), ${CLIENTS} clients, loopback`,
      line(head),
      ...rows.map(line),
      ...notes.map((n) => `note: ${n}`),
      failures.length === 0
        ? 'PASS: nothing lost, nothing mixed up, nothing hung'
        : `FAIL: ${failures.join('; ')}`,
    ];
    process.stdout.write(`${report.join('\n')}\n`);
    if (JSON_OUT) process.stdout.write(`${JSON.stringify({ phases, notes, failures }, null, 2)}\n`);
    const lost = [...load.outcomes, ...killed.outcomes, ...after.outcomes].filter((o) => o.status !== 200);
    if (failures.length > 0 && serve) {
      const errors = serve.output.split('\n').filter((l) => /error|fail|exited/i.test(l));
      for (const l of errors.slice(-20)) log(`  serve: ${l}`);
    }
    for (const o of lost.slice(0, 5))
      log(`  lost: ${JSON.stringify(o.request)} → ${o.status} ${o.code ?? ''} ${o.message ?? o.error ?? ''}`);
    return failures.length === 0 ? 0 : 1;
  } finally {
    const exit = await serve?.stop('SIGTERM', 60_000);
    if (exit && exit.code !== 0)
      log(`bench:serve: latentkit serve exited ${JSON.stringify(exit)}:\n${serve?.output.slice(-3000)}`);
    await redis.dispose();
    await pipe.dispose();
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    log(`bench:serve: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exitCode = 1;
  },
);
