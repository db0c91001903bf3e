import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ModelInvalidError, StableDiffusionPipeline } from '@latentkit/core';
import { shapesModelPath } from '@latentkit/model-shapes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileModelSource } from './file-model-source.js';
import { nodeBackend } from './node-backend.js';

// Real folders and real symbolic links in a temp dir: `model/` is the model folder, `outside/` is not.
let root: string;
let model: string;
let outside: string;
const linkOut =
  /is a symbolic link \(or lies in a linked folder\) that leads out of the model folder, to \/.*\. Fix: copy the files into the model folder, or, if you trust where the link points, load with allowSymlinksOutside: true/;

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'latentkit-links-'));
  model = join(root, 'model');
  outside = join(root, 'outside');
  mkdirSync(join(model, 'unet'), { recursive: true });
  mkdirSync(join(outside, 'vae_decoder'), { recursive: true });
  mkdirSync(join(outside, 'weights'), { recursive: true });
  writeFileSync(join(model, 'model_index.json'), '{"_class_name": "OnnxStableDiffusionPipeline"}');
  writeFileSync(join(model, 'unet', 'model.onnx'), 'inside');
  writeFileSync(join(outside, 'secret.txt'), 'secret');
  writeFileSync(join(outside, 'vae_decoder', 'config.json'), '{"scaling_factor": 1}');
  writeFileSync(join(outside, 'weights', 'w.bin'), 'weights');
  // a component folder linked out of the model folder (issue 14 §5)
  symlinkSync(join(outside, 'vae_decoder'), join(model, 'vae_decoder'), 'dir');
  // a file linked out
  mkdirSync(join(model, 'text_encoder'));
  symlinkSync(join(outside, 'secret.txt'), join(model, 'text_encoder', 'config.json'));
  // a relative link climbing out
  mkdirSync(join(model, 'tokenizer'));
  symlinkSync('../../outside/secret.txt', join(model, 'tokenizer', 'vocab.json'));
  // external weights beside an inside model file, linked out: onnxruntime would open them itself
  mkdirSync(join(model, 'vae_encoder'));
  writeFileSync(join(model, 'vae_encoder', 'model.onnx'), 'inside');
  symlinkSync(join(outside, 'secret.txt'), join(model, 'vae_encoder', 'model.onnx_data'));
  // the same, one folder down
  mkdirSync(join(model, 'safety_checker'));
  writeFileSync(join(model, 'safety_checker', 'model.onnx'), 'inside');
  symlinkSync(join(outside, 'weights'), join(model, 'safety_checker', 'weights'), 'dir');
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

const refused = async (promise: Promise<unknown>): Promise<void> => {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ModelInvalidError);
  expect((error as Error).message).toMatch(linkOut);
};

describe('FileModelSource: symbolic links out of the model folder are refused by default', () => {
  it('reading a file in a component folder that links out', async () => {
    await refused(new FileModelSource(model).readText('vae_decoder/config.json'));
  });

  it('asking whether such a file exists', async () => {
    await refused(new FileModelSource(model).exists('vae_decoder/config.json'));
  });

  it('a file that is a link out (absolute target)', async () => {
    await refused(new FileModelSource(model).readBytes('text_encoder/config.json'));
  });

  it('a file that is a relative link climbing out with ..', async () => {
    await refused(new FileModelSource(model).readText('tokenizer/vocab.json'));
  });

  it('a model file whose external weights beside it link out (onnxruntime opens them by path)', async () => {
    await refused(new FileModelSource(model).require('vae_encoder/model.onnx'));
  });

  it('a model file with a linked-out folder of external weights under its folder', async () => {
    await refused(new FileModelSource(model).require('safety_checker/model.onnx'));
  });

  it('nodeBackend.load of the shipped model with its UNet folder linked out', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'latentkit-linked-unet-'));
    try {
      cpSync(shapesModelPath, join(dir, 'model'), { recursive: true });
      cpSync(join(dir, 'model', 'unet'), join(dir, 'elsewhere'), { recursive: true });
      rmSync(join(dir, 'model', 'unet'), { recursive: true });
      symlinkSync(join(dir, 'elsewhere'), join(dir, 'model', 'unet'), 'dir');
      await refused(nodeBackend.load(join(dir, 'model')));
      // the explicit option follows the link: the model loads and generates
      const pipe = await StableDiffusionPipeline.fromPretrained(join(dir, 'model'), {
        backend: nodeBackend,
        allowSymlinksOutside: true,
      });
      const { images } = await pipe.generate({
        prompt: 'a red circle',
        seed: 1,
        numInferenceSteps: 2,
        outputType: 'tensor',
      });
      expect(images.shape).toEqual([1, 3, 32, 32]);
      await pipe.dispose();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
