import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvalidArgumentError, type RgbaImage } from '@latentkit/core';
import { encode } from 'fast-png';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseGenerationParameters } from './generation-parameters.js';
import { decodePng, encodePng, readPng, writePng } from './png.js';
import { readTextChunks } from './png-text-chunks.js';

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
    expect(types(latin)).toEqual(['IHDR', 'IDAT', 'tEXt', 'IEND']);
    expect(types(other)).toEqual(['IHDR', 'IDAT', 'iTXt', 'IEND']);
    expect(parseGenerationParameters(decodePng(latin).text['parameters']!).prompt).toBe('café');
    expect(parseGenerationParameters(decodePng(other).text['parameters']!).prompt).toBe('赤い円 🔴');
    // fast-png (the pixel codec) must still accept our inserted chunks, CRCs included.
    expect(readTextChunks(other)['parameters']).toContain('Seed: 42');
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
    expect(() => decodePng(new TextEncoder().encode('GIF89a……'))).toThrow(/47 49 46 38/);
  });

  it('names a missing file', async () => {
    await expect(readPng(join(dir, 'nope.png'))).rejects.toThrow(/nope\.png.*ENOENT/);
  });

  it('refuses image data of the wrong length', () => {
    expect(() => encodePng({ width: 2, height: 2, data: new Uint8ClampedArray(15) })).toThrow(/16/);
  });
});
