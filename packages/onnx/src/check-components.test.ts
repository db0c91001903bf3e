import {
  ModelInvalidError,
  ModelMismatchError,
  ModelNotFoundError,
  NotImplementedError,
} from '@latentkit/core';
import { describe, expect, it } from 'vitest';
import { checkComponentSizes } from './check-components.js';
import { loadOnnxPipeline } from './load-onnx-pipeline.js';
import { checkModelConfigs } from './model-config-checks.js';
import { readModelIndex } from './model-index.js';
import { checkModelPath } from './model-paths.js';
import { type FakeValue, fakeFactory, fakeSession, memorySource } from './test-support/fake-session.js';

const r = (from: string, value: number | undefined) => ({ from, value });

describe('checkComponentSizes', () => {
  const ok = {
    textHiddenSize: [r('text config', 768), r('text model', 768)],
    unetCrossAttentionDim: [r('unet config', 768), r('unet model', undefined)],
    latentChannels: [r('vae config', 4), r('unet out', 4)],
    unetInChannels: [r('unet config', 9)],
  };

  it('returns the agreed sizes, skipping unknown ones', () => {
    expect(checkComponentSizes(ok, 'm')).toEqual({ hiddenSize: 768, latentChannels: 4, inChannels: 9 });
    expect(
      checkComponentSizes(
        { textHiddenSize: [], unetCrossAttentionDim: [], latentChannels: [], unetInChannels: [] },
        'm',
      ),
    ).toEqual({});
  });

  it('reports every disagreement with where each value came from', () => {
    const bad = {
      ...ok,
      unetCrossAttentionDim: [r('unet config', 1024)],
      latentChannels: [r('vae config', 4), r('unet out', 16)],
    };
    expect(() => checkComponentSizes(bad, '/models/x')).toThrow(ModelMismatchError);
    expect(() => checkComponentSizes(bad, '/models/x')).toThrow(
      /text model = 768, unet config = 1024.*unet out = 16/,
    );
  });

  it('accepts 4 and 9 input channels for 4 latent channels, nothing else', () => {
    expect(() => checkComponentSizes({ ...ok, unetInChannels: [r('unet', 4)] }, 'm')).not.toThrow();
    expect(() => checkComponentSizes({ ...ok, unetInChannels: [r('unet', 8)] }, 'm')).toThrow(
      /expected 4 .* or 9/,
    );
  });
});

describe('checkModelPath', () => {
  it('normalises paths inside the folder', () => {
    expect(checkModelPath('unet/model.onnx', 'unet')).toBe('unet/model.onnx');
    expect(checkModelPath('./unet//./model.onnx', 'unet')).toBe('unet/model.onnx');
    expect(checkModelPath('unet\\model.onnx', 'unet')).toBe('unet/model.onnx');
  });

  it.each([
    '../x.onnx',
    'unet/../../x',
    '/etc/passwd',
    '\\\\server\\x',
    'C:\\x.onnx',
    'https://x/y',
    '',
    '.',
    'a\0b',
  ])('refuses %j', (path) => {
    expect(() => checkModelPath(path, 'unet model file')).toThrow(ModelInvalidError);
  });
});

describe('checkModelConfigs: the VAE values', () => {
  const vae = (c: object) => {
    const { scalingFactor, shiftFactor, latentChannels, downscale } = checkModelConfigs(c, '/m');
    return { scalingFactor, shiftFactor, latentChannels, downscale };
  };
  it('defaults to 0.18215 / 0 / 8, and reads scaling, shift and downscale', () => {
    expect(vae({})).toEqual({
      scalingFactor: 0.18215,
      shiftFactor: 0,
      latentChannels: undefined,
      downscale: 8,
    });
    expect(
      vae({
        vaeDecoder: {
          scaling_factor: 0.13025,
          shift_factor: 0.0609,
          latent_channels: 16,
          block_out_channels: [1, 2, 3],
        },
      }),
    ).toEqual({ scalingFactor: 0.13025, shiftFactor: 0.0609, latentChannels: 16, downscale: 4 });
  });

  it('takes the decoder config first, then the encoder, then vae/', () => {
    expect(vae({ vaeEncoder: { scaling_factor: 0.5 }, vae: { block_out_channels: [1, 2] } })).toEqual({
      scalingFactor: 0.5,
      shiftFactor: 0,
      latentChannels: undefined,
      downscale: 8,
    });
    expect(vae({ vae: { block_out_channels: [1, 2], latent_channels: 4 } }).downscale).toBe(2);
  });
});

