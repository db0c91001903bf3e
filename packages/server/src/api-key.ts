import { timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { ServerError } from './server-error.js';

function sameKey(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * The API key of a request (`Authorization: Bearer <key>`), checked against `keys` in constant time.
 * Without keys configured every request is let in and its client address stands in for the key (for the
 * per-key concurrency limit).
 *
 * @throws ServerError UNAUTHORIZED (401) when keys are configured and the request has none of them.
 */
export function requestKey(request: FastifyRequest, keys: readonly string[] | undefined): string {
  if (!keys || keys.length === 0) return `ip:${request.ip}`;
  const header = request.headers.authorization;
  const match = typeof header === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
  if (!match) {
    throw new ServerError(
      'UNAUTHORIZED',
      'this server needs an API key: send "Authorization: Bearer <key>" (the OpenAI client sends its apiKey so).',
    );
  }
  const key = match[1]!;
  if (!keys.some((k) => sameKey(k, key))) {
    throw new ServerError(
      'UNAUTHORIZED',
      'the API key is not one this server accepts. Fix: use a key from --api-key.',
    );
  }
  return `key:${key}`;
}
