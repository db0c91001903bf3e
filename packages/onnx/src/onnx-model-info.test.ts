import { readFileSync } from 'node:fs';
import { ModelInvalidError } from '@latentkit/core';
import { describe, expect, it } from 'vitest';
import { readOnnxModelInfo } from './onnx-model-info.js';

const fixture = (path: string) =>
  new Uint8Array(readFileSync(new URL(`../../../tests/fixtures/models/${path}`, import.meta.url)));

describe('readOnnxModelInfo', () => {
  it('lists the external weight file of an export with model.onnx_data, relative to the folder', () => {
    const info = readOnnxModelInfo(fixture('sd1-external/unet/model.onnx'), 'unet/model.onnx');
    expect(info.externalData).toEqual([{ location: 'model.onnx_data', path: 'unet/model.onnx_data' }]);
    expect(info.usesFloat16).toBe(false);
  });

  it('finds the legacy weights.pb of older Optimum exports', () => {
    const info = readOnnxModelInfo(fixture('sd1-legacy/unet/model.onnx'), 'unet/model.onnx');
    expect(info.externalData).toEqual([{ location: 'weights.pb', path: 'unet/weights.pb' }]);
  });

  it('a self-contained fp32 model: no external files, no float16', () => {
    for (const c of ['unet', 'text_encoder', 'vae_decoder', 'vae_encoder']) {
      const info = readOnnxModelInfo(fixture(`sd1/${c}/model.onnx`), `${c}/model.onnx`);
      expect(info).toEqual({ externalData: [], usesFloat16: false });
    }
  });

  it('detects float16 models', () => {
    for (const c of ['unet', 'text_encoder', 'vae_decoder']) {
      expect(readOnnxModelInfo(fixture(`sd1-fp16/${c}/model.onnx`), `${c}/model.onnx`).usesFloat16).toBe(
        true,
      );
    }
  });

  it('bytes that are not protobuf are a ModelInvalidError naming the file', () => {
    const bytes = new TextEncoder().encode('{"not": "onnx"}');
    expect(() => readOnnxModelInfo(bytes, 'unet/model.onnx')).toThrow(ModelInvalidError);
    expect(() => readOnnxModelInfo(bytes, 'unet/model.onnx')).toThrow(/unet\/model\.onnx/);
  });
});
