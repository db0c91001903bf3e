// The OpenAI Images API of @latentkit/server, called with the official `openai` npm client over real HTTP:
// every image must equal (max |diff| 0 per byte) what the library makes in-process for the same settings.
import { encodePng, readTextChunks } from '@latentkit/backend-node';
import { TorchGenerator } from '@latentkit/core';
import { createScheduler } from '@latentkit/schedulers';
import OpenAI, { toFile } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  decodeBase64Png,
  maxPixelDiff,
  type ShapesServer,
  startShapesServer,
  TEST_DEFAULTS,
} from '../support/shapes-server.js';

let s: ShapesServer;
let client: OpenAI;

beforeAll(async () => {
  s = await startShapesServer();
  client = new OpenAI({ baseURL: `${s.url}/v1`, apiKey: 'unused', maxRetries: 0 });
}, 60_000);
afterAll(async () => {
  await s?.close();
});

/** latentkit's extra body fields: the typed client passes unknown keys through as they are. */
type Extras = Record<string, unknown>;
const generate = (body: Extras) =>
  client.images.generate(body as never) as unknown as Promise<
    OpenAI.ImagesResponse & { latentkit: { seeds: number[]; infotexts: string[] } }
  >;

describe('POST /v1/images/generations (openai client)', () => {
  it('n=2 with a seed gives seed and seed+1, each equal to the library run alone', async () => {
    const prompt = 'a red circle on a blue background';
    const res = await generate({ prompt, n: 2, seed: 42, response_format: 'b64_json' });
    expect(res.data).toHaveLength(2);
    expect(res.latentkit.seeds).toEqual([42, 43]);
    for (const [i, seed] of [42, 43].entries()) {
      const { images } = await s.pipe.generate({ prompt, seed, ...libraryDefaults() });
      const served = decodeBase64Png(res.data![i]!.b64_json!);
      expect(maxPixelDiff(served, images[0]!)).toBe(0);
      expect(res.latentkit.infotexts[i]).toContain(`Seed: ${seed}, Size: 32x32, Model: shapes`);
      // The PNG carries its A1111 infotext, as `latentkit generate` writes it.
      const text = readTextChunks(Buffer.from(res.data![i]!.b64_json!, 'base64'));
      expect(text.parameters).toBe(res.latentkit.infotexts[i]);
    }
  });

  it('the extras (negative_prompt, steps, guidance_scale, scheduler, size) reach the pipeline', async () => {
    const body = {
      prompt: 'a green triangle on a yellow background',
      negative_prompt: 'a red circle',
      seed: 7,
      steps: 12,
      guidance_scale: 3.5,
      scheduler: 'Euler a',
      size: '48x40',
    };
    const res = await generate(body);
    const base = s.pipe.scheduler;
    s.pipe.scheduler = createScheduler('Euler a', base.config);
    const call = s.pipe.generate({
      prompt: body.prompt,
      negativePrompt: body.negative_prompt,
      seed: 7,
      numInferenceSteps: 12,
      guidanceScale: 3.5,
      width: 48,
      height: 40,
    });
    s.pipe.scheduler = base;
    const { images } = await call;
    const served = decodeBase64Png(res.data![0]!.b64_json!);
    expect([served.width, served.height]).toEqual([48, 40]);
    expect(maxPixelDiff(served, images[0]!)).toBe(0);
    expect(res.latentkit.infotexts[0]).toContain(
      'Steps: 12, Sampler: Euler a, CFG scale: 3.5, Seed: 7, Size: 48x40',
    );
  });

  it('without a seed it picks one and reports it; the image equals that seed run alone', async () => {
    const res = await generate({ prompt: 'a blue square on a red background' });
    const seed = res.latentkit.seeds[0]!;
    expect(Number.isSafeInteger(seed) && seed >= 0 && seed < 2 ** 32).toBe(true);
    const { images } = await s.pipe.generate({
      prompt: 'a blue square on a red background',
      seed,
      ...libraryDefaults(),
    });
    expect(maxPixelDiff(decodeBase64Png(res.data![0]!.b64_json!), images[0]!)).toBe(0);
  });
});

describe('POST /v1/images/edits (openai client, multipart)', () => {
  it('an image without a mask is img2img at the given strength', async () => {
    const { images: source } = await s.pipe.generate({
      prompt: 'a red circle on a blue background',
      seed: 3,
      ...libraryDefaults(),
    });
    const png = encodePng(source[0]!);
    const res = (await client.images.edit({
      image: await toFile(Buffer.from(png), 'source.png', { type: 'image/png' }),
      prompt: 'a red square on a blue background',
      seed: 11,
      strength: 0.6,
    } as never)) as OpenAI.ImagesResponse;
    const { images } = await s.pipe.generate({
      prompt: 'a red square on a blue background',
      image: source[0]!,
      strength: 0.6,
      seed: 11,
      ...libraryDefaults(),
    });
    expect(maxPixelDiff(decodeBase64Png(res.data![0]!.b64_json!), images[0]!)).toBe(0);
  });

  it("a mask's transparent pixels are repainted (OpenAI's convention), the rest kept: inpainting", async () => {
    const { images: source } = await s.pipe.generate({
      prompt: 'a yellow circle on a green background',
      seed: 5,
      ...libraryDefaults(),
    });
    // Transparent (alpha 0) on the left half: edit there.
    const mask = { width: 32, height: 32, data: new Uint8ClampedArray(32 * 32 * 4).fill(255) };
    for (let y = 0; y < 32; y++) for (let x = 0; x < 16; x++) mask.data[(y * 32 + x) * 4 + 3] = 0;
    const res = (await client.images.edit({
      image: await toFile(Buffer.from(encodePng(source[0]!)), 'source.png', { type: 'image/png' }),
      mask: await toFile(Buffer.from(encodePng(mask)), 'mask.png', { type: 'image/png' }),
      prompt: 'a blue square on a green background',
      seed: 9,
    } as never)) as OpenAI.ImagesResponse;
    // The library's mask: white = repaint.
    const white = { width: 32, height: 32, data: new Uint8ClampedArray(32 * 32 * 4) };
    for (let y = 0; y < 32; y++) {
      for (let x = 0; x < 32; x++) {
        const o = (y * 32 + x) * 4;
        white.data.fill(x < 16 ? 255 : 0, o, o + 3);
        white.data[o + 3] = 255;
      }
    }
    const { images } = await s.pipe.generate({
      prompt: 'a blue square on a green background',
      image: source[0]!,
      maskImage: white,
      generator: [new TorchGenerator(9)],
      ...libraryDefaults(),
    });
    expect(maxPixelDiff(decodeBase64Png(res.data![0]!.b64_json!), images[0]!)).toBe(0);
  });
});

describe('GET /v1/models', () => {
  it('lists the served model', async () => {
    const list = await client.models.list();
    expect(list.data.map((m) => m.id)).toEqual(['shapes']);
  });
});

function libraryDefaults() {
  return { numInferenceSteps: TEST_DEFAULTS.steps, guidanceScale: TEST_DEFAULTS.guidanceScale };
}
