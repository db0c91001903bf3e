import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
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

describe('FileModelSource and symbolic links', () => {
  let base: string;
  beforeAll(async () => {
    base = await mkdtemp(join(tmpdir(), 'latentkit-links-ok-'));
    await mkdir(join(base, 'real', 'unet'), { recursive: true });
    await mkdir(join(base, 'outside'));
    await writeFile(join(base, 'real', 'unet', 'model.onnx'), 'unet');
    await writeFile(join(base, 'outside', 'model.onnx'), 'outside');
    // links that stay inside the folder
    await symlink(join(base, 'real', 'unet'), join(base, 'real', 'unet2'), 'dir');
    await symlink('model.onnx', join(base, 'real', 'unet', 'copy.onnx'));
    // a link back up the tree (the walk must end), and a dangling link
    await symlink('..', join(base, 'real', 'unet', 'up'), 'dir');
    await symlink('missing.bin', join(base, 'real', 'unet', 'dangling.bin'));
    // the model folder itself is a link
    await symlink(join(base, 'real'), join(base, 'linked-folder'), 'dir');
    // a link out, for the opt-in (in its own folder: `real` must stay free of links out)
    await mkdir(join(base, 'trusted', 'vae_decoder'), { recursive: true });
    await symlink(join(base, 'outside', 'model.onnx'), join(base, 'trusted', 'vae_decoder', 'model.onnx'));
  });
  afterAll(async () => {
    await rm(base, { recursive: true, force: true });
  });

  it('links inside the folder work, and so does a model folder that is itself a link', async () => {
    const source = new FileModelSource(join(base, 'real'));
    expect(await source.readText('unet2/model.onnx')).toBe('unet');
    expect(await source.readText('unet/copy.onnx')).toBe('unet');
    expect(await source.require('unet/model.onnx')).toBe(join(base, 'real', 'unet', 'model.onnx'));
    expect(await source.exists('unet/dangling.bin')).toBe(false);
    const linked = new FileModelSource(join(base, 'linked-folder'));
    expect(await linked.readText('unet/model.onnx')).toBe('unet');
    expect(await linked.require('unet2/model.onnx')).toBe(join(base, 'linked-folder', 'unet2', 'model.onnx'));
  });

  it('allowSymlinksOutside: true follows links out of the folder', async () => {
    const strict = new FileModelSource(join(base, 'trusted'));
    expect(strict.allowSymlinksOutside).toBe(false);
    await expect(strict.readText('vae_decoder/model.onnx')).rejects.toThrow(ModelInvalidError);
    const trusting = new FileModelSource(join(base, 'trusted'), { allowSymlinksOutside: true });
    expect(await trusting.readText('vae_decoder/model.onnx')).toBe('outside');
    expect(await trusting.require('vae_decoder/model.onnx')).toBe(
      join(base, 'trusted', 'vae_decoder', 'model.onnx'),
    );
    // `..` stays refused whatever the option
    await expect(trusting.readText('../outside/model.onnx')).rejects.toThrow(/not inside the model folder/);
  });
});
