import type { FastifyReply, FastifyRequest } from 'fastify';
import { requestKey } from './api-key.js';
import type { GenerationProgress, GenerationRequest, GenerationResult } from './generation-request.js';
import { KeyConcurrency } from './key-concurrency.js';
import type { ServerMetrics } from './metrics.js';
import type { JobQueue } from './queue/job-queue.js';
import { checkRequestLimits } from './request-checks.js';
import { ServerError } from './server-error.js';
import type { ModelDefaults, RequestLimits } from './server-options.js';

/** Which API a request came through (a metrics label, and the shape of error bodies). */
export type ApiName = 'openai' | 'a1111';

/** What every route module gets: the queue, the model, the limits, and {@link ServerContext.generate}. */
export class ServerContext {
  /** Where jobs go. */
  readonly queue: JobQueue;
  /** The served model's id. */
  readonly modelName: string;
  /** Defaults for what a request leaves out. */
  readonly defaults: ModelDefaults;
  /** The request limits in force. */
  readonly limits: RequestLimits;
  /** The metrics `/metrics` serves. */
  readonly metrics: ServerMetrics;
  readonly #apiKeys: readonly string[] | undefined;
  readonly #perKey: KeyConcurrency;
  /** The key (or client address) of each request the hook let in. */
  readonly #keys = new WeakMap<FastifyRequest, string>();

  /** @param init - The parts; see {@link ServerOptions}. */
  constructor(init: {
    queue: JobQueue;
    modelName: string;
    defaults: ModelDefaults;
    limits: RequestLimits;
    metrics: ServerMetrics;
    apiKeys: readonly string[] | undefined;
  }) {
    this.queue = init.queue;
    this.modelName = init.modelName;
    this.defaults = init.defaults;
    this.limits = init.limits;
    this.metrics = init.metrics;
    this.#apiKeys = init.apiKeys;
    this.#perKey = new KeyConcurrency(init.limits.maxConcurrentPerKey);
  }

  /**
   * Checks the request's API key (401 without a valid one when keys are configured) and remembers whose
   * request it is for the per-key limit. `createServer` calls it once per request, in an `onRequest` hook.
   */
  authenticate(request: FastifyRequest): void {
    this.#keys.set(request, requestKey(request, this.#apiKeys));
  }

  /**
   * Runs one generation for an HTTP request: checks the limits, takes a per-key slot (429 over the limit),
   * submits to the queue with an `AbortSignal` that fires when the client goes away, and records metrics.
   */
  async generate(
    api: ApiName,
    request: FastifyRequest,
    reply: FastifyReply,
    job: GenerationRequest,
    onProgress?: (progress: GenerationProgress) => void,
  ): Promise<GenerationResult> {
    const started = performance.now();
    try {
      if (job.model !== this.modelName) {
        throw new ServerError(
          'MODEL_NOT_FOUND',
          `model ${JSON.stringify(job.model)} is not served here: expected ${JSON.stringify(this.modelName)}. Fix: leave "model" out, or ask GET /v1/models for the id.`,
        );
      }
      checkRequestLimits(job, this.limits);
      const release = this.#perKey.acquire(this.#keys.get(request) ?? requestKey(request, this.#apiKeys));
      const controller = new AbortController();
      // The client went away before the answer was written: cancel its job.
      const onClose = () => {
        if (!reply.raw.writableFinished) {
          controller.abort(
            new ServerError('CANCELLED', 'the client closed the connection before the answer'),
          );
        }
      };
      reply.raw.on('close', onClose);
      try {
        const options = onProgress
          ? { signal: controller.signal, onProgress }
          : { signal: controller.signal };
        const result = await this.queue.submit(job, options);
        this.metrics.generationSeconds.observe({ api }, result.seconds);
        this.metrics.images.inc({ api }, result.images.length);
        return result;
      } finally {
        reply.raw.off('close', onClose);
        release();
      }
    } finally {
      this.metrics.requestSeconds.observe({ api }, (performance.now() - started) / 1000);
    }
  }
}
