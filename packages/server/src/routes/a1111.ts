import type { FastifyInstance } from 'fastify';
import type { ServerContext } from '../server-context.js';

/** AUTOMATIC1111's web UI API under `/sdapi/v1` (being built). */
export function a1111Routes(_app: FastifyInstance, _ctx: ServerContext): void {}
