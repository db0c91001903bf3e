// AUTOMATIC1111's /sdapi/v1 API of @latentkit/server over real HTTP, with bodies shaped as A1111 clients send
// them (every field, at A1111 1.10's defaults): every image must equal (max |diff| 0 per byte) what the
// library makes in-process for the same settings.
import { encodePng, readTextChunks } from '@latentkit/backend-node';
import { type GenerateOptions, type RgbaImage, resizeLanczos } from '@latentkit/core';
import { createScheduler } from '@latentkit/schedulers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  decodeBase64Png,
  maxPixelDiff,
  type ShapesServer,
  startShapesServer,
} from '../support/shapes-server.js';

let s: ShapesServer;

beforeAll(async () => {
  s = await startShapesServer();
}, 60_000);
afterAll(async () => {
  await s?.close();
});

/** The txt2img body an A1111 1.10 client sends: every field of the API's schema, at its default. */
function txt2imgPayload(overrides: Record<string, unknown>): Record<string, unknown> {
  return {
    prompt: '',
    negative_prompt: '',
    styles: [],
    seed: -1,
    subseed: -1,
    subseed_strength: 0,
    seed_resize_from_h: -1,
    seed_resize_from_w: -1,
    sampler_name: 'Euler',
    scheduler: 'Automatic',
    batch_size: 1,
    n_iter: 1,
    steps: 50,
    cfg_scale: 7,
    width: 512,
    height: 512,
    restore_faces: false,
    tiling: false,
    do_not_save_samples: false,
    do_not_save_grid: false,
    eta: null,
    denoising_strength: 0,
    s_min_uncond: 0,
    s_churn: 0,
    s_tmax: 0,
    s_tmin: 0,
    s_noise: 1,
    override_settings: {},
    override_settings_restore_afterwards: true,
    refiner_checkpoint: null,
    refiner_switch_at: null,
    disable_extra_networks: false,
    firstpass_image: null,
    comments: {},
    enable_hr: false,
    firstphase_width: 0,
    firstphase_height: 0,
    hr_scale: 2,
    hr_upscaler: null,
    hr_second_pass_steps: 0,
    hr_resize_x: 0,
    hr_resize_y: 0,
    hr_checkpoint_name: null,
    hr_sampler_name: null,
    hr_scheduler: null,
    hr_prompt: '',
    hr_negative_prompt: '',
    force_task_id: null,
    sampler_index: 'Euler',
    script_name: null,
    script_args: [],
    send_images: true,
    save_images: false,
    alwayson_scripts: {},
    infotext: null,
    ...overrides,
  };
}

/** The img2img body an A1111 1.10 client sends, with whole-picture inpainting of the original content. */
function img2imgPayload(overrides: Record<string, unknown>): Record<string, unknown> {
  const {
    enable_hr: _e,
    firstphase_width: _fw,
    firstphase_height: _fh,
    hr_scale: _hs,
    hr_upscaler: _hu,
    hr_second_pass_steps: _hss,
    hr_resize_x: _hx,
    hr_resize_y: _hy,
    hr_checkpoint_name: _hc,
    hr_sampler_name: _hsn,
    hr_scheduler: _hsc,
    hr_prompt: _hp,
    hr_negative_prompt: _hnp,
    ...common
  } = txt2imgPayload({});
  return {
    ...common,
    init_images: [],
    resize_mode: 0,
    image_cfg_scale: 0,
    mask: null,
    mask_blur_x: 4,
    mask_blur_y: 4,
    mask_blur: 0,
    mask_round: true,
    inpainting_fill: 1,
    inpaint_full_res: false,
    inpaint_full_res_padding: 0,
    inpainting_mask_invert: 0,
    initial_noise_multiplier: 1,
    latent_mask: null,
    include_init_images: false,
    denoising_strength: 0.75,
    ...overrides,
  };
}

interface A1111Response {
  images: string[];
  parameters: Record<string, unknown>;
  info: string;
}