describe('readModelIndex', () => {
  const index = (className: string, extra: object = {}) =>
    memorySource({
      'model_index.json': JSON.stringify({
        _class_name: className,
        unet: ['diffusers', 'OnnxRuntimeModel'],
        ...extra,
      }),
    });

  it('accepts SD 1.x/2.x pipelines of diffusers, Optimum and the legacy script', async () => {
    for (const name of [
      'OnnxStableDiffusionPipeline',
      'StableDiffusionOnnxPipeline',
      'ORTStableDiffusionImg2ImgPipeline',
      'StableDiffusionInpaintPipeline',
      'OnnxStableDiffusionInpaintPipeline',
      'LatentConsistencyModelPipeline',
    ]) {
      expect((await readModelIndex(index(name))).className).toBe(name);
    }
    expect((await readModelIndex(index('OnnxStableDiffusionPipeline'))).components['unet']).toEqual([
      'diffusers',
      'OnnxRuntimeModel',
    ]);
  });

  it('StableDiffusionGLIGENPipeline (and the Onnx… spelling) is a grounded SD 1.x folder; the others are not', async () => {
    for (const name of ['StableDiffusionGLIGENPipeline', 'OnnxStableDiffusionGLIGENPipeline']) {
      const read = await readModelIndex(index(name));
      expect([read.kind, read.grounded]).toEqual(['text-to-image', true]);
    }
    expect((await readModelIndex(index('StableDiffusionPipeline'))).grounded).toBe(false);
    expect((await readModelIndex(index('StableDiffusionUpscalePipeline'))).grounded).toBe(false);
    await expect(readModelIndex(index('StableDiffusionGLIGENTextImagePipeline'))).rejects.toThrow(
      NotImplementedError,
    );
  });

  it('SDXL folders are read with their pipeline settings; other SDXL pipelines are not implemented', async () => {
    const base = await readModelIndex(index('StableDiffusionXLPipeline'));
    expect(base.sdxl).toEqual({ requiresAestheticsScore: false, forceZerosForEmptyPrompt: true });
    const refiner = await readModelIndex(
      index('ORTStableDiffusionXLImg2ImgPipeline', {
        requires_aesthetics_score: true,
        force_zeros_for_empty_prompt: false,
        text_encoder: [null, null],
      }),
    );
    expect(refiner.sdxl).toEqual({ requiresAestheticsScore: true, forceZerosForEmptyPrompt: false });
    expect('text_encoder' in refiner.components).toBe(false);
    expect(
      (await readModelIndex(index('OnnxStableDiffusionPipeline', { text_encoder_2: ['x', 'y'] }))).sdxl,
    ).toBeDefined();
    expect((await readModelIndex(index('OnnxStableDiffusionPipeline'))).sdxl).toBeUndefined();
    await expect(readModelIndex(index('StableDiffusionXLControlNetPipeline'))).rejects.toThrow(
      NotImplementedError,
    );
    await expect(
      readModelIndex(index('StableDiffusionXLPipeline', { requires_aesthetics_score: 'yes' })),
    ).rejects.toThrow(/"requires_aesthetics_score" is "yes"; expected true or false/);
  });

  it('other pipelines and missing files are typed errors', async () => {
    await expect(readModelIndex(index('KandinskyPipeline'))).rejects.toThrow(ModelInvalidError);
    await expect(readModelIndex(memorySource({}))).rejects.toThrow(ModelNotFoundError);
    await expect(readModelIndex(memorySource({ 'model_index.json': '{"_class_name": 3}' }))).rejects.toThrow(
      ModelInvalidError,
    );
  });
});

describe('loadOnnxPipeline with fake sessions', () => {
  const unet = (cross: number): [FakeValue[], FakeValue[]] => [
    [
      ['sample', 'float32', ['b', 4, 'h', 'w']],
      ['timestep', 'float32', ['b']],
      ['encoder_hidden_states', 'float32', ['b', 's', cross]],
    ],
    [['out_sample', 'float32', ['b', 4, 'h', 'w']]],
  ];
  const session = ([i, o]: [FakeValue[], FakeValue[]]) => fakeSession(i, o, () => ({}));
  const files = (unetConfig: object) =>
    memorySource({
      'model_index.json': JSON.stringify({ _class_name: 'OnnxStableDiffusionPipeline' }),
      'scheduler/scheduler_config.json': '{"_class_name": "DDIMScheduler", "clip_sample_range": Infinity}',
      'unet/model.onnx': '',
      'unet/config.json': JSON.stringify(unetConfig),
      'vae_decoder/model.onnx': '',
      'vae_decoder/config.json': JSON.stringify({
        latent_channels: 4,
        block_out_channels: [1, 2, 3, 4],
        scaling_factor: 0.5,
      }),
    });
  const sessions = (cross: number) => ({
    unet: session(unet(cross)),
    vae_decoder: session([
      [['latent_sample', 'float32', ['b', 4, 'h', 'w']]],
      [['sample', 'float32', ['b', 3, 'H', 'W']]],
    ]),
  });

  it('loads without text encoder or VAE encoder, reading configs with Python tokens', async () => {
    const s = sessions(768);
    const parts = await loadOnnxPipeline(
      files({ cross_attention_dim: 768, in_channels: 4, sample_size: 64 }),
      fakeFactory(s),
      {
        components: ['unet', 'vae_decoder'],
      },
    );
    expect(parts.promptEncoder).toBeUndefined();
    expect(parts.denoiser.sampleSize).toBe(64);
    expect(parts.codec.downscale).toBe(8);
    expect(parts.scheduler.config['clip_sample_range']).toBe(Number.POSITIVE_INFINITY);
    await parts.dispose?.();
    expect(s.unet.released && s.vae_decoder.released).toBe(true);
  });

  it('a UNet whose metadata contradicts its config fails at load and releases the sessions', async () => {
    const s = sessions(1024);
    await expect(
      loadOnnxPipeline(files({ cross_attention_dim: 768 }), fakeFactory(s), {
        components: ['unet', 'vae_decoder'],
      }),
    ).rejects.toThrow(
      /unet\/config.json cross_attention_dim = 768, unet\/model.onnx input encoder_hidden_states = 1024/,
    );
    expect(s.unet.released && s.vae_decoder.released).toBe(true);
  });

  it('a missing text encoder is a ModelNotFoundError naming the file and the folder', async () => {
    await expect(loadOnnxPipeline(files({}), fakeFactory(sessions(768)))).rejects.toThrow(
      /text_encoder\/model\.onnx .*\/models\/fake/,
    );
  });

  it('rejects unknown components and lists without the UNet', async () => {
    await expect(
      loadOnnxPipeline(files({}), fakeFactory({}), { components: ['vae_decoder'] }),
    ).rejects.toThrow(/"unet"/);
  });
});
