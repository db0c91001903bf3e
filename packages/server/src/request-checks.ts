import { closestName, InvalidArgumentError, LimitExceededError } from '@latentkit/core';
import type { GenerationRequest } from './generation-request.js';
import type { RequestLimits } from './server-options.js';

/** A1111's "random seed": -1 (or no seed) picks one, as A1111 does, from [0, 2³²). */
export function resolveSeed(seed: number | undefined): number {
  if (seed === undefined || seed === -1) return Math.floor(Math.random() * 2 ** 32);
  if (!Number.isSafeInteger(seed) || seed < 0) {
    throw new InvalidArgumentError({
      name: 'seed',
      value: seed,
      expected: 'a whole number ≥ 0, or -1 for a random seed',
      fix: 'send e.g. "seed": 42',
    });
  }
  return seed;
}

/** `count` seeds from `first`: first, first+1, … (A1111's seeds for a batch). */
export function consecutiveSeeds(first: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => first + i);
}

/**
 * Checks a request against the server's limits before it is queued, so that a request over them fails
 * at once with LIMIT_EXCEEDED (413) instead of occupying a worker.
 */
export function checkRequestLimits(request: GenerationRequest, limits: RequestLimits): void {
  if (request.seeds.length > limits.maxImages) {
    throw new LimitExceededError({
      name: 'images',
      value: request.seeds.length,
      expected: `at most ${limits.maxImages} images per request`,
      fix: `ask for fewer images (OpenAI "n", A1111 "batch_size" × "n_iter"), or start the server with --max-images ${request.seeds.length}`,
    });
  }
  if (request.steps > limits.maxSteps) {
    throw new LimitExceededError({
      name: 'steps',
      value: request.steps,
      expected: `at most ${limits.maxSteps} steps`,
      fix: `ask for fewer steps, or start the server with --max-steps ${request.steps}`,
    });
  }
  for (const side of ['width', 'height'] as const) {
    if (request[side] > limits.maxSide) {
      throw new LimitExceededError({
        name: side,
        value: request[side],
        expected: `at most ${limits.maxSide} pixels`,
        fix: `ask for a smaller image, or start the server with --max-side ${request[side]}`,
      });
    }
  }
}

/**
 * Refuses keys a body should not have, naming the closest known one: an API that ignored a misspelt
 * `negative_promt` would return a silently different image.
 *
 * @throws InvalidArgumentError naming the first unknown key.
 */
export function checkBodyKeys(what: string, body: object, known: readonly string[]): void {
  for (const key of Object.keys(body)) {
    if (known.includes(key)) continue;
    const near = closestName(key, known);
    const hint = near ? `did you mean "${near}"? ` : '';
    throw new InvalidArgumentError({
      name: key,
      expected: `one of the fields of ${what}`,
      fix: `${hint}known fields: ${known.join(', ')}`,
    });
  }
}

/** `WIDTHxHEIGHT` (OpenAI's `size`) as numbers; `auto` or nothing gives `fallback`. */
export function parseSize(
  size: string | undefined,
  fallback: { width: number; height: number },
): { width: number; height: number } {
  if (size === undefined || size === 'auto') return fallback;
  const match = /^(\d{1,5})x(\d{1,5})$/.exec(size);
  if (!match) {
    throw new InvalidArgumentError({
      name: 'size',
      value: size,
      expected: 'WIDTHxHEIGHT in pixels, e.g. "512x512", or "auto" for the model\'s native size',
      fix: `send "size": "${fallback.width}x${fallback.height}"`,
    });
  }
  return { width: Number(match[1]), height: Number(match[2]) };
}