async function post(path: string, body: unknown): Promise<{ status: number; json: A1111Response }> {
  const res = await fetch(`${s.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as A1111Response };
}

async function get<T>(path: string): Promise<T> {
  const res = await fetch(`${s.url}${path}`);
  expect(res.status).toBe(200);
  return (await res.json()) as T;
}

/** The library's images for `options`, with the scheduler an A1111 sampler name gives. */
async function library(sampler: string, options: GenerateOptions): Promise<RgbaImage[]> {
  const base = s.pipe.scheduler;
  s.pipe.scheduler = createScheduler(sampler, base.config);
  const call = s.pipe.generate(options);
  s.pipe.scheduler = base;
  return (await call).images as RgbaImage[];
}

const b64 = (image: RgbaImage) => Buffer.from(encodePng(image)).toString('base64');

describe('POST /sdapi/v1/txt2img', () => {
  it('a full default payload: the image equals the library run, with A1111 info and parameters', async () => {
    const prompt = 'a red circle on a blue background';
    const body = txt2imgPayload({
      prompt,
      negative_prompt: 'a green square',
      seed: 42,
      steps: 20,
      cfg_scale: 5,
      width: 32,
      height: 40,
    });
    const { status, json } = await post('/sdapi/v1/txt2img', body);
    expect(status).toBe(200);
    expect(json.images).toHaveLength(1);
    const [expected] = await library('Euler', {
      prompt,
      negativePrompt: 'a green square',
      seed: 42,
      numInferenceSteps: 20,
      guidanceScale: 5,
      width: 32,
      height: 40,
    });
    expect(maxPixelDiff(decodeBase64Png(json.images[0]!), expected!)).toBe(0);

    const info = JSON.parse(json.info) as Record<string, unknown>;
    for (const key of [
      'prompt',
      'all_prompts',
      'negative_prompt',
      'all_negative_prompts',
      'seed',
      'all_seeds',
      'subseed',
      'all_subseeds',
      'width',
      'height',
      'sampler_name',
      'cfg_scale',
      'steps',
      'batch_size',
      'sd_model_name',
      'sd_model_hash',
      'denoising_strength',
      'clip_skip',
      'infotexts',
      'index_of_first_image',
      'job_timestamp',
      'version',
    ]) {
      expect(info, key).toHaveProperty(key);
    }
    expect(info).toMatchObject({
      prompt,
      all_prompts: [prompt],
      negative_prompt: 'a green square',
      all_negative_prompts: ['a green square'],
      seed: 42,
      all_seeds: [42],
      width: 32,
      height: 40,
      sampler_name: 'Euler',
      cfg_scale: 5,
      steps: 20,
      batch_size: 1,
      sd_model_name: 'shapes',
      clip_skip: 1,
      index_of_first_image: 0,
    });
    expect(info['job_timestamp']).toMatch(/^\d{14}$/);
    const infotexts = info['infotexts'] as string[];
    expect(infotexts[0]).toBe(
      `${prompt}\nNegative prompt: a green square\nSteps: 20, Sampler: Euler, CFG scale: 5.0, Seed: 42, Size: 32x40, Model: shapes`,
    );
    // The PNG carries the same infotext, as A1111 writes it.
    expect(readTextChunks(Buffer.from(json.images[0]!, 'base64')).parameters).toBe(infotexts[0]);
    // parameters: the request's fields, with what was resolved.
    expect(json.parameters).toMatchObject({ prompt, seed: 42, steps: 20, width: 32, sampler_name: 'Euler' });
    expect(Object.keys(json.parameters).sort()).toEqual(Object.keys(body).sort());
  });

  it("a minimal body ({prompt, steps}, as in A1111's wiki) uses the model's size, guidance and scheduler", async () => {
    const { status, json } = await post('/sdapi/v1/txt2img', { prompt: 'maltese puppy', steps: 5, seed: 8 });
    expect(status).toBe(200);
    const { images } = await s.pipe.generate({
      prompt: 'maltese puppy',
      numInferenceSteps: 5,
      seed: 8,
      guidanceScale: 5,
    });
    expect(maxPixelDiff(decodeBase64Png(json.images[0]!), (images as RgbaImage[])[0]!)).toBe(0);
    const info = JSON.parse(json.info) as { width: number; cfg_scale: number; sampler_name: string };
    expect(info).toMatchObject({ width: 32, cfg_scale: 5 });
    expect(json.parameters['sampler_name']).toBe(info.sampler_name);
  });

  it('batch_size 2 × n_iter 2 gives seeds s..s+3, each equal to its single run; seed -1 picks one', async () => {
    const prompt = 'a yellow triangle';
    const { json } = await post(
      '/sdapi/v1/txt2img',
      txt2imgPayload({
        prompt,
        seed: 7,
        steps: 12,
        cfg_scale: 5,
        width: 32,
        height: 32,
        batch_size: 2,
        n_iter: 2,
      }),
    );
    expect(json.images).toHaveLength(4);
    const info = JSON.parse(json.info) as {
      all_seeds: number[];
      seed: number;
      batch_size: number;
      infotexts: string[];
    };
    expect(info.all_seeds).toEqual([7, 8, 9, 10]);
    expect(info.batch_size).toBe(2);
    for (const [i, seed] of [7, 8, 9, 10].entries()) {
      const [expected] = await library('Euler', {
        prompt,
        seed,
        numInferenceSteps: 12,
        guidanceScale: 5,
        width: 32,
        height: 32,
      });
      expect(maxPixelDiff(decodeBase64Png(json.images[i]!), expected!), `seed ${seed}`).toBe(0);
      expect(info.infotexts[i]).toContain(`Seed: ${seed},`);
    }

    const random = await post(
      '/sdapi/v1/txt2img',
      txt2imgPayload({ prompt, steps: 6, width: 32, height: 32 }),
    );
    const picked = (JSON.parse(random.json.info) as { seed: number }).seed;
    expect(Number.isInteger(picked) && picked >= 0).toBe(true);
    expect(random.json.parameters['seed']).toBe(picked);
    const [again] = await library('Euler', {
      prompt,
      seed: picked,
      numInferenceSteps: 6,
      guidanceScale: 7,
      width: 32,
      height: 32,
    });
    expect(maxPixelDiff(decodeBase64Png(random.json.images[0]!), again!)).toBe(0);
  });

  it.each([
    ['Euler a', { sampler_name: 'Euler a', scheduler: 'Automatic' }, 'Euler a'],
    ['DPM++ 2M + scheduler Karras', { sampler_name: 'DPM++ 2M', scheduler: 'Karras' }, 'DPM++ 2M Karras'],
    ['the legacy combined name', { sampler_name: 'DPM++ 2M Karras', scheduler: null }, 'DPM++ 2M Karras'],
    ['legacy sampler_index (an alias)', { sampler_name: null, sampler_index: 'k_euler_a' }, 'Euler a'],
  ])('%s gives the library pixels with that scheduler', async (_, fields, sampler) => {
    const prompt = 'a blue circle';
    const { status, json } = await post(
      '/sdapi/v1/txt2img',
      txt2imgPayload({ prompt, seed: 3, steps: 10, cfg_scale: 4, width: 32, height: 32, ...fields }),
    );
    expect(status).toBe(200);
    const [expected] = await library(sampler, {
      prompt,
      seed: 3,
      numInferenceSteps: 10,
      guidanceScale: 4,
      width: 32,
      height: 32,
    });
    expect(maxPixelDiff(decodeBase64Png(json.images[0]!), expected!)).toBe(0);
    expect((JSON.parse(json.info) as { sampler_name: string }).sampler_name).toBe(sampler);
  });

  it('override_settings.CLIP_stop_at_last_layers reaches the pipeline as clipSkip; DDIM takes eta', async () => {
    const prompt = 'a green circle';
    const body = (clipSkip: number) =>
      txt2imgPayload({
        prompt,
        seed: 5,
        steps: 8,
        width: 32,
        height: 32,
        sampler_name: 'DDIM',
        eta: 0.5,
        override_settings: { CLIP_stop_at_last_layers: clipSkip, sd_model_checkpoint: 'shapes' },
      });
    const { json } = await post('/sdapi/v1/txt2img', body(1));
    const [expected] = await library('DDIM', {
      prompt,
      seed: 5,
      numInferenceSteps: 8,
      guidanceScale: 7,
      width: 32,
      height: 32,
      clipSkip: 1,
      eta: 0.5,
    });
    expect(maxPixelDiff(decodeBase64Png(json.images[0]!), expected!)).toBe(0);
    const info = JSON.parse(json.info) as { clip_skip: number; infotexts: string[] };
    expect(info.clip_skip).toBe(1);
    expect(info.infotexts[0]).toContain('Sampler: DDIM');
    expect(info.infotexts[0]).toContain('Eta DDIM: 0.5');
    const [plain] = await library('DDIM', {
      prompt,
      seed: 5,
      numInferenceSteps: 8,
      guidanceScale: 7,
      width: 32,
      height: 32,
    });
    expect(maxPixelDiff(decodeBase64Png(json.images[0]!), plain!)).toBeGreaterThan(0);

    // The shipped model's text encoder has no hidden states: the library's own 501 comes back.
    const skip2 = await post('/sdapi/v1/txt2img', body(2));
    expect(skip2.status).toBe(501);
    expect(skip2.json).toMatchObject({ code: 'NOT_IMPLEMENTED', error: 'NotImplementedError' });
  });

  it('send_images false sends no images, and the info still', async () => {
    const none = await post(
      '/sdapi/v1/txt2img',
      txt2imgPayload({ prompt: 'a circle', seed: 5, steps: 4, width: 32, height: 32, send_images: false }),
    );
    expect(none.status).toBe(200);
    expect(none.json.images).toEqual([]);
    expect((JSON.parse(none.json.info) as { all_seeds: number[] }).all_seeds).toEqual([5]);
  });
});

describe('POST /sdapi/v1/img2img', () => {
  let source: RgbaImage;
  beforeAll(async () => {
    const made = await s.pipe.generate({
      prompt: 'a red square on a white background',
      seed: 11,
      numInferenceSteps: 8,
    });
    source = (made.images as RgbaImage[])[0]!;
  });

  it('init image (bare base64 and data: URL) at denoising_strength: equals the library img2img', async () => {
    const prompt = 'a blue square';
    const expectedImages = await library('Euler a', {
      prompt,
      image: source,
      strength: 0.6,
      seed: 9,
      numInferenceSteps: 10,
      guidanceScale: 5,
      width: 32,
      height: 32,
    });
    for (const init of [b64(source), `data:image/png;base64,${b64(source)}`]) {
      const { status, json } = await post(
        '/sdapi/v1/img2img',
        img2imgPayload({
          prompt,
          init_images: [init],
          denoising_strength: 0.6,
          seed: 9,
          steps: 10,
          cfg_scale: 5,
          width: 32,
          height: 32,
          sampler_name: 'Euler a',
        }),
      );
      expect(status).toBe(200);
      expect(maxPixelDiff(decodeBase64Png(json.images[0]!), expectedImages[0]!)).toBe(0);
      const info = JSON.parse(json.info) as { denoising_strength: number; infotexts: string[] };
      expect(info.denoising_strength).toBe(0.6);
      expect(info.infotexts[0]).toContain('Denoising strength: 0.6');
      // A1111 leaves the images out of `parameters` unless include_init_images.
      expect(json.parameters['init_images']).toBeNull();
    }
  });

  it('an init image of another size is resized to width × height with Lanczos ("Just resize")', async () => {
    const big = (
      await s.pipe.generate({
        prompt: 'a white circle',
        seed: 4,
        numInferenceSteps: 6,
        width: 48,
        height: 48,
      })
    ).images as RgbaImage[];
    const { json } = await post(
      '/sdapi/v1/img2img',
      img2imgPayload({
        prompt: 'a circle',
        init_images: [b64(big[0]!)],
        denoising_strength: 0.5,
        seed: 2,
        steps: 10,
        width: 32,
        height: 32,
        include_init_images: true,
      }),
    );
    const [expected] = await library('Euler', {
      prompt: 'a circle',
      image: resizeLanczos(big[0]!, 32, 32),
      strength: 0.5,
      seed: 2,
      numInferenceSteps: 10,
      guidanceScale: 7,
      width: 32,
      height: 32,
    });
    expect(maxPixelDiff(decodeBase64Png(json.images[0]!), expected!)).toBe(0);
    expect(json.parameters['init_images']).toEqual([b64(big[0]!)]);
  });

  it('with a mask: inpainting equal to the library; inpainting_mask_invert inverts it; an alpha mask', async () => {
    const mask = { width: 32, height: 32, data: new Uint8ClampedArray(32 * 32 * 4) };
    const inverted = { width: 32, height: 32, data: new Uint8ClampedArray(32 * 32 * 4) };
    // A1111's inpaint sketch: opaque strokes (repaint) on a transparent background; A1111 reads the alpha.
    const strokes = { width: 32, height: 32, data: new Uint8ClampedArray(32 * 32 * 4) };
    for (let y = 0; y < 32; y++) {
      for (let x = 0; x < 32; x++) {
        const inside = x >= 8 && x < 24 && y >= 8 && y < 24;
        const v = inside ? 255 : 0;
        const o = (y * 32 + x) * 4;
        mask.data.fill(v, o, o + 3);
        inverted.data.fill(255 - v, o, o + 3);
        mask.data[o + 3] = 255;
        inverted.data[o + 3] = 255;
        strokes.data.set(inside ? [200, 30, 30, 255] : [0, 0, 0, 0], o);
      }
    }
    const prompt = 'a yellow circle';
    for (const [m, invert, expectedMask] of [
      [mask, 0, mask],
      [mask, 1, inverted],
      [strokes, 0, mask],
    ] as const) {
      const { status, json } = await post(
        '/sdapi/v1/img2img',
        img2imgPayload({
          prompt,
          init_images: [b64(source)],
          mask: b64(m),
          inpainting_mask_invert: invert,
          mask_blur: 0,
          denoising_strength: 0.9,
          seed: 21,
          steps: 10,
          width: 32,
          height: 32,
        }),
      );
      expect(status).toBe(200);
      const [expected] = await library('Euler', {
        prompt,
        image: source,
        maskImage: expectedMask,
        strength: 0.9,
        seed: 21,
        numInferenceSteps: 10,
        guidanceScale: 7,
        width: 32,
        height: 32,
      });
      expect(maxPixelDiff(decodeBase64Png(json.images[0]!), expected!), `invert ${invert}`).toBe(0);
      expect(maxPixelDiff(decodeBase64Png(json.images[0]!), source)).toBeGreaterThan(0);
    }

    // A1111's default mask blur (4, when mask_blur is null) runs too: a valid inpainting of the right size.
    const blurred = await post(
      '/sdapi/v1/img2img',
      img2imgPayload({
        prompt,
        init_images: [b64(source)],
        mask: b64(mask),
        mask_blur: null,
        denoising_strength: 0.9,
        seed: 21,
        steps: 10,
        width: 32,
        height: 32,
      }),
    );
    expect(blurred.status).toBe(200);
    expect(decodeBase64Png(blurred.json.images[0]!).width).toBe(32);
  });
});

/** Polls `/sdapi/v1/progress` until `until` holds or the deadline passes. */
async function pollProgress<T>(
  until: (p: ProgressBody) => T | undefined,
  deadlineMs: number,
): Promise<T | undefined> {
  const end = Date.now() + deadlineMs;
  while (Date.now() < end) {
    const p = await get<ProgressBody>('/sdapi/v1/progress');
    const hit = until(p);
    if (hit !== undefined) return hit;
    await new Promise((r) => setTimeout(r, 5));
  }
  return undefined;
}

interface ProgressBody {
  progress: number;
  eta_relative: number;
  state: Record<string, unknown> & { sampling_step: number; sampling_steps: number; interrupted: boolean };
  current_image: string | null;
  textinfo: string | null;
}

describe('progress and interrupt', () => {
  const longJob = (seed: number) =>
    txt2imgPayload({ prompt: 'a purple square', seed, steps: 150, width: 32, height: 32, n_iter: 4 });

  it('idle: progress 0, no image', async () => {
    const p = await get<ProgressBody>('/sdapi/v1/progress');
    expect(p.progress).toBe(0);
    expect(p.current_image).toBeNull();
    expect(p.state['job_count']).toBe(0);
  });

  it('mid-run: 0 < progress < 1 with a live preview PNG of the image size', async () => {
    const running = post('/sdapi/v1/txt2img', longJob(1));
    const seen = await pollProgress(
      (p) => (p.progress > 0 && p.progress < 1 && p.current_image ? p : undefined),
      60_000,
    );
    expect(seen).toBeDefined();
    const preview = decodeBase64Png(seen!.current_image!);
    expect([preview.width, preview.height]).toEqual([32, 32]);
    expect(seen!.state.sampling_steps).toBe(600);
    expect(seen!.state.sampling_step).toBeGreaterThan(0);
    expect(seen!.eta_relative).toBeGreaterThanOrEqual(0);
    // skip_current_image leaves the image out.
    const skipped = await get<ProgressBody>('/sdapi/v1/progress?skip_current_image=true');
    expect(skipped.current_image).toBeNull();
    const { status, json } = await running;
    expect(status).toBe(200);
    expect(json.images).toHaveLength(4);
  }, 120_000);

  it('interrupt: the request answers 200 with the images from the steps done so far', async () => {
    const running = post('/sdapi/v1/txt2img', longJob(2));
    const at = await pollProgress((p) => (p.state.sampling_step >= 5 ? p : undefined), 60_000);
    expect(at).toBeDefined();
    const res = await fetch(`${s.url}/sdapi/v1/interrupt`, { method: 'POST' });
    expect(res.status).toBe(200);
    const { status, json } = await running;
    expect(status).toBe(200);
    // Stopped in the first of 4 batches (or, on a stalled machine, a later one): the images of the batches
    // begun, the last decoded from its latents so far.
    const n = json.images.length;
    expect(n).toBeGreaterThanOrEqual(1);
    expect(n).toBeLessThan(4);
    const info = JSON.parse(json.info) as { all_seeds: number[]; interrupted: boolean };
    expect(info.all_seeds).toEqual([2, 3, 4].slice(0, n));
    expect(info.interrupted).toBe(true);
    const [full] = await library('Euler', {
      prompt: 'a purple square',
      seed: 1 + n,
      numInferenceSteps: 150,
      guidanceScale: 7,
      width: 32,
      height: 32,
    });
    // Fewer steps than asked: not the finished image.
    expect(maxPixelDiff(decodeBase64Png(json.images[n - 1]!), full!)).toBeGreaterThan(0);
  }, 120_000);
});

describe('model and sampler lists', () => {
  it('GET samplers lists the registry A1111 names with aliases; schedulers Automatic and Karras', async () => {
    const samplers =
      await get<{ name: string; aliases: string[]; options: Record<string, string> }[]>('/sdapi/v1/samplers');
    const names = samplers.map((x) => x.name);
    for (const name of ['Euler a', 'Euler', 'DPM++ 2M', 'DPM++ 2M Karras', 'DDIM', 'UniPC', 'LMS']) {
      expect(names).toContain(name);
    }
    expect(samplers.find((x) => x.name === 'Euler a')).toEqual({
      name: 'Euler a',
      aliases: ['k_euler_a', 'k_euler_ancestral'],
      options: {},
    });
    expect(samplers.find((x) => x.name === 'DPM++ 2M Karras')!.options).toEqual({ scheduler: 'karras' });
    const schedulers = await get<{ name: string; label: string }[]>('/sdapi/v1/schedulers');
    expect(schedulers.map((x) => x.label)).toEqual(['Automatic', 'Karras']);
  });

  it('GET sd-models and options name the served model; POST options with the same model is ok', async () => {
    expect(await get('/sdapi/v1/sd-models')).toEqual([
      { title: 'shapes', model_name: 'shapes', hash: null, sha256: null, filename: 'shapes', config: null },
    ]);
    // The lists A1111 front ends load beside the models: nothing of them is served.
    expect(await get('/sdapi/v1/sd-vae')).toEqual([]);
    expect(await get('/sdapi/v1/loras')).toEqual([]);
    expect(await get('/sdapi/v1/prompt-styles')).toEqual([]);
    expect(await get('/sdapi/v1/embeddings')).toEqual({ loaded: {}, skipped: {} });
    expect((await get<{ name: string }[]>('/sdapi/v1/upscalers')).map((u) => u.name)).toEqual(['None']);
    const options = await get<Record<string, unknown>>('/sdapi/v1/options');
    expect(options['sd_model_checkpoint']).toBe('shapes');
    const res = await fetch(`${s.url}/sdapi/v1/options`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ sd_model_checkpoint: 'shapes', CLIP_stop_at_last_layers: 1 }),
    });
    expect(res.status).toBe(200);
  });
});
