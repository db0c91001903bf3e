/**
 * The bench's requests: a mix of prompts, seeds, step counts and samplers, half through the OpenAI Images
 * API and half through A1111's txt2img; each sent with a deadline, its images decoded and compared with the
 * same request run alone in this process by the library (max |diff| per byte; 0 expected).
 */
import { decodePng } from '@latentkit/backend-node';
import { type RgbaImage, type StableDiffusionPipeline, TorchGenerator } from '@latentkit/core';
import { createScheduler } from '@latentkit/schedulers';

/** One request of the bench. */
export interface BenchRequest {
  api: 'openai' | 'a1111';
  prompt: string;
  seed: number;
  steps: number;
  guidance: number;
  /** Images in the one batch (OpenAI `n`, A1111 `batch_size`); image i has seed + i. */
  images: number;
  /** A1111 sampler name; absent: the model's own (DDIM). */
  sampler?: string;
}

/** What happened to one request. */
export interface Outcome {
  request: BenchRequest;
  /** HTTP status; 0 when no answer came (network error, or the deadline passed: `hung`). */
  status: number;
  /** The error code of a 4xx/5xx answer. */
  code?: string;
  /** The error message of a 4xx/5xx answer. */
  message?: string;
  /** True when the deadline passed without an answer. */
  hung: boolean;
  /** Milliseconds from sending to the full answer. */
  ms: number;
  /** The images of a 200 answer, decoded (compared with the reference by {@link compareWithReferences}). */
  served?: RgbaImage[];
  /** The largest per-byte difference from the reference over the request's images (200 only); Infinity if an image is missing. */
  maxDiff?: number;
  /** The network error's message, if any. */
  error?: string;
}

const PROMPTS = [
  'a red circle on a blue background',
  'a green triangle on a yellow background',
  'a blue square on a red background',
  'a yellow circle on a green background',
  'a white square on a black background',
  'a purple triangle on an orange background',
  'a small red circle',
  'a large blue triangle',
];

/** `count` requests, deterministic: prompts, seeds, 10/20 steps, 1–2 images, DDIM or Euler a, both APIs. */
export function benchRequests(count: number, offset = 0): BenchRequest[] {
  return Array.from({ length: count }, (_, k) => {
    const i = k + offset;
    const request: BenchRequest = {
      api: i % 2 === 0 ? 'openai' : 'a1111',
      prompt: PROMPTS[i % PROMPTS.length]!,
      seed: 1000 + ((i * 7919) % 100_000),
      steps: i % 3 === 0 ? 10 : 20,
      guidance: i % 4 === 0 ? 7 : 5,
      images: i % 5 === 0 ? 2 : 1,
    };
    if (i % 6 === 1) request.sampler = 'Euler a';
    return request;
  });
}

function body(r: BenchRequest): { path: string; json: Record<string, unknown> } {
  if (r.api === 'openai') {
    return {
      path: '/v1/images/generations',
      json: {
        prompt: r.prompt,
        n: r.images,
        seed: r.seed,
        steps: r.steps,
        guidance_scale: r.guidance,
        response_format: 'b64_json',
        ...(r.sampler ? { scheduler: r.sampler } : {}),
      },
    };
  }
  return {
    path: '/sdapi/v1/txt2img',
    json: {
      prompt: r.prompt,
      seed: r.seed,
      steps: r.steps,
      cfg_scale: r.guidance,
      batch_size: r.images,
      n_iter: 1,
      width: 32,
      height: 32,
      ...(r.sampler ? { sampler_name: r.sampler } : {}),
    },
  };
}

/** The images of an answer (both APIs), as base64 PNGs. */
function imagesOf(r: BenchRequest, answer: unknown): string[] {
  if (r.api === 'openai')
    return ((answer as { data?: { b64_json: string }[] }).data ?? []).map((d) => d.b64_json);
  return (answer as { images?: string[] }).images ?? [];
}

/** Computes (once per request) what the library makes for it alone, in this process. */
export class References {
  readonly #pipe: StableDiffusionPipeline;
  readonly #cache = new Map<string, RgbaImage[]>();

  constructor(pipe: StableDiffusionPipeline) {
    this.#pipe = pipe;
  }

  static key(r: BenchRequest): string {
    return JSON.stringify([r.prompt, r.seed, r.steps, r.guidance, r.images, r.sampler ?? '']);
  }

