import { hostname } from 'node:os';
import { LatentkitError } from '@latentkit/core';
import { type Job, UnrecoverableError, WaitingError, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import type { GenerationProgress, GenerationResult } from '../generation-request.js';
import { BULLMQ_PREFIX, DEFAULT_QUEUE_NAME, type GenerationJobData } from '../queue/bullmq-queue.js';
import {
  abortReasonFor,
  type ControlMessage,
  cancelKey,
  cancelReason,
  checkWholeOption,
  controlChannel,
  encodeJobError,
  redisConnection,
} from '../queue/redis-link.js';
import { InterruptRequest, runGeneration, type ServablePipeline } from '../run-generation.js';
import { ServerError } from '../server-error.js';

/** Options of {@link GenerationWorker}. */
export interface GenerationWorkerOptions {
  /** Redis, as a URL: `redis://host:port[/db]`. */
  connection: string;
  /** The BullMQ queue's name (the API processes' `queueName`). Default `latentkit`. */
  queueName?: string;
  /** The model's name (infotext `Model:`). */
  modelName: string;
  /** Jobs this worker runs at once on its pipeline. Default 1. */
  concurrency?: number;
  /**
   * For jobs that ask for live previews (A1111's): decode one every this many steps (0: none). Default 10, as
   * the in-process queue (A1111's `show_progress_every_n_steps`).
   */
  previewEverySteps?: number;
  /**
   * How long a job's lock lasts without renewal (renewed every half of it while the job runs). When a
   * worker dies, its job goes to another worker within about twice this long. Default 10 000 ms.
   */
  lockDurationMs?: number;
  /** How many times a job may be taken back from a dead worker before it fails. Default 2. */
  maxStalledCount?: number;
}

/** Options of {@link GenerationWorker.close}. */
export interface WorkerCloseOptions {
  /**
   * Wait at most this long for the running jobs to finish; then abort them and put them back on the
   * queue for another worker. Default: wait until they finish.
   */
  handBackAfterMs?: number;
}

/** The abort reason of a job handed back on shutdown. */
class HandBack extends Error {
  constructor() {
    super('the worker is shutting down: the job goes back to the queue');
    this.name = 'HandBack';
  }
}

/**
 * The worker side of the scaled-out mode: one loaded pipeline that takes jobs from a BullMQ queue in Redis
 * and runs each with {@link runGeneration}, the in-process queue's code path. Progress goes to the job
 * (the API relays it to the client); a cancel or interrupt from any API process reaches the running
 * generation's `AbortSignal` through a Redis pub/sub channel. Library errors fail the job with their code
 * and are not retried; a cancelled job is not retried either.
 *
 * ```ts
 * const pipe = await StableDiffusionPipeline.fromPretrained(dir, { backend: nodeBackend });
 * const worker = new GenerationWorker(pipe, { connection: 'redis://127.0.0.1:6379', modelName: 'shapes' });
 * await worker.ready;
 * process.on('SIGTERM', () => void worker.close().then(() => process.exit(0)));
 * ```
 */
export class GenerationWorker {
  /** Resolves when the worker is connected and subscribed to the control channel. */
  readonly ready: Promise<void>;
  readonly #pipe: ServablePipeline;
  readonly #worker: Worker<GenerationJobData, GenerationResult>;
  readonly #subscriber: Redis;
  readonly #commands: Redis;
  readonly #modelName: string;
  readonly #previewEverySteps: number;
  readonly #cancelKey: (jobId: string) => string;
  readonly #running = new Map<string, AbortController>();
  #closing: Promise<void> | undefined;

  /**
   * @param pipe - The loaded pipeline; the worker does not dispose it.
   * @param options - Redis URL, queue name, model name, concurrency, previews, lock duration.
   */
  constructor(pipe: ServablePipeline, options: GenerationWorkerOptions) {
    checkWholeOption('GenerationWorker', 'concurrency', options.concurrency, 1);
    checkWholeOption('GenerationWorker', 'previewEverySteps', options.previewEverySteps, 0);
    checkWholeOption('GenerationWorker', 'lockDurationMs', options.lockDurationMs, 100);
    checkWholeOption('GenerationWorker', 'maxStalledCount', options.maxStalledCount, 0);
    this.#pipe = pipe;
    this.#modelName = options.modelName;
    this.#previewEverySteps = options.previewEverySteps ?? 10;
    const queueName = options.queueName ?? DEFAULT_QUEUE_NAME;
    this.#cancelKey = (jobId) => cancelKey(BULLMQ_PREFIX, queueName, jobId);
    const lockDuration = options.lockDurationMs ?? 10_000;
    this.#worker = new Worker<GenerationJobData, GenerationResult>(
      queueName,
      (job, token, signal) => this.#process(job, token, signal),
      {
        connection: redisConnection(options.connection),
        prefix: BULLMQ_PREFIX,
        concurrency: options.concurrency ?? 1,
        lockDuration,
        // A stalled job is found on the second check after its lock expired: check twice per lock.
        stalledInterval: Math.max(500, Math.round(lockDuration / 2)),
        maxStalledCount: options.maxStalledCount ?? 2,
        name: `${options.modelName}@${hostname()}:${process.pid}`,
      },
    );
    this.#worker.on('error', () => {});
    this.#subscriber = new Redis(options.connection, {
      maxRetriesPerRequest: null,
      retryStrategy: (times: number) => Math.min(200 * times, 2000),
    });
    this.#subscriber.on('error', () => {});
    this.#commands = new Redis(options.connection, {
      maxRetriesPerRequest: 1,
      retryStrategy: (times: number) => Math.min(200 * times, 2000),
    });
    this.#commands.on('error', () => {});
    this.#subscriber.on('message', (_channel: string, text: string) => this.#onControl(text));
    this.ready = Promise.all([
      this.#worker.waitUntilReady(),
      this.#subscriber.subscribe(controlChannel(BULLMQ_PREFIX, queueName)),
    ]).then(() => {});
  }

  #onControl(text: string): void {
    let message: ControlMessage;
    try {
      message = JSON.parse(text) as ControlMessage;
    } catch {
      return;
    }
    for (const [jobId, controller] of this.#running) {
      if (message.jobId === undefined || message.jobId === jobId) {
        if (message.type === 'interrupt' || message.jobId !== undefined) {
          controller.abort(abortReasonFor(message, jobId));
        }
      }
    }
  }

  async #process(
    job: Job<GenerationJobData, GenerationResult>,
    token: string | undefined,
    bullSignal: AbortSignal | undefined,
  ): Promise<GenerationResult> {
    const jobId = job.id!;
    const controller = new AbortController();
    // BullMQ's own cancel (worker.cancelJob) is a cancel too: not retried.
    const onBullAbort = () => controller.abort(cancelReason(jobId));
    bullSignal?.addEventListener('abort', onBullAbort, { once: true });
    this.#running.set(jobId, controller);
    try {
      // Cancelled before it started (the cancel message came while no worker ran it).
      if (await this.#isCancelled(jobId)) {
        throw new UnrecoverableError(encodeJobError(cancelReason(jobId)));
      }
      // Progress goes to Redis one update at a time, the latest only: a step never waits on Redis, and a
      // slow Redis gets no backlog of stale steps.
      let latest: GenerationProgress | undefined;
      let flushing: Promise<void> | undefined;
      const flush = async () => {
        while (latest) {
          const next = latest;
          latest = undefined;
          await job.updateProgress({ ...next }).catch(() => {});
        }
        flushing = undefined;
      };
      const result = await runGeneration(this.#pipe, job.data.request, {
        modelName: this.#modelName,
        signal: controller.signal,
        previewEverySteps: this.#previewEverySteps,
        onProgress: (progress: GenerationProgress) => {
          latest = progress;
          flushing ??= flush();
        },
      });
      await flushing;
      return result;
    } catch (error) {
      const reason = controller.signal.aborted ? controller.signal.reason : undefined;
      if (reason instanceof HandBack && token !== undefined) {
        await job.moveToWait(token);
        throw new WaitingError();
      }
      if (reason instanceof ServerError) throw new UnrecoverableError(encodeJobError(reason));
      if (error instanceof UnrecoverableError) throw error;
      if (error instanceof LatentkitError || error instanceof ServerError) {
        throw new UnrecoverableError(encodeJobError(error));
      }
      throw error;
    } finally {
      bullSignal?.removeEventListener('abort', onBullAbort);
      this.#running.delete(jobId);
    }
  }

  /** Whether an API process marked the job cancelled (a Redis error counts as no). */
  async #isCancelled(jobId: string): Promise<boolean> {
    try {
      return (await this.#commands.get(this.#cancelKey(jobId))) !== null;
    } catch {
      return false;
    }
  }

  /** Interrupts every job running on this worker: each returns the images it has (A1111's interrupt). */
  interruptAll(): number {
    for (const controller of this.#running.values()) controller.abort(new InterruptRequest());
    return this.#running.size;
  }

  /**
   * Stops taking jobs and lets the running ones finish (or, after `handBackAfterMs`, puts them back on the
   * queue for another worker), then closes the Redis connections. Call it on SIGTERM.
   */
  close(options: WorkerCloseOptions = {}): Promise<void> {
    checkWholeOption('GenerationWorker.close', 'handBackAfterMs', options.handBackAfterMs, 0);
    this.#closing ??= (async () => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      if (options.handBackAfterMs !== undefined) {
        timer = setTimeout(() => {
          for (const controller of this.#running.values()) controller.abort(new HandBack());
        }, options.handBackAfterMs);
      }
      try {
        await this.#worker.close();
      } finally {
        clearTimeout(timer);
        this.#subscriber.disconnect();
        this.#commands.disconnect();
      }
    })();
    return this.#closing;
  }
}
