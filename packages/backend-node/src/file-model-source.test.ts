import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ModelInvalidError, ModelNotFoundError } from '@latentkit/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileModelSource } from './file-model-source.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'latentkit-source-'));
  await mkdir(join(dir, 'unet'));
  await writeFile(join(dir, 'model_index.json'), '{"_class_name": "OnnxStableDiffusionPipeline"}');
  await writeFile(join(dir, 'unet', 'model.onnx'), new Uint8Array([1, 2, 3]));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('FileModelSource', () => {
  it('reads text and bytes by relative path', async () => {
    const source = new FileModelSource(dir);
    expect(source.location).toBe(dir);
    expect(JSON.parse(await source.readText('model_index.json'))).toEqual({
      _class_name: 'OnnxStableDiffusionPipeline',
    });
    expect(Array.from(await source.readBytes('unet/model.onnx'))).toEqual([1, 2, 3]);
    expect(await source.exists('unet/model.onnx')).toBe(true);
    expect(await source.exists('unet')).toBe(false); // a folder is not a file
    expect(await source.exists('vae_decoder/model.onnx')).toBe(false);
  });

  it('names the missing file and the folder', async () => {
    const source = new FileModelSource(dir);
    const error = await source.readBytes('vae_decoder/model.onnx').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ModelNotFoundError);
    expect((error as ModelNotFoundError).code).toBe('MODEL_NOT_FOUND');
    expect((error as Error).message).toBe(
      `Model file "vae_decoder/model.onnx" not found in ${dir}. Fix: check that the folder is a complete diffusers ONNX export.`,
    );
  });

  it('says when the folder itself is missing', async () => {
    const source = new FileModelSource(join(dir, 'nope'));
    await expect(source.readText('model_index.json')).rejects.toThrow(
      new RegExp(`^Model folder ${join(dir, 'nope')} does not exist \\(looking for "model_index.json"\\)`),
    );
  });

  it('refuses paths that leave the folder', async () => {
    const source = new FileModelSource(dir);
    for (const bad of ['../secret.txt', 'unet/../../secret', '/etc/passwd', '']) {
      await expect(source.readText(bad), bad).rejects.toThrow(ModelInvalidError);
    }
    await expect(source.exists('../x')).rejects.toThrow(/not inside the model folder/);
  });
});
