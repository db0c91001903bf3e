import multipart from '@fastify/multipart';
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import { ServerMetrics } from './metrics.js';
import { a1111Routes } from './routes/a1111.js';
import { healthRoutes } from './routes/health.js';
import { openaiImageRoutes } from './routes/openai-images.js';
import { ServerContext } from './server-context.js';
import { errorReplyFor } from './server-error.js';
import { DEFAULT_REQUEST_LIMITS, type ServerOptions } from './server-options.js';

/** The API of a generation route (the failures metric counts these), or undefined for other routes. */
function generationApi(method: string, url: string): 'openai' | 'a1111' | undefined {
  if (method !== 'POST') return undefined;
  if (url.startsWith('/v1/images/')) return 'openai';
  if (url.startsWith('/sdapi/v1/txt2img') || url.startsWith('/sdapi/v1/img2img')) return 'a1111';
  return undefined;
}

/** A created server: its Fastify instance, `listen` and `close`. */
export interface LatentkitServer {
  /** The Fastify instance (add routes or hooks before `listen`; `inject` works without listening). */
  readonly app: FastifyInstance;
  /** What the routes share: queue, model, limits, metrics. */
  readonly context: ServerContext;
  /** Listens on `host:port` (port 0 picks a free one) and resolves with the base URL, e.g. `http://127.0.0.1:7860`. */
  listen(options?: { port?: number; host?: string }): Promise<string>;
  /** Stops taking connections, answers the requests in flight (their jobs finish), then closes the queue. */
  close(): Promise<void>;
}

/**
 * Creates the HTTP server: the OpenAI Images API under `/v1`, A1111's API under `/sdapi/v1`, `/healthz`,
 * `/readyz` and `/metrics`, over `options.queue`. Errors answer with the library's codes, in the error body
 * of the API that was called (docs/serving.md).
 *
 * ```ts
 * const pipe = await StableDiffusionPipeline.fromPretrained(shapesModelPath, { backend: nodeBackend });
 * const queue = new InProcessQueue(pipe, { modelName: 'shapes' });
 * const server = createServer({ queue, modelName: 'shapes', defaults: modelDefaults(pipe) });
 * console.log(await server.listen({ port: 7860 }));
 * ```
 */
export function createServer(options: ServerOptions): LatentkitServer {
  const limits = { ...DEFAULT_REQUEST_LIMITS, ...options.limits };
  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit: limits.bodyLimit,
    // Strict JSON types: "n": "2" is refused, not coerced (Fastify coerces by default).
    ajv: { customOptions: { coerceTypes: false } },
  });
  const metrics = new ServerMetrics(options.queue);
  const context = new ServerContext({
    queue: options.queue,
    modelName: options.modelName,
    defaults: options.defaults,
    limits,
    metrics,
    apiKeys: options.apiKeys,
  });

  app.register(multipart, { limits: { fileSize: limits.bodyLimit, files: 2, fields: 32 } });
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const e = errorReplyFor(error);
    if (e.retryAfterSeconds !== undefined) reply.header('retry-after', String(e.retryAfterSeconds));
    if (e.statusCode >= 500) request.log.error(error);
    const api = generationApi(request.method, request.url);
    if (api) metrics.failures.inc({ api, code: e.code });
    if (request.url.startsWith('/v1/')) {
      // OpenAI's error body: { error: { message, type, param, code } }.
      return reply.code(e.statusCode).send({
        error: {
          message: e.message,
          type: e.statusCode < 500 ? 'invalid_request_error' : 'server_error',
          param: e.param ?? null,
          code: e.code,
        },
      });
    }
    // A1111's (FastAPI's) error body: { error, detail, body, errors }, plus the library's code.
    return reply
      .code(e.statusCode)
      .send({ error: e.name, code: e.code, detail: e.message, body: '', errors: e.message });
  });
  app.setNotFoundHandler((request, reply) => {
    const message = `no route ${request.method} ${request.url.split('?')[0]}. Fix: see docs/serving.md for the routes (/v1/images/generations, /sdapi/v1/txt2img, …).`;
    if (request.url.startsWith('/v1/')) {
      return reply
        .code(404)
        .send({ error: { message, type: 'invalid_request_error', param: null, code: 'NOT_FOUND' } });
    }
    return reply
      .code(404)
      .send({ error: 'ServerError', code: 'NOT_FOUND', detail: message, body: '', errors: message });
  });

  // Every route but /healthz (liveness probes carry no key) needs an API key when keys are configured:
  // checked once here, before the body is read.
  app.addHook('onRequest', async (request) => {
    if (request.routeOptions.url !== '/healthz') context.authenticate(request);
  });
  healthRoutes(app, context);
  openaiImageRoutes(app, context);
  a1111Routes(app, context);

  return {
    app,
    context,
    async listen({ port = 7860, host = '127.0.0.1' } = {}) {
      await app.listen({ port, host });
      const address = app.server.address();
      const actual = typeof address === 'object' && address ? address.port : port;
      return `http://${host.includes(':') ? `[${host}]` : host}:${actual}`;
    },
    async close() {
      // Fastify's close waits for every connection; a keep-alive connection whose last answer went out after
      // close began would hold it for its keep-alive timeout (72 s): close connections as they go idle.
      const idle = setInterval(() => app.server.closeIdleConnections(), 100);
      try {
        await app.close();
      } finally {
        clearInterval(idle);
      }
      await options.queue.close();
    },
  };
}
