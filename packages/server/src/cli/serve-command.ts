import { CliUsageError } from '@latentkit/backend-node';
import { createServer, type LatentkitServer } from '../create-server.js';
import { InProcessQueue } from '../queue/in-process-queue.js';
import type { JobQueue } from '../queue/job-queue.js';
import type { RequestLimits } from '../server-options.js';
import { atMost, type ServerCliIo, shutdownSignal } from './cli-io.js';
import { type LoadedModel, loadServable, type ModelFlags } from './load-servable.js';
import { keysFromEnv } from './parse-flags.js';
import { WorkerSupervisor } from './worker-supervisor.js';

/** The flags of `latentkit serve`. */
export interface ServeFlags extends ModelFlags {
  port: number;
  host: string;
  redis?: string;
  workers?: number;
  apiKey?: string[];
  maxImages?: number;
  maxSteps?: number;
  maxSide?: number;
  bodyLimit?: number;
  maxConcurrentPerKey?: number;
  maxWaiting?: number;
  previewEvery: number;
  queueName?: string;
  lockDuration?: number;
  jobTimeout?: number;
  log?: boolean;
}

/** How to start `latentkit worker` (the serve command's children). */
export interface WorkerLaunch {
  /** The executable (default: this Node). */
  command: string;
  /** The arguments before `worker` (default: this process's Node flags and script). */
  args: readonly string[];
}

/** `node [flags] <this script>`: how this process was started, so its children run the same CLI. */
export function thisCli(): WorkerLaunch {
  return { command: process.execPath, args: [...process.execArgv, process.argv[1] ?? ''] };
}

function limitsFrom(flags: ServeFlags): Partial<RequestLimits> {
  const limits: Partial<RequestLimits> = {};
  if (flags.maxImages !== undefined) limits.maxImages = flags.maxImages;
  if (flags.maxSteps !== undefined) limits.maxSteps = flags.maxSteps;
  if (flags.maxSide !== undefined) limits.maxSide = flags.maxSide;
  if (flags.bodyLimit !== undefined) limits.bodyLimit = flags.bodyLimit;
  if (flags.maxConcurrentPerKey !== undefined) limits.maxConcurrentPerKey = flags.maxConcurrentPerKey;
  return limits;
}

/** The arguments of `latentkit worker` that a `serve --redis` passes on to the workers it starts. */
function workerArgs(flags: ServeFlags): string[] {
  const args = ['worker', '--redis', flags.redis!, '--preview-every', String(flags.previewEvery)];
  if (flags.model !== undefined) args.push('--model', flags.model);
  if (flags.provider !== undefined) args.push('--provider', flags.provider.join(','));
  if (flags.queueName !== undefined) args.push('--queue-name', flags.queueName);
  if (flags.lockDuration !== undefined) args.push('--lock-duration', String(flags.lockDuration));
  return args;
}

/**
 * `latentkit serve`: without `--redis`, loads the model and serves it from this process (an
 * {@link InProcessQueue} running `--workers` jobs at once); with `--redis`, serves the API over a BullMQ
 * queue and starts `--workers` `latentkit worker` processes that it restarts when they die. Runs until
 * SIGTERM or SIGINT, then shuts down gracefully (requests in flight are answered, running jobs finish,
 * the sessions are released) and resolves with exit code 0.
 */
