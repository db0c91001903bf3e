import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  InvalidArgumentError,
  listChunkTypes,
  parseGenerationParameters,
  type ResolvedParameters,
  type RgbaImage,
} from '@latentkit/core';
import { encode } from 'fast-png';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodePng, encodePng, readPng, readTextChunks, writePng } from './png.js';

function gradient(width: number, height: number): RgbaImage {
  const data = new Uint8ClampedArray(width * height * 4);
  for (let i = 0; i < width * height; i++)
    data.set([i % 256, (i * 7) % 256, 255 - (i % 256), (i * 3) % 256], i * 4);
  return { width, height, data };
}

const PARAMS = {
  prompt: 'a red circle on a blue background',
  negativePrompt: 'blurry',
  steps: 20,
  sampler: 'DPM++ 2M Karras',
  cfgScale: 7.5,
  seed: 42,
  width: 8,
  height: 4,
  model: 'shapes',
};

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'latentkit-png-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('PNG round trip', () => {
  it('keeps every RGBA byte and the A1111 parameters chunk', async () => {
    const image = gradient(8, 4);
    const path = join(dir, 'round-trip.png');
    await writePng(path, image, { parameters: PARAMS, text: { Software: 'latentkit' } });
    const back = await readPng(path);
    expect(back.width).toBe(8);
    expect(back.height).toBe(4);
    expect(Array.from(back.data)).toEqual(Array.from(image.data));
    expect(back.text['parameters']).toBe(
      'a red circle on a blue background\nNegative prompt: blurry\n' +
        'Steps: 20, Sampler: DPM++ 2M Karras, CFG scale: 7.5, Seed: 42, Size: 8x4, Model: shapes',
    );
    expect(back.text['Software']).toBe('latentkit');
    const parsed = parseGenerationParameters(back.text['parameters']!);
    expect(parsed.prompt).toBe(PARAMS.prompt);
    expect(parsed.negativePrompt).toBe('blurry');
    expect(parsed.settings).toEqual({
      Steps: '20',
      Sampler: 'DPM++ 2M Karras',
      'CFG scale': '7.5',
      Seed: '42',
      Size: '8x4',
      Model: 'shapes',
    });
  });

  it('writes a Latin-1 prompt as tEXt and any other as UTF-8 iTXt (as PIL does for A1111)', () => {
    const latin = encodePng(gradient(2, 2), { parameters: { ...PARAMS, prompt: 'café' } });
    const other = encodePng(gradient(2, 2), { parameters: { ...PARAMS, prompt: '赤い円 🔴' } });
    const types = (png: Uint8Array) => {
      const found: string[] = [];
      const view = new DataView(png.buffer, png.byteOffset);
      for (let at = 8; at < png.length; ) {
        const len = view.getUint32(at);
        found.push(new TextDecoder('latin1').decode(png.subarray(at + 4, at + 8)));
        at += 12 + len;
      }
      return found;
    };
    // Text before the image data, where readers that stop at IDAT (PIL's Image.open().info) see it.
    expect(types(latin)).toEqual(['IHDR', 'tEXt', 'IDAT', 'IEND']);
    expect(types(other)).toEqual(['IHDR', 'iTXt', 'IDAT', 'IEND']);
    expect(listChunkTypes(latin)).toEqual(types(latin));
    expect(parseGenerationParameters(decodePng(latin).text['parameters']!).prompt).toBe('café');
    expect(parseGenerationParameters(decodePng(other).text['parameters']!).prompt).toBe('赤い円 🔴');
    // fast-png (the pixel codec) must still accept our inserted chunks, CRCs included.
    expect(readTextChunks(other)['parameters']).toContain('Seed: 42');
  });
});

describe('text chunks before the image data', () => {
  /** What a reader that stops at the first IDAT (as PIL's Image.open does) sees. */
  function textBeforeImageData(png: Uint8Array): Record<string, string> {
    const types = listChunkTypes(png);
    const view = new DataView(png.buffer, png.byteOffset);
    let at = 8;
    for (const type of types) {
      if (type === 'IDAT') break;
      at += 12 + view.getUint32(at);
    }
    // Cut the file at the first IDAT and end it there, as such a reader sees it.
    const head = new Uint8Array(at + 12);
    head.set(png.subarray(0, at));
    head.set([0, 0, 0, 0, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82], at);
    return readTextChunks(head);
  }

  it('writes IHDR, every text chunk, then IDAT and IEND', () => {
    const png = encodePng(gradient(4, 4), {
      parameters: PARAMS,
      text: { Software: 'latentkit', Comment: 'größe 🔴' },
    });
    expect(listChunkTypes(png)).toEqual(['IHDR', 'tEXt', 'tEXt', 'iTXt', 'IDAT', 'IEND']);
    expect(textBeforeImageData(png)).toEqual({
      parameters: expect.stringContaining('Sampler: DPM++ 2M Karras'),
      Software: 'latentkit',
      Comment: 'größe 🔴',
    });
    expect(Array.from(decodePng(png).data)).toEqual(Array.from(gradient(4, 4).data));
  });
});

