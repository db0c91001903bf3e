// Bad requests to the OpenAI routes: each gets a 4xx with OpenAI's error body and the library's code,
// naming the value and the fix — never a 500, never a silently different image.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ShapesServer, startShapesServer } from '../support/shapes-server.js';

let s: ShapesServer;
beforeAll(async () => {
  s = await startShapesServer({ limits: { maxImages: 4, maxSteps: 60, maxSide: 256, bodyLimit: 64 * 1024 } });
}, 60_000);
afterAll(async () => {
  await s?.close();
});

interface OpenAiError {
  error: { message: string; type: string; param: string | null; code: string };
}

async function post(path: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${s.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as OpenAiError };
}

describe('POST /v1/images/generations refuses', () => {
  const cases: [string, unknown, number, string, RegExp][] = [
    ['no prompt', { n: 1 }, 400, 'INVALID_ARGUMENT', /prompt/],
    ['an empty prompt', { prompt: '' }, 400, 'INVALID_ARGUMENT', /prompt/],
    ['n as a string', { prompt: 'x', n: '2' }, 400, 'INVALID_ARGUMENT', /n must be integer/],
    ['n = 0', { prompt: 'x', n: 0 }, 400, 'INVALID_ARGUMENT', /n must be >= 1/],
    ['n over the limit', { prompt: 'x', n: 5 }, 413, 'LIMIT_EXCEEDED', /at most 4 images.*--max-images 5/],
    ['steps over the limit', { prompt: 'x', steps: 61 }, 413, 'LIMIT_EXCEEDED', /--max-steps 61/],
    [
      'a side over the limit',
      { prompt: 'x', size: '512x32' },
      413,
      'LIMIT_EXCEEDED',
      /width = 512.*--max-side 512/,
    ],
    [
      'a size not WxH',
      { prompt: 'x', size: 'large' },
      400,
      'INVALID_ARGUMENT',
      /size = "large".*WIDTHxHEIGHT/,
    ],
    [
      'a size not a multiple of 8',
      { prompt: 'x', size: '36x32' },
      400,
      'INVALID_ARGUMENT',
      /width = 36.*multiple of 8.*Fix: use 32 or 40/,
    ],
    ['response_format url', { prompt: 'x', response_format: 'url' }, 400, 'INVALID_ARGUMENT', /b64_json/],
    ['output_format jpeg', { prompt: 'x', output_format: 'jpeg' }, 400, 'INVALID_ARGUMENT', /"png"/],
    [
      'a misspelt extra',
      { prompt: 'x', guidence_scale: 3 },
      400,
      'INVALID_ARGUMENT',
      /did you mean "guidance_scale"/,
    ],
    ['an unknown scheduler', { prompt: 'x', scheduler: 'Euler z' }, 400, 'UNKNOWN_SCHEDULER', /Euler z/],
    ['a negative seed other than -1', { prompt: 'x', seed: -2 }, 400, 'INVALID_ARGUMENT', /seed/],
    [
      'another model',
      { prompt: 'x', model: 'dall-e-3' },
      404,
      'MODEL_NOT_FOUND',
      /"dall-e-3".*GET \/v1\/models/,
    ],
    ['clip_skip 0', { prompt: 'x', clip_skip: 0 }, 400, 'INVALID_ARGUMENT', /clip_skip/],
  ];
  for (const [what, body, status, code, message] of cases) {
    it(what, async () => {
      const res = await post('/v1/images/generations', body);
      expect(res.status).toBe(status);
      expect(res.body.error.code).toBe(code);
      expect(res.body.error.type).toBe('invalid_request_error');
      expect(res.body.error.message).toMatch(message);
    });
  }

  it('malformed JSON', async () => {
    const res = await post('/v1/images/generations', '{"prompt": ');
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('INVALID_ARGUMENT');
  });

  it('a body over the limit: 413 PAYLOAD_TOO_LARGE', async () => {
    const res = await post('/v1/images/generations', { prompt: 'x'.repeat(70 * 1024) });
    expect(res.status).toBe(413);
    expect(res.body.error.code).toBe('PAYLOAD_TOO_LARGE');
    expect(res.body.error.message).toMatch(/--body-limit/);
  });
});

describe('POST /v1/images/edits refuses', () => {
  async function edit(form: FormData) {
    const res = await fetch(`${s.url}/v1/images/edits`, { method: 'POST', body: form });
    return { status: res.status, body: (await res.json()) as OpenAiError };
  }
  const png = (bytes: string) => new Blob([Buffer.from(bytes)], { type: 'image/png' });

  it('JSON instead of a multipart form', async () => {
    const res = await post('/v1/images/edits', { prompt: 'x' });
    expect(res.status).toBe(400);
    expect(res.body.error.message).toMatch(/multipart\/form-data/);
  });

  it('no image', async () => {
    const form = new FormData();
    form.set('prompt', 'x');
    const res = await edit(form);
    expect(res.status).toBe(400);
    expect(res.body.error.param).toBe('image');
  });

  it('an image that is not a PNG', async () => {
    const form = new FormData();
    form.set('prompt', 'x');
    form.set('image', png('GIF89a not a png'), 'a.png');
    const res = await edit(form);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('INVALID_ARGUMENT');
    expect(res.body.error.message).toMatch(/image .*expected a PNG image/);
  });

  it('strength that is not a number', async () => {
    const form = new FormData();
    form.set('prompt', 'x');
    form.set('strength', 'high');
    form.set('image', png('x'), 'a.png');
    const res = await edit(form);
    expect(res.status).toBe(400);
    expect(res.body.error.message).toMatch(/strength = "high".*a number/);
  });
});

describe('routes and keys', () => {
  it('an unknown route under /v1: 404 NOT_FOUND in OpenAI form', async () => {
    const res = await post('/v1/images/variations', { prompt: 'x' });
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('NOT_FOUND');
  });
});