export async function runServe(flags: ServeFlags, io: ServerCliIo, launch: WorkerLaunch): Promise<number> {
  const apiKeys = flags.apiKey ?? keysFromEnv(process.env['LATENTKIT_API_KEYS']);
  if (flags.redis === undefined && flags.workers === 0) {
    throw new CliUsageError(
      '--workers 0 needs --redis: without Redis this process runs the jobs, so it needs at least 1 worker. Fix: leave --workers out (1), or add --redis redis://host:port for an API-only process.',
    );
  }
  for (const [flag, needs] of [
    ['--queue-name', flags.queueName],
    ['--lock-duration', flags.lockDuration],
    ['--job-timeout', flags.jobTimeout],
  ] as const) {
    if (needs !== undefined && flags.redis === undefined) {
      throw new CliUsageError(
        `${flag} needs --redis (it sets the BullMQ queue). Fix: add --redis redis://host:port, or leave ${flag} out.`,
      );
    }
  }
  if (flags.maxWaiting !== undefined && flags.redis !== undefined) {
    throw new CliUsageError(
      '--max-waiting bounds the in-process queue; with --redis jobs wait in Redis. Fix: leave --max-waiting out.',
    );
  }
  const signal = shutdownSignal(io, 'latentkit serve');
  try {
    // The model is loaded here in both modes: it is checked (a servable pipeline) and gives the defaults;
    // with --redis it is released again (the workers load their own).
    const model = await loadServable(flags);
    const { server, close, mode } =
      flags.redis === undefined
        ? inProcess(model, flags, apiKeys)
        : await scaledOut(model, flags, apiKeys, io, launch);
    let url: string;
    try {
      url = await server.listen({ port: flags.port, host: flags.host });
    } catch (error) {
      await close();
      throw error;
    }
    io.stdout.write(
      `latentkit serve: listening on ${url} (model ${model.modelName}, ${model.defaults.width}x${model.defaults.height}, ${model.defaults.steps} steps, ${mode})\n`,
    );
    if (apiKeys.length === 0 && !isLoopback(flags.host)) {
      io.stderr.write(
        `latentkit serve: warning: listening on ${flags.host} without API keys: anyone who reaches it can generate. Fix: --api-key KEY or LATENTKIT_API_KEYS.\n`,
      );
    }
    const received = await signal.promise;
    io.stderr.write(`latentkit serve: ${received}: answering the requests in flight, then exiting.\n`);
    await close(); // server.close() drops keep-alive connections as they go idle
    io.stderr.write('latentkit serve: stopped.\n');
    return 0;
  } finally {
    signal.dispose();
  }
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}

function inProcess(
  model: LoadedModel,
  flags: ServeFlags,
  apiKeys: string[],
): { server: LatentkitServer; close(): Promise<void>; mode: string } {
  const queue = new InProcessQueue(model.pipe, {
    modelName: model.modelName,
    concurrency: flags.workers ?? 1,
    previewEverySteps: flags.previewEvery,
    ...(flags.maxWaiting !== undefined ? { maxWaiting: flags.maxWaiting } : {}),
  });
  const server = serverFor(queue, model, flags, apiKeys);
  return {
    server,
    mode: `in-process, ${flags.workers ?? 1} job(s) at a time`,
    async close() {
      try {
        await server.close();
      } finally {
        // Release the sessions (and their worker thread) before the process exits.
        await model.pipe.dispose();
      }
    },
  };
}

async function scaledOut(
  model: LoadedModel,
  flags: ServeFlags,
  apiKeys: string[],
  io: ServerCliIo,
  launch: WorkerLaunch,
): Promise<{ server: LatentkitServer; close(): Promise<void>; mode: string }> {
  await model.pipe.dispose();
  const { BullmqQueue } = await import('../queue/bullmq-queue.js');
  const queue = new BullmqQueue({
    connection: flags.redis!,
    ...(flags.queueName !== undefined ? { queueName: flags.queueName } : {}),
    ...(flags.jobTimeout !== undefined ? { jobTimeoutMs: flags.jobTimeout } : {}),
  });
  const server = serverFor(queue, model, flags, apiKeys);
  const count = flags.workers ?? 1;
  const supervisor = new WorkerSupervisor(launch, workerArgs(flags), count, io);
  supervisor.start();
  return {
    server,
    mode: `Redis ${redactUrl(flags.redis!)}, ${count} worker process(es)`,
    async close() {
      try {
        // In-flight requests wait for their results from the workers: stop the workers after them.
        await server.app.close();
      } finally {
        await Promise.all([
          // Nothing needs Redis any more: when it does not answer, do not wait for it.
          atMost(queue.close(), 5000, () =>
            io.stderr.write(
              'latentkit serve: Redis does not answer; the queue was left without closing it.\n',
            ),
          ),
          supervisor.stop(),
        ]);
      }
    },
  };
}

function serverFor(
  queue: JobQueue,
  model: LoadedModel,
  flags: ServeFlags,
  apiKeys: string[],
): LatentkitServer {
  return createServer({
    queue,
    modelName: model.modelName,
    defaults: model.defaults,
    limits: limitsFrom(flags),
    ...(apiKeys.length > 0 ? { apiKeys } : {}),
    logger: flags.log ?? false,
  });
}

/** The URL without its password, for printing. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString().replace(/\/$/, '');
  } catch {
    return url;
  }
}
