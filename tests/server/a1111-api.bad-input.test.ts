// Bad requests to the A1111 routes: each gets a 4xx (or 501 for an A1111 feature not built here) with
// A1111's error body ({ error, detail, body, errors }) and the library's code, naming the field and the fix —
// never a 500, never a silently different image.
import { encodePng } from '@latentkit/backend-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ShapesServer, startShapesServer } from '../support/shapes-server.js';

let s: ShapesServer;
beforeAll(async () => {
  s = await startShapesServer({
    limits: { maxImages: 4, maxSteps: 60, maxSide: 256, bodyLimit: 256 * 1024 },
  });
}, 60_000);
afterAll(async () => {
  await s?.close();
});

interface A1111Error {
  error: string;
  code: string;
  detail: string;
  body: string;
  errors: string;
}

async function post(path: string, body: unknown) {
  const res = await fetch(`${s.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as A1111Error };
}

/** A small valid txt2img body (what the cases change). */
const base = { prompt: 'a red circle', seed: 1, steps: 4, width: 32, height: 32, sampler_name: 'Euler' };
const png = (width: number, height: number) =>
  Buffer.from(
    encodePng({ width, height, data: new Uint8ClampedArray(width * height * 4).fill(255) }),
  ).toString('base64');
/** A valid img2img body with whole-picture inpainting settings. */
const img2img = {
  ...base,
  init_images: [png(32, 32)],
  denoising_strength: 0.5,
  inpaint_full_res: false,
  inpainting_fill: 1,
};

type Case = [string, Record<string, unknown>, number, string, RegExp];

describe('POST /sdapi/v1/txt2img refuses', () => {
  const cases: Case[] = [
    [
      'a misspelt field',
      { ...base, negative_promt: 'x' },
      400,
      'INVALID_ARGUMENT',
      /did you mean "negative_prompt"/,
    ],
    ['an unknown field', { ...base, cfg: 7 }, 400, 'INVALID_ARGUMENT', /cfg.*known fields/],
    ['steps as a string', { ...base, steps: '20' }, 400, 'INVALID_ARGUMENT', /steps must be integer/],
    ['a prompt that is an object', { ...base, prompt: { text: 'x' } }, 400, 'INVALID_ARGUMENT', /prompt/],
    ['batch_size 0', { ...base, batch_size: 0 }, 400, 'INVALID_ARGUMENT', /batch_size must be >= 1/],
    ['cfg_scale as a bool', { ...base, cfg_scale: true }, 400, 'INVALID_ARGUMENT', /cfg_scale/],
    ['a negative seed other than -1', { ...base, seed: -5 }, 400, 'INVALID_ARGUMENT', /seed = -5/],
    [
      'a width not a multiple of 8',
      { ...base, width: 36 },
      400,
      'INVALID_ARGUMENT',
      /width = 36.*multiple of 8/,
    ],
    ['steps over the limit', { ...base, steps: 61 }, 413, 'LIMIT_EXCEEDED', /--max-steps 61/],
    [
      'batch_size × n_iter over the limit',
      { ...base, batch_size: 3, n_iter: 2 },
      413,
      'LIMIT_EXCEEDED',
      /at most 4 images.*batch_size.*n_iter/,
    ],
    ['a side over the limit', { ...base, height: 512 }, 413, 'LIMIT_EXCEEDED', /--max-side 512/],
    ['an unknown sampler', { ...base, sampler_name: 'Euler z' }, 400, 'UNKNOWN_SCHEDULER', /Euler z/],
    [
      'a scheduler without a sampler',
      { ...base, sampler_name: null, scheduler: 'Karras' },
      400,
      'INVALID_ARGUMENT',
      /sampler_name/,
    ],
    // A1111 features not built here: 501, naming the field and what to send.
    [
      'enable_hr',
      { ...base, enable_hr: true },
      501,
      'NOT_IMPLEMENTED',
      /"enable_hr": true.*hires fix.*false/,
    ],
    ['restore_faces', { ...base, restore_faces: true }, 501, 'NOT_IMPLEMENTED', /face restoration/],
    ['tiling', { ...base, tiling: true }, 501, 'NOT_IMPLEMENTED', /tiling/],
    ['subseed_strength', { ...base, subseed_strength: 0.3 }, 501, 'NOT_IMPLEMENTED', /variation seeds/],
    ['styles', { ...base, styles: ['Cinematic'] }, 501, 'NOT_IMPLEMENTED', /styles/],
    ['a script', { ...base, script_name: 'x/y/z plot' }, 501, 'NOT_IMPLEMENTED', /scripts/],
    [
      'an always-on script with content',
      { ...base, alwayson_scripts: { controlnet: { args: [{ enabled: true }] } } },
      501,
      'NOT_IMPLEMENTED',
      /ControlNet/,
    ],
    ['s_churn', { ...base, s_churn: 0.5 }, 501, 'NOT_IMPLEMENTED', /sigma churn/],
    [
      'a scheduler other than Automatic / Karras',
      { ...base, sampler_name: 'DPM++ 2M', scheduler: 'Exponential' },
      501,
      'NOT_IMPLEMENTED',
      /"Exponential".*"Karras" or "Automatic"/,
    ],
    [
      'Karras for a sampler without a Karras variant',
      { ...base, sampler_name: 'Euler a', scheduler: 'Karras' },
      501,
      'NOT_IMPLEMENTED',
      /no Karras variant/,
    ],
    [
      'eta other than 1 with an ancestral sampler',
      { ...base, sampler_name: 'Euler a', eta: 0.5 },
      501,
      'NOT_IMPLEMENTED',
      /η other than 1/,
    ],
    [
      'another checkpoint in override_settings',
      { ...base, override_settings: { sd_model_checkpoint: 'v1-5-pruned-emaonly.safetensors [6ce0161689]' } },
      501,
      'NOT_IMPLEMENTED',
      /serves one model, "shapes"/,
    ],
    [
      'an override setting not applied per request',
      { ...base, override_settings: { sd_vae: 'vae-ft-mse-840000-ema-pruned.safetensors' } },
      501,
      'NOT_IMPLEMENTED',
      /override_settings.sd_vae/,
    ],
  ];
  it.each(cases)('%s', async (_, body, status, code, message) => {
    const res = await post('/sdapi/v1/txt2img', body);
    expect(res.status).toBe(status);
    expect(res.body.code).toBe(code);
    expect(res.body.detail).toMatch(message);
    expect(res.body.errors).toBe(res.body.detail);
  });

  it('a body that is not a JSON object', async () => {
    const res = await post('/sdapi/v1/txt2img', '[1, 2]');
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('INVALID_ARGUMENT');
  });
});

describe('POST /sdapi/v1/img2img refuses', () => {
  const cases: Case[] = [
    ['no init image', { ...base }, 400, 'INVALID_ARGUMENT', /init_images.*base64 PNG/],
    ['an empty init image list', { ...img2img, init_images: [] }, 400, 'INVALID_ARGUMENT', /init_images/],
    [
      'an init image that is not base64',
      { ...img2img, init_images: ['not base64 at all!'] },
      400,
      'INVALID_ARGUMENT',
      /init_images\[0\].*base64/,
    ],
    [
      'an init image that is base64 but not a PNG',
      { ...img2img, init_images: [Buffer.from('GIF89a not a png').toString('base64')] },
      400,
      'INVALID_ARGUMENT',
      /init_images\[0\].*PNG/,
    ],
    ['a mask that is not base64', { ...img2img, mask: '%%%' }, 400, 'INVALID_ARGUMENT', /mask.*base64/],
    [
      'denoising_strength over 1',
      { ...img2img, denoising_strength: 1.5 },
      400,
      'INVALID_ARGUMENT',
      /denoising_strength/,
    ],
    [
      'inpainting_mask_invert 2',
      { ...img2img, inpainting_mask_invert: 2 },
      400,
      'INVALID_ARGUMENT',
      /inpainting_mask_invert/,
    ],
    ['a hires field (txt2img only)', { ...img2img, enable_hr: false }, 400, 'INVALID_ARGUMENT', /enable_hr/],
    [
      'resize_mode 1 (crop and resize)',
      { ...img2img, resize_mode: 1 },
      501,
      'NOT_IMPLEMENTED',
      /resize_mode.*"Just resize"/,
    ],
    [
      'two init images',
      { ...img2img, init_images: [png(32, 32), png(32, 32)] },
      501,
      'NOT_IMPLEMENTED',
      /several init images/,
    ],
    [
      'inpainting "Only masked" (A1111\'s default inpaint_full_res)',
      { ...img2img, mask: png(32, 32), inpaint_full_res: true },
      501,
      'NOT_IMPLEMENTED',
      /inpaint_full_res.*"inpaint_full_res": false/,
    ],
    [
      'masked content "fill" (A1111\'s default inpainting_fill 0)',
      { ...img2img, mask: png(32, 32), inpainting_fill: 0 },
      501,
      'NOT_IMPLEMENTED',
      /"inpainting_fill": 1/,
    ],
  ];
  it.each(cases)('%s', async (_, body, status, code, message) => {
    const res = await post('/sdapi/v1/img2img', body);
    expect(res.status).toBe(status);
    expect(res.body.code).toBe(code);
    expect(res.body.detail).toMatch(message);
  });

  it('inpainting fields are neutral without a mask (plain img2img runs); inpaint_full_res may be 0', async () => {
    const res = await post('/sdapi/v1/img2img', { ...img2img, inpaint_full_res: true, inpainting_fill: 0 });
    expect(res.status).toBe(200);
    const zero = await post('/sdapi/v1/img2img', { ...img2img, mask: png(32, 32), inpaint_full_res: 0 });
    expect(zero.status).toBe(200);
    const two = await post('/sdapi/v1/img2img', { ...img2img, mask: png(32, 32), inpaint_full_res: 2 });
    expect(two.status).toBe(400);
    expect(two.body.code).toBe('INVALID_ARGUMENT');
  });
});

describe('other A1111 routes refuse', () => {
  it('skip: 501 pointing to interrupt', async () => {
    const res = await post('/sdapi/v1/skip', {});
    expect(res.status).toBe(501);
    expect(res.body).toMatchObject({ code: 'NOT_IMPLEMENTED', error: 'NotImplementedError' });
    expect(res.body.detail).toMatch(/interrupt/);
  });

  it('POST options switching the model, or changing an option: 501', async () => {
    const model = await post('/sdapi/v1/options', { sd_model_checkpoint: 'sd_xl_base_1.0.safetensors' });
    expect(model.status).toBe(501);
    expect(model.body.detail).toMatch(/serves one model, "shapes"/);
    const option = await post('/sdapi/v1/options', { CLIP_stop_at_last_layers: 2 });
    expect(option.status).toBe(501);
    expect(option.body.detail).toMatch(/override_settings.CLIP_stop_at_last_layers/);
  });

  it('progress with a bad skip_current_image', async () => {
    const res = await fetch(`${s.url}/sdapi/v1/progress?skip_current_image=maybe`);
    expect(res.status).toBe(400);
    expect(((await res.json()) as A1111Error).code).toBe('INVALID_ARGUMENT');
  });
});

describe('with API keys', () => {
  let keyed: ShapesServer;
  beforeAll(async () => {
    keyed = await startShapesServer({ apiKeys: ['k1'] });
  }, 60_000);
  afterAll(async () => {
    await keyed?.close();
  });

  it('every A1111 route needs the key (401 without it, 200 with it)', async () => {
    const routes: [string, string, unknown?][] = [
      ['POST', '/sdapi/v1/txt2img', base],
      ['POST', '/sdapi/v1/img2img', img2img],
      ['GET', '/sdapi/v1/progress'],
      ['POST', '/sdapi/v1/interrupt', {}],
      ['GET', '/sdapi/v1/samplers'],
      ['GET', '/sdapi/v1/schedulers'],
      ['GET', '/sdapi/v1/sd-models'],
      ['GET', '/sdapi/v1/options'],
    ];
    for (const [method, path, body] of routes) {
      for (const key of [undefined, 'k1']) {
        const headers: Record<string, string> = key ? { authorization: `Bearer ${key}` } : {};
        if (body !== undefined) headers['content-type'] = 'application/json';
        const res = await fetch(`${keyed.url}${path}`, {
          method,
          headers,
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        });
        expect(res.status, `${method} ${path} key ${key}`).toBe(key ? 200 : 401);
        if (!key) expect(((await res.json()) as A1111Error).code).toBe('UNAUTHORIZED');
        else await res.arrayBuffer();
      }
    }
  });
});
