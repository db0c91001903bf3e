import type { GenerationProgress, GenerationRequest, GenerationResult } from '../generation-request.js';
import { InterruptRequest, runGeneration, type ServablePipeline } from '../run-generation.js';
import { ServerError } from '../server-error.js';
import type { ActiveJob, JobQueue, QueueStatus, ReadyState, SubmitOptions } from './job-queue.js';

/** Options of {@link InProcessQueue}. */
export interface InProcessQueueOptions {
  /** The model's name (infotext `Model:`). */
  modelName: string;
  /** Jobs that run at once on the pipeline (each UNet call still takes the model's sessions in turn). Default 1. */
  concurrency?: number;
  /** Jobs that may wait; one more is refused with 503 QUEUE_UNAVAILABLE and `Retry-After`. Default 100. */
  maxWaiting?: number;
  /**
   * For jobs that ask for live previews (A1111's): decode one every this many steps (0: none), for `current_image`.
   * Default 10 (A1111's `show_progress_every_n_steps`); each preview costs one VAE decode of the first image.
   */
  previewEverySteps?: number;
}

interface Waiting {
  id: string;
  request: GenerationRequest;
  options: SubmitOptions;
  resolve: (result: GenerationResult) => void;
  reject: (error: unknown) => void;
  onAbort?: () => void;
}

interface Running extends ActiveJob {
  controller: AbortController;
}

/**
 * The queue of a single server process: jobs run here, on one loaded pipeline, at most `concurrency` at
 * a time, in arrival order. The pipeline's sessions run off the event loop (backend-node's worker
 * thread), so HTTP stays responsive while a job runs.
 */
export class InProcessQueue implements JobQueue {
  readonly mode = 'in-process' as const;
  readonly #pipe: ServablePipeline;
  readonly #options: Required<InProcessQueueOptions>;
  readonly #waiting: Waiting[] = [];
  readonly #running = new Map<string, Running>();
  #nextId = 1;
  #closed = false;
  #idle: (() => void) | undefined;

  /**
   * @param pipe - The loaded pipeline; the queue does not dispose it.
   * @param options - Name, concurrency, queue bound and previews.
   */
  constructor(pipe: ServablePipeline, options: InProcessQueueOptions) {
    this.#pipe = pipe;
    this.#options = {
      modelName: options.modelName,
      concurrency: options.concurrency ?? 1,
      maxWaiting: options.maxWaiting ?? 100,
      previewEverySteps: options.previewEverySteps ?? 10,
    };
  }

  submit(request: GenerationRequest, options: SubmitOptions = {}): Promise<GenerationResult> {
    if (this.#closed) {
      return Promise.reject(
        new ServerError('QUEUE_UNAVAILABLE', 'the server is shutting down. Fix: retry on another server.', {
          retryAfterSeconds: 1,
        }),
      );
    }
    if (this.#waiting.length >= this.#options.maxWaiting) {
      return Promise.reject(
        new ServerError(
          'QUEUE_UNAVAILABLE',
          `the queue is full (${this.#waiting.length} jobs waiting, maxWaiting ${this.#options.maxWaiting}). Fix: retry later, or start the server with a larger --max-waiting.`,
          { retryAfterSeconds: 5 },
        ),
      );
    }
    if (options.signal?.aborted) return Promise.reject(cancelled(options.signal));
    return new Promise<GenerationResult>((resolve, reject) => {
      const job: Waiting = { id: String(this.#nextId++), request, options, resolve, reject };
      if (options.signal) {
        job.onAbort = () => {
          const index = this.#waiting.indexOf(job);
          if (index >= 0) {
            this.#waiting.splice(index, 1);
            reject(cancelled(options.signal!));
          }
        };
        options.signal.addEventListener('abort', job.onAbort, { once: true });
      }
      this.#waiting.push(job);
      this.#pump();
    });
  }

  #pump(): void {
    while (this.#running.size < this.#options.concurrency && this.#waiting.length > 0) {
      const job = this.#waiting.shift()!;
      void this.#run(job);
    }
    if (this.#running.size === 0 && this.#waiting.length === 0) this.#idle?.();
  }

  async #run(job: Waiting): Promise<void> {
    const controller = new AbortController();
    const { signal: clientSignal, onProgress } = job.options;
    if (job.onAbort) clientSignal!.removeEventListener('abort', job.onAbort);
    const onClientAbort = () => controller.abort(cancelled(clientSignal!));
    clientSignal?.addEventListener('abort', onClientAbort, { once: true });
    const running: Running = {
      id: job.id,
      startedAt: Date.now(),
      progress: { step: 0, totalSteps: job.request.steps },
      controller,
    };
    this.#running.set(job.id, running);
    try {
      const result = await runGeneration(this.#pipe, job.request, {
        modelName: this.#options.modelName,
        signal: controller.signal,
        previewEverySteps: this.#options.previewEverySteps,
        onProgress: (progress: GenerationProgress) => {
          running.progress = progress;
          onProgress?.(progress);
        },
      });
      job.resolve(result);
    } catch (error) {
      job.reject(
        controller.signal.aborted && !(controller.signal.reason instanceof InterruptRequest)
          ? controller.signal.reason
          : error,
      );
    } finally {
      clientSignal?.removeEventListener('abort', onClientAbort);
      this.#running.delete(job.id);
      this.#pump();
    }
  }

  async status(): Promise<QueueStatus> {
    const active = [...this.#running.values()]
      .sort((a, b) => a.startedAt - b.startedAt)
      .map(({ id, startedAt, progress }) => ({ id, startedAt, progress }));
    return { waiting: this.#waiting.length, active };
  }

  async interruptAll(): Promise<number> {
    for (const job of this.#running.values()) job.controller.abort(new InterruptRequest());
    return this.#running.size;
  }

  async ready(): Promise<ReadyState> {
    return this.#closed ? { ready: false, reason: 'shutting down' } : { ready: true };
  }

  /** Refuses new jobs, lets the waiting and running ones finish, then resolves. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#running.size === 0 && this.#waiting.length === 0) return;
    await new Promise<void>((resolve) => {
      this.#idle = resolve;
    });
  }
}

function cancelled(signal: AbortSignal): ServerError {
  const reason = signal.reason;
  if (reason instanceof ServerError) return reason;
  return new ServerError(
    'CANCELLED',
    `the job was cancelled${reason instanceof Error ? ` (${reason.message})` : ''}`,
    { cause: reason },
  );
}
