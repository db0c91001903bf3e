import { atMost, type ServerCliIo, shutdownSignal } from './cli-io.js';
import { loadServable } from './load-servable.js';
import { redactUrl } from './serve-command.js';

/** The flags of `latentkit worker`. */
export interface WorkerFlags {
  redis: string;
  model?: string;
  concurrency: number;
  previewEvery: number;
  queueName?: string;
  lockDuration?: number;
}

/**
 * `latentkit worker`: loads the model once and runs the jobs of a BullMQ queue on Redis (what API processes
 * started with `latentkit serve --redis` enqueue). Runs until SIGTERM or SIGINT — or until the process that
 * started it exits, when it was started by `latentkit serve` — then stops taking jobs, finishes (or hands
 * back) the running ones, releases the sessions and resolves with 0.
 */
export async function runWorker(flags: WorkerFlags, io: ServerCliIo): Promise<number> {
  const signal = shutdownSignal(io, 'latentkit worker');
  // Started by `latentkit serve` (an IPC channel): shut down when it goes away, as on SIGTERM.
  const orphaned = new Promise<string>((resolve) => {
    if (process.channel) process.once('disconnect', () => resolve('the serve process exited'));
  });
  try {
    const model = await loadServable(flags);
    const { GenerationWorker } = await import('../worker/generation-worker.js');
    const worker = new GenerationWorker(model.pipe, {
      connection: flags.redis,
      modelName: model.modelName,
      concurrency: flags.concurrency,
      previewEverySteps: flags.previewEvery,
      ...(flags.queueName !== undefined ? { queueName: flags.queueName } : {}),
      ...(flags.lockDuration !== undefined ? { lockDurationMs: flags.lockDuration } : {}),
    });
    try {
      let why = await Promise.race([worker.ready.then(() => undefined), signal.promise, orphaned]);
      const ready = why === undefined;
      if (why === undefined) {
        io.stdout.write(
          `latentkit worker: ready (pid ${process.pid}, model ${model.modelName}, ${redactUrl(flags.redis)}, ${flags.concurrency} job(s) at a time)\n`,
        );
        why = await Promise.race([signal.promise, orphaned]);
      }
      if (ready) {
        io.stderr.write(`latentkit worker: ${why}: finishing the running job, then exiting.\n`);
        await worker.close();
      } else {
        // It never reached Redis, so it runs no job: BullMQ's close would wait for Redis forever.
        io.stderr.write(`latentkit worker: ${why} before Redis answered: exiting.\n`);
        await atMost(worker.close(), 5000, () => {});
      }
    } finally {
      await model.pipe.dispose();
    }
    io.stderr.write('latentkit worker: stopped.\n');
    return 0;
  } finally {
    signal.dispose();
    if (process.connected) process.disconnect();
  }
}
