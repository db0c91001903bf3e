import type { FastifyInstance } from 'fastify';
import type { ServerContext } from '../server-context.js';

/**
 * `/healthz`: the process answers (liveness; no key needed). `/readyz`: jobs can run now — the in-process
 * queue is open, or Redis answers and at least one worker is connected (readiness; 503 otherwise).
 * `/metrics`: Prometheus text.
 */
export function healthRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    const state = await ctx.queue.ready();
    if (!state.ready)
      return reply.code(503).send({ status: 'not ready', reason: state.reason, mode: ctx.queue.mode });
    return { status: 'ready', mode: ctx.queue.mode };
  });
  app.get('/metrics', async (_request, reply) => {
    reply.type(ctx.metrics.registry.contentType);
    return ctx.metrics.registry.metrics();
  });
}
