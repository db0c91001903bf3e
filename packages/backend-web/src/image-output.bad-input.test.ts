import { fileURLToPath } from 'node:url';
import { insertPngTextChunk, type ResolvedParameters, StableDiffusionPipeline } from '@latentkit/core';
import { createScheduler } from '@latentkit/schedulers';
import { encode } from 'fast-png';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toPngBlob } from './image-output.js';
import { formatInfotext } from './infotext.js';
import { type StaticServer, startStaticServer } from './test-support/static-server.js';
import { webBackend } from './web-backend.js';

// toPngBlob's A1111 parameters: the infotext of a real generate() result (onnxruntime-web in Node on the
// sd1 fixture, served over HTTP), written into a PNG before its image data; and the bad inputs.

const models = fileURLToPath(new URL('../../../tests/fixtures/models/', import.meta.url));

/** The chunk types of a PNG in order, and the text of its tEXt/iTXt chunks. */
function chunks(png: Uint8Array): { types: string[]; text: Record<string, string> } {
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  const types: string[] = [];
  const text: Record<string, string> = {};
  for (let at = 8; at + 8 <= png.length; ) {
    const length = view.getUint32(at);
    const type = String.fromCharCode(...png.subarray(at + 4, at + 8));
    const data = png.subarray(at + 8, at + 8 + length);
    types.push(type);
    const nul = data.indexOf(0);
    const key = new TextDecoder('latin1').decode(data.subarray(0, nul));
    if (type === 'tEXt') text[key] = new TextDecoder('latin1').decode(data.subarray(nul + 1));
    if (type === 'iTXt') text[key] = new TextDecoder().decode(data.subarray(nul + 5));
    at += 12 + length;
  }
  return { types, text };
}

const image = { width: 2, height: 1, data: new Uint8ClampedArray([255, 0, 0, 255, 0, 0, 255, 255]) };
const png = encode({ width: 2, height: 1, data: new Uint8Array(image.data), channels: 4 });

describe('A1111 parameters in the browser PNG', () => {
  let server: StaticServer;
  let parameters: ResolvedParameters;
  beforeAll(async () => {
    server = await startStaticServer({ '/models/': models });
    const pipe = await StableDiffusionPipeline.fromPretrained(`${server.origin}/models/sd1/`, {
      backend: webBackend,
      providers: ['wasm'],
    });
    pipe.scheduler = createScheduler('DPM++ 2M Karras', pipe.scheduler.config);
    ({ parameters } = await pipe.generate({
      prompt: 'a photo of a cat, 50mm',
      negativePrompt: 'a dog',
      numInferenceSteps: 2,
      guidanceScale: 5,
      seed: 1234,
      numImagesPerPrompt: 2,
    }));
    await pipe.dispose();
  }, 60_000);
  afterAll(() => server.close());

  it('formats a real generate() result as A1111 infotext, per image', () => {
    expect(formatInfotext(parameters, { model: 'sd1' })).toBe(
      'a photo of a cat, 50mm\nNegative prompt: a dog\nSteps: 2, Sampler: DPM++ 2M Karras, CFG scale: 5.0, Seed: 1234, Size: 64x64, Model: sd1',
    );
    expect(formatInfotext(parameters, { imageIndex: 1 })).toMatch(/Seed: 1234, Size: 64x64, Batch pos: 1$/);
  });

  it('writes the parameters chunk before IDAT; non-Latin-1 text as UTF-8 iTXt', () => {
    const out = insertPngTextChunk(png, 'parameters', formatInfotext(parameters));
    const { types, text } = chunks(out);
    expect(types.indexOf('tEXt')).toBeGreaterThan(types.indexOf('IHDR'));
    expect(types.indexOf('tEXt')).toBeLessThan(types.indexOf('IDAT'));
    expect(text['parameters']).toContain('Sampler: DPM++ 2M Karras');
    const utf8 = chunks(insertPngTextChunk(png, 'parameters', '一只猫\nSteps: 1'));
    expect(utf8.types.slice(0, 3)).toEqual(['IHDR', 'iTXt', 'IDAT']);
    expect(utf8.text['parameters']).toBe('一只猫\nSteps: 1');
  });

  describe('bad inputs', () => {
    it.each([-1, 2, 0.5, Number.NaN])('imageIndex %s', (imageIndex) => {
      expect(() => formatInfotext(parameters, { imageIndex })).toThrow(
        /imageIndex = .* is invalid: expected an integer in \[0, 1\] \(the call made 2 image\(s\)\)/,
      );
    });

    it.each([
      ['an empty object', {}],
      ['null', null],
      ['the images instead', [{ width: 1 }]],
    ])('parameters: %s', (_what, value) => {
      expect(() => formatInfotext(value as unknown as ResolvedParameters)).toThrow(
        /parameters = .* is invalid: expected the `parameters` of a generate\(\) result/,
      );
    });

    // The keyword and PNG-bytes cases of insertPngTextChunk (now @latentkit/core's, re-exported here) are
    // in packages/core/src/image/png-text-chunks.bad-input.test.ts, beside the code.

    it.each([
      ['data of the wrong length', { width: 2, height: 2, data: new Uint8ClampedArray(4) }],
      ['no data', { width: 1, height: 1 }],
    ])('toPngBlob image: %s', async (_what, bad) => {
      await expect(toPngBlob(bad as typeof image, { parameters })).rejects.toThrow(
        /image = .* is invalid: expected an RgbaImage with width·height·4 bytes of data/,
      );
    });
  });
});