  /** The reference images of `r` (computed now unless cached). */
  async of(r: BenchRequest): Promise<RgbaImage[]> {
    const key = References.key(r);
    const cached = this.#cache.get(key);
    if (cached) return cached;
    const base = this.#pipe.scheduler;
    if (r.sampler) this.#pipe.scheduler = createScheduler(r.sampler, base.config);
    try {
      const { images } = await this.#pipe.generate({
        prompt: r.prompt,
        numInferenceSteps: r.steps,
        guidanceScale: r.guidance,
        numImagesPerPrompt: r.images,
        generator: Array.from({ length: r.images }, (_, i) => new TorchGenerator(r.seed + i)),
      });
      this.#cache.set(key, images);
      return images;
    } finally {
      this.#pipe.scheduler = base;
    }
  }
}

function maxPixelDiff(a: RgbaImage, b: RgbaImage): number {
  if (a.width !== b.width || a.height !== b.height) return Number.POSITIVE_INFINITY;
  let d = 0;
  for (let i = 0; i < a.data.length; i++) d = Math.max(d, Math.abs(a.data[i]! - b.data[i]!));
  return d;
}

/**
 * Sets each 200 outcome's `maxDiff`: its images against the same request run alone by the library (run
 * after a phase, so that the references do not compete with the workers for the CPU).
 */
export async function compareWithReferences(outcomes: readonly Outcome[], refs: References): Promise<void> {
  for (const o of outcomes) {
    if (o.status !== 200 || !o.served) continue;
    const expected = await refs.of(o.request);
    let maxDiff = o.served.length === expected.length ? 0 : Number.POSITIVE_INFINITY;
    for (const [i, image] of o.served.entries()) {
      const ref = expected[i];
      maxDiff = Math.max(maxDiff, ref ? maxPixelDiff(image, ref) : Number.POSITIVE_INFINITY);
    }
    o.maxDiff = maxDiff;
    delete o.served;
  }
}

/** A field of an error body: A1111's top-level `a1111Key` (a string), else OpenAI's `error[openAiKey]`. */
function errorField(
  answer: Record<string, unknown>,
  a1111Key: string,
  openAiKey: string,
): string | undefined {
  const own = answer[a1111Key];
  if (typeof own === 'string') return own;
  const error = answer['error'];
  return typeof error === 'object' && error !== null
    ? String((error as Record<string, unknown>)[openAiKey])
    : undefined;
}

/** Sends `r` to `url` with a deadline of `deadlineMs`; the images of a 200 answer are kept, decoded. */
export async function send(url: string, r: BenchRequest, deadlineMs: number): Promise<Outcome> {
  const { path, json } = body(r);
  const started = performance.now();
  try {
    const res = await fetch(`${url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(json),
      signal: AbortSignal.timeout(deadlineMs),
    });
    const answer = (await res.json()) as Record<string, unknown>;
    const ms = performance.now() - started;
    if (res.status !== 200) {
      const code = errorField(answer, 'code', 'code');
      const message = errorField(answer, 'detail', 'message');
      return {
        request: r,
        status: res.status,
        hung: false,
        ms,
        ...(code ? { code } : {}),
        ...(message ? { message } : {}),
      };
    }
    const served = imagesOf(r, answer).map((b64) => decodePng(Buffer.from(b64, 'base64')));
    return { request: r, status: 200, hung: false, ms, served };
  } catch (error) {
    const hung = error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError');
    return {
      request: r,
      status: 0,
      hung,
      ms: performance.now() - started,
      error: error instanceof Error ? error.message : String(error),
    };
  }
}

/**
 * Runs `requests` from `clients` concurrent clients (each takes the next request when its last is
 * answered) and resolves with the outcomes in request order and the wall time.
 */
export async function runClients(
  url: string,
  requests: readonly BenchRequest[],
  clients: number,
  deadlineMs: number,
): Promise<{ outcomes: Outcome[]; wallMs: number }> {
  const outcomes: Outcome[] = new Array(requests.length);
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (next < requests.length) {
        const i = next++;
        outcomes[i] = await send(url, requests[i]!, deadlineMs);
      }
    }),
  );
  return { outcomes, wallMs: performance.now() - started };
}

/** The p-th percentile (0–100) of `values`, nearest rank. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}
