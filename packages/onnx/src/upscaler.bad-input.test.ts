import { cpSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import {
  InvalidArgumentError,
  type LatentkitError,
  ModelInvalidError,
  ModelMismatchError,
  ModelNotFoundError,
  ShapeMismatchError,
  Tensor,
  UnknownSchedulerError,
} from '@latentkit/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadOnnxPipeline, type OnnxPipelineOptions, type OnnxPipelineParts } from './load-onnx-pipeline.js';
import {
  CountingSessionFactory,
  copyModelFolder,
  editJson,
  folderSource,
  writeText,
} from './test-support/model-copy.js';

// Bad input around the x4 upscaler: its folder (the real fixture tests/fixtures/models/sd-x4-upscaler, copied
// and broken one file at a time) and its UNet's class labels (the real fixture UNet in onnxruntime-node).
const MODELS = join(import.meta.dirname, '..', '..', '..', 'tests', 'fixtures', 'models');
const UPSCALER = join(MODELS, 'sd-x4-upscaler');

type Break = (dir: string) => void;
/** An error class (their constructors take different arguments). */
type ErrorClass = new (...args: never[]) => LatentkitError;
const json =
  (file: string, changes: Record<string, unknown>): Break =>
  (dir) =>
    editJson(dir, file, changes);
const INDEX = 'model_index.json';
const UNET = 'unet/config.json';
const LOW_RES = 'low_res_scheduler/scheduler_config.json';

const invalid = (file: string, key: string, value: string) =>
  new RegExp(`^${file.replace(/[/.]/g, '\\$&')} in .*: "${key}" = ${value} is invalid: expected .*\\. Fix: `);

// Each row fails at load, before any onnxruntime session is created.
const configCases: [string, Break, ErrorClass, RegExp][] = [
  [
    'max_noise_level -1',
    json(INDEX, { max_noise_level: -1 }),
    ModelInvalidError,
    invalid(INDEX, 'max_noise_level', '-1'),
  ],
  [
    'max_noise_level 350.5',
    json(INDEX, { max_noise_level: 350.5 }),
    ModelInvalidError,
    invalid(INDEX, 'max_noise_level', '350\\.5'),
  ],
  [
    'max_noise_level 1000 (the low-res schedule has timesteps 0–999)',
    json(INDEX, { max_noise_level: 1000 }),
    ModelInvalidError,
    /"max_noise_level" = 1000 is invalid: expected an integer from 0 to 999/,
  ],
  [
    'max_noise_level a string',
    json(INDEX, { max_noise_level: '350' }),
    ModelInvalidError,
    invalid(INDEX, 'max_noise_level', '"350"'),
  ],
  [
    'max_noise_level NaN (Python token)',
    (d) =>
      writeText(
        d,
        INDEX,
        '{"_class_name": "StableDiffusionUpscalePipeline", "max_noise_level": NaN, "unet": ["diffusers", "OnnxRuntimeModel"]}',
      ),
    ModelInvalidError,
    invalid(INDEX, 'max_noise_level', 'NaN'),
  ],
  [
    'unet num_class_embeds 0',
    json(UNET, { num_class_embeds: 0 }),
    ModelInvalidError,
    invalid(UNET, 'num_class_embeds', '0'),
  ],
  [
    'unet num_class_embeds 1e9',
    json(UNET, { num_class_embeds: 1e9 }),
    ModelInvalidError,
    invalid(UNET, 'num_class_embeds', '1000000000'),
  ],
  [
    'unet num_class_embeds 100, below max_noise_level 350',
    json(UNET, { num_class_embeds: 100 }),
    ModelMismatchError,
    /max_noise_level = 350, but unet\/config\.json num_class_embeds = 100 .* Fix:/,
  ],
  [
    'unet in_channels 4 (a text-to-image UNet in an upscaler folder)',
    json(UNET, { in_channels: 4 }),
    ModelMismatchError,
    /an x4 upscaler's UNet takes 7 \(latents ‖ the noised low-res RGB image\)/,
  ],
  [
    'unet in_channels 9 (an inpainting UNet in an upscaler folder)',
    json(UNET, { in_channels: 9 }),
    ModelMismatchError,
    /the UNet takes 9 input channels.*takes 7/,
  ],
  [
    'low_res_scheduler/scheduler_config.json missing',
    (d) => rmSync(join(d, LOW_RES)),
    ModelNotFoundError,
    /low_res_scheduler\/scheduler_config\.json \(the x4 upscaler's low-res scheduler config\) not found/,
  ],
  [
    'low_res_scheduler num_train_timesteps 3e8',
    json(LOW_RES, { num_train_timesteps: 3e8 }),
    InvalidArgumentError,
    /^DDPMScheduler config num_train_timesteps = 300000000 is invalid/,
  ],
  [
    'low_res_scheduler beta_end 2',
    json(LOW_RES, { beta_end: 2 }),
    InvalidArgumentError,
    /^DDPMScheduler config beta_end = 2 is invalid/,
  ],
  [
    'low_res_scheduler without _class_name',
    json(LOW_RES, { _class_name: undefined }),
    InvalidArgumentError,
    /low_res_scheduler\/scheduler_config\.json _class_name/,
  ],
  [
    'low_res_scheduler of an unknown class',
    json(LOW_RES, { _class_name: 'NoSuchScheduler' }),
    UnknownSchedulerError,
    /NoSuchScheduler/,
  ],
  [
    'vae_decoder/model.onnx missing (and no vae/model.onnx)',
    (d) => rmSync(join(d, 'vae_decoder', 'model.onnx')),
    ModelNotFoundError,
    /vae_decoder\/model\.onnx \(the VAE decoder\) not found/,
  ],
  [
    'vae_decoder scaling_factor 0',
    json('vae_decoder/config.json', { scaling_factor: 0 }),
    ModelInvalidError,
    invalid('vae_decoder/config.json', 'scaling_factor', '0'),
  ],
];

describe('x4 upscaler folder: bad configs fail at load with typed errors, before any session', () => {
  let copy: { dir: string; remove(): void } | undefined;
  beforeAll(() => {
    copy = copyModelFolder(UPSCALER);
  });
  afterAll(() => copy?.remove());

  it.each(configCases)('%s', async (_, breakIt, errorClass, message) => {
    const fresh = copyModelFolder(UPSCALER);
    try {
      breakIt(fresh.dir);
      const factory = new CountingSessionFactory();
      const err = await loadOnnxPipeline(folderSource(fresh.dir), factory).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(errorClass);
      expect((err as Error).message).toMatch(message);
      expect(factory.created, 'sessions created before the check').toBe(0);
    } finally {
      fresh.remove();
    }
  });

  it('components with "vae_encoder" (the upscaler never encodes) → InvalidArgumentError', async () => {
    const options: OnnxPipelineOptions = { components: ['unet', 'vae_decoder', 'vae_encoder'] };
    const err = await loadOnnxPipeline(folderSource(copy!.dir), new CountingSessionFactory(), options).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect(String(err)).toMatch(/without "vae_encoder".*x4 upscaler/);
  });

  it('a UNet without class_labels (a text-to-image export) → ModelInvalidError, sessions released', async () => {
    const fresh = copyModelFolder(UPSCALER);
    try {
      cpSync(join(MODELS, 'sd1', 'unet', 'model.onnx'), join(fresh.dir, 'unet', 'model.onnx'));
      const err = await loadOnnxPipeline(folderSource(fresh.dir), new CountingSessionFactory()).catch(
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(ModelInvalidError);
      expect(String(err)).toMatch(/has no input "class_labels" .* Fix: export the UNet with class_labels/);
    } finally {
      fresh.remove();
    }
  });
});

describe('x4 upscaler UNet: bad class labels fail before the graph runs', () => {
  let parts: OnnxPipelineParts;
  let factory: CountingSessionFactory;
  beforeAll(async () => {
    factory = new CountingSessionFactory();
    parts = await loadOnnxPipeline(folderSource(UPSCALER), factory, { components: ['unet', 'vae_decoder'] });
  });
  afterAll(() => parts?.dispose());

  const input = (classLabels?: Tensor) => ({
    sample: new Tensor(new Float32Array(2 * 7 * 8 * 8), [2, 7, 8, 8]),
    timestep: 500,
    conditioning: { encoderHiddenStates: new Tensor(new Float32Array(2 * 77 * 32), [2, 77, 32]) },
    ...(classLabels ? { classLabels } : {}),
  });
  const labels = (values: number[], shape = [values.length]) => new Tensor(Float32Array.from(values), shape);

  it.each<[string, Tensor | undefined, ErrorClass, RegExp]>([
    ['no class labels', undefined, InvalidArgumentError, /classLabels.*takes "class_labels"/],
    [
      'labels [2, 1] instead of [2]',
      labels([20, 20], [2, 1]),
      ShapeMismatchError,
      /\[2\]: one label per row/,
    ],
    ['one label for a batch of 2', labels([20]), ShapeMismatchError, /one label per row/],
    ['a fraction (20.5)', labels([20, 20.5]), InvalidArgumentError, /20\.5.*whole numbers from 0 to 999/],
    ['a negative label', labels([-1, 20]), InvalidArgumentError, /-1.*whole numbers/],
    ['NaN', labels([Number.NaN, 20]), InvalidArgumentError, /NaN/],
    ['1000 (num_class_embeds = 1000)', labels([20, 1000]), InvalidArgumentError, /num_class_embeds = 1000/],
  ])('%s', async (_, classLabels, errorClass, message) => {
    const before = factory.runs['unet'] ?? 0;
    const err = await parts.denoiser.predict(input(classLabels)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(errorClass);
    expect(String(err)).toMatch(message);
    expect(factory.runs['unet'], 'the UNet ran').toBe(before);
  });

  it('class labels given to a UNet without class_labels → InvalidArgumentError', async () => {
    const sd1 = await loadOnnxPipeline(folderSource(join(MODELS, 'sd1')), new CountingSessionFactory(), {
      components: ['unet', 'vae_decoder'],
    });
    try {
      const err = await sd1.denoiser
        .predict({
          sample: new Tensor(new Float32Array(4 * 8 * 8), [1, 4, 8, 8]),
          timestep: 500,
          conditioning: { encoderHiddenStates: new Tensor(new Float32Array(77 * 32), [1, 77, 32]) },
          classLabels: labels([20]),
        })
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(InvalidArgumentError);
      expect(String(err)).toMatch(/has no "class_labels" input/);
    } finally {
      await sd1.dispose();
    }
  });

  it('the decode-only codec refuses latents with other than 4 channels', async () => {
    await expect(parts.codec.decode(new Tensor(new Float32Array(7 * 64), [1, 7, 8, 8]))).rejects.toThrow(
      ShapeMismatchError,
    );
  });
});