describe('writePng with the parameters generate() returns', () => {
  const resolved: ResolvedParameters = {
    mode: 'txt2img',
    width: 4,
    height: 4,
    numInferenceSteps: 25,
    guidanceScale: 7,
    guidanceRescale: 0,
    eta: 0,
    scheduler: 'DPMSolverMultistepScheduler',
    schedulerConfig: { _class_name: 'DPMSolverMultistepScheduler', use_karras_sigmas: true },
    images: [
      { prompt: 'a red circle', negativePrompt: 'blurry', seed: 42, batchIndex: 0 },
      { prompt: 'a red circle', negativePrompt: 'blurry', seed: 43, batchIndex: 0 },
    ],
  };

  it("writes A1111 infotext with the A1111 sampler name and the image's own seed", async () => {
    const path = join(dir, 'resolved.png');
    await writePng(path, gradient(4, 4), { parameters: resolved, imageIndex: 1, model: 'shapes' });
    expect((await readPng(path)).text['parameters']).toBe(
      'a red circle\nNegative prompt: blurry\n' +
        'Steps: 25, Sampler: DPM++ 2M Karras, CFG scale: 7.0, Seed: 43, Size: 4x4, Model: shapes',
    );
  });

  it('writes img2img strength, and refuses an image index the call did not make', () => {
    const png = encodePng(gradient(4, 4), {
      parameters: { ...resolved, mode: 'img2img', strength: 0.5, images: resolved.images.slice(0, 1) },
    });
    expect(decodePng(png).text['parameters']).toMatch(/Seed: 42, Size: 4x4, Denoising strength: 0\.5$/);
    expect(() => encodePng(gradient(4, 4), { parameters: resolved, imageIndex: 2 })).toThrow(
      /imageIndex = 2 is invalid: expected an integer in \[0, 1\]/,
    );
  });
});

describe('colour types → RGBA 8-bit', () => {
  it('grey 8-bit', () => {
    const png = encode({ width: 3, height: 1, data: new Uint8Array([0, 128, 255]), channels: 1, depth: 8 });
    expect(Array.from(decodePng(png).data)).toEqual([0, 0, 0, 255, 128, 128, 128, 255, 255, 255, 255, 255]);
  });

  it('grey 1-bit is scaled to 0/255', () => {
    // 10 pixels in one row: 1010 1010 11(000000)
    const png = encode({
      width: 10,
      height: 1,
      data: new Uint8Array([0b10101010, 0b11000000]),
      channels: 1,
      depth: 1,
    });
    const grey = Array.from(decodePng(png).data).filter((_, i) => i % 4 === 0);
    expect(grey).toEqual([255, 0, 255, 0, 255, 0, 255, 0, 255, 255]);
  });

  it('grey 4-bit is scaled by 255/15', () => {
    const png = encode({ width: 2, height: 1, data: new Uint8Array([0x5f]), channels: 1, depth: 4 });
    expect(Array.from(decodePng(png).data)).toEqual([85, 85, 85, 255, 255, 255, 255, 255]);
  });

  it('grey + alpha', () => {
    const png = encode({ width: 1, height: 1, data: new Uint8Array([200, 17]), channels: 2, depth: 8 });
    expect(Array.from(decodePng(png).data)).toEqual([200, 200, 200, 17]);
  });

  it('RGB 8-bit gets alpha 255', () => {
    const png = encode({
      width: 2,
      height: 1,
      data: new Uint8Array([1, 2, 3, 250, 251, 252]),
      channels: 3,
      depth: 8,
    });
    expect(Array.from(decodePng(png).data)).toEqual([1, 2, 3, 255, 250, 251, 252, 255]);
  });

  it('RGBA 16-bit keeps the high byte', () => {
    const png = encode({
      width: 1,
      height: 1,
      data: new Uint16Array([0xffff, 0x8040, 0x00ff, 0x1234]),
      channels: 4,
      depth: 16,
    });
    expect(Array.from(decodePng(png).data)).toEqual([0xff, 0x80, 0x00, 0x12]);
  });

  it('palette with transparency', () => {
    // Translucent entries first: fast-png's encoder writes tRNS only for the non-opaque entries.
    const png = encode({
      width: 3,
      height: 1,
      data: new Uint8Array([0, 2, 1]),
      channels: 1,
      depth: 8,
      palette: [
        [0, 0, 255, 0],
        [0, 255, 0, 128],
        [255, 0, 0, 255],
      ],
    });
    expect(Array.from(decodePng(png).data)).toEqual([0, 0, 255, 0, 255, 0, 0, 255, 0, 255, 0, 128]);
  });
});

describe('errors', () => {
  it('refuses bytes that are not a PNG, naming what it got', () => {
    expect(() => decodePng(new TextEncoder().encode('GIF89a……'))).toThrow(InvalidArgumentError);
    expect(() => decodePng(new TextEncoder().encode('GIF89a……'))).toThrow(/a GIF image.*PNG only/);
    expect(() => decodePng(new TextEncoder().encode('not an image'))).toThrow(/6e 6f 74 20/);
  });

  it('names a missing file', async () => {
    await expect(readPng(join(dir, 'nope.png'))).rejects.toThrow(/nope\.png.*ENOENT/);
  });

  it('refuses image data of the wrong length', () => {
    expect(() => encodePng({ width: 2, height: 2, data: new Uint8ClampedArray(15) })).toThrow(/16/);
  });
});
