/**
 * The scaled-out server for tests, all real: a redis-server on a loopback port, N worker processes
 * (tests/support/bullmq-worker.ts under tsx, each loading the shipped model) and an in-process API
 * server (createServer over a BullmqQueue) on 127.0.0.1 — beside it, its in-process twin (what the same
 * request gives without Redis) and a BullMQ view of the queue. `close()` stops whatever is left.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { nodeBackend } from '@latentkit/backend-node';
import { StableDiffusionPipeline } from '@latentkit/core';
import { shapesModelPath } from '@latentkit/model-shapes';
import {
  BullmqQueue,
  type BullmqQueueOptions,
  createServer,
  type GenerationRequest,
  InProcessQueue,
  type LatentkitServer,
  modelDefaults,
  type ServerOptions,
} from '@latentkit/server';
import { Queue } from 'bullmq';
import { RedisServer } from './redis-server.js';
import { repoRoot, tsxLoader } from './run-node.js';
import { TEST_DEFAULTS } from './shapes-server.js';

/** One worker process and what it printed. */
export interface WorkerProcess {
  child: ChildProcess;
  pid: number;
  output: () => string;
  /** Resolves with the exit code (null after a signal) and the signal. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Environment of a worker process (see bullmq-worker.ts). */
export interface WorkerEnv {
  /** Lock duration in ms (default 2000: a killed worker's job moves on within ~2–4 s). */
  lockMs?: number;
  /** Put the running job back on the queue this long after SIGTERM (default: finish it). */
  handBackMs?: number;
  /** Preview every N steps. */
  previewEvery?: number;
}

/** Starts one worker process on `redisUrl`/`queueName` and resolves when it prints `ready` (within 120 s). */
export async function startWorker(
  redisUrl: string,
  queueName: string,
  env: WorkerEnv = {},
): Promise<WorkerProcess> {
  const childEnv: NodeJS.ProcessEnv = {
    ...process.env,
    TSX_TSCONFIG_PATH: join(repoRoot, 'tsconfig.json'),
    LATENTKIT_DEBUG: '',
    LATENTKIT_REDIS: redisUrl,
    LATENTKIT_QUEUE: queueName,
    LATENTKIT_LOCK_MS: String(env.lockMs ?? 2000),
    LATENTKIT_PREVIEW_EVERY: String(env.previewEvery ?? 0),
  };
  delete childEnv['INIT_CWD'];
  if (env.handBackMs !== undefined) childEnv['LATENTKIT_HAND_BACK_MS'] = String(env.handBackMs);
  const child = spawn(
    process.execPath,
    ['--import', tsxLoader, join(repoRoot, 'tests/support/bullmq-worker.ts')],
    {
      cwd: repoRoot,
      env: childEnv,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  child.stdout!.on('data', (d: Buffer) => {
    output += d.toString();
  });
  child.stderr!.on('data', (d: Buffer) => {
    output += d.toString();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const deadline = Date.now() + 120_000;
  while (!/^ready \d+$/m.test(output)) {
    if (child.exitCode !== null || child.signalCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`the worker process did not start:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { child, pid: child.pid!, output: () => output, exited };
}

/** A running scaled-out server. */
export interface BullmqCluster {
  redis: RedisServer;
  queueName: string;
  workers: WorkerProcess[];
  queue: BullmqQueue;
  server: LatentkitServer;
  url: string;
  /** The in-process library's pipeline (for reference images). */
  pipe: StableDiffusionPipeline;
  /**
   * An in-process server on `pipe`, listening on a free port: what the same request gives without Redis,
   * to compare the workers' answers with.
   */
  twinUrl: string;
  /** A BullMQ view of the same queue, to look at jobs the way an operator would (errors while Redis is away are ignored). */
  inspect: Queue;
  /** Starts one more worker process. */
  addWorker(env?: WorkerEnv): Promise<WorkerProcess>;
  close(): Promise<void>;
}

let clusters = 0;

/** Starts redis-server, `workers` worker processes and the API server over a BullmqQueue. */
export async function startBullmqCluster(
  options: {
    workers?: number;
    workerEnv?: WorkerEnv;
    queue?: Partial<Omit<BullmqQueueOptions, 'connection' | 'queueName'>>;
    server?: Partial<Omit<ServerOptions, 'queue' | 'modelName' | 'defaults'>>;
    /** The twin's request limits (default: createServer's). */
    twinLimits?: ServerOptions['limits'];
  } = {},
): Promise<BullmqCluster> {
  const redis = await RedisServer.start();
  const queueName = `test-${process.pid}-${++clusters}`;
  const workers: WorkerProcess[] = [];
  let queue: BullmqQueue | undefined;
  let server: LatentkitServer | undefined;
  let twin: LatentkitServer | undefined;
  let inspect: Queue | undefined;
  let pipe: StableDiffusionPipeline | undefined;
  const close = async () => {
    await inspect?.close().catch(() => {});
    await twin?.close().catch(() => {});
    for (const w of workers)
      if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGKILL');
    await Promise.allSettled(workers.map((w) => w.exited));
    // A socket whose client aborted its request can keep app.close() waiting (Node counts it busy).
    server?.app.server.closeAllConnections();
    await server?.close().catch(() => {});
    await pipe?.dispose().catch(() => {});
    await redis.stop();
  };
  try {
    const started = await Promise.all(
      Array.from({ length: options.workers ?? 2 }, () =>
        startWorker(redis.url, queueName, options.workerEnv),
      ),
    );
    workers.push(...started);
    pipe = await StableDiffusionPipeline.fromPretrained(shapesModelPath, { backend: nodeBackend });
    queue = new BullmqQueue({ connection: redis.url, queueName, ...options.queue });
    server = createServer({
      ...options.server,
      queue,
      modelName: 'shapes',
      defaults: modelDefaults(pipe, TEST_DEFAULTS),
    });
    const url = await server.listen({ port: 0 });
    twin = createServer({
      queue: new InProcessQueue(pipe, { modelName: 'shapes' }),
      ...(options.twinLimits ? { limits: options.twinLimits } : {}),
      modelName: 'shapes',
      defaults: modelDefaults(pipe, TEST_DEFAULTS),
    });
    const twinUrl = await twin.listen({ port: 0 });
    inspect = new Queue(queueName, { connection: { url: redis.url } });
    inspect.on('error', () => {});
    return {
      redis,
      queueName,
      workers,
      queue,
      server,
      url,
      pipe,
      twinUrl,
      inspect,
      async addWorker(env) {
        const w = await startWorker(redis.url, queueName, env ?? options.workerEnv);
        workers.push(w);
        return w;
      },
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

/** A small job for the shipped model (32×32, 2 steps, guidance 5, one image of seed 1), with `overrides`. */
export function shapesJob(overrides: Partial<GenerationRequest> = {}): GenerationRequest {
  return {
    model: 'shapes',
    prompt: 'x',
    negativePrompt: '',
    width: 32,
    height: 32,
    steps: 2,
    guidanceScale: 5,
    seeds: [1],
    batchSize: 1,
    ...overrides,
  };
}
