/**
 * Bad SDXL folders and bad SDXL inputs, one row each: copies of the tiny SDXL fixtures
 * (tests/fixtures/models/sdxl-tiny, sdxl-refiner-tiny) with one file broken, loaded with the real
 * onnxruntime-node factory; the prompt encoder, UNet and adapters of the intact fixture given bad input.
 * Every one is a typed LatentkitError naming the value, what was expected and the fix; folder problems
 * that configs show are refused before any session is created.
 */
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  type Denoiser,
  InvalidArgumentError,
  type LatentkitError,
  ModelInvalidError,
  ModelMismatchError,
  ModelNotFoundError,
  type PromptEncoder,
  ShapeMismatchError,
  Tensor,
} from '@latentkit/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadOnnxPipeline, type OnnxPipelineOptions, type OnnxPipelineParts } from './load-onnx-pipeline.js';
import { checkSdxlSessions } from './sdxl-session-checks.js';
import {
  CountingSessionFactory,
  copyModelFolder,
  editJson,
  folderSource,
} from './test-support/model-copy.js';
import { safetensorsBytes } from './test-support/safetensors-bytes.js';
import { UnetDenoiser } from './unet-denoiser.js';

const fixture = (name: string): string =>
  fileURLToPath(new URL(`../../../tests/fixtures/models/${name}`, import.meta.url));

type ErrorClass = new (...args: never[]) => LatentkitError;
type Break = (dir: string) => void;
const json =
  (file: string, changes: Record<string, unknown>): Break =>
  (dir) =>
    editJson(dir, file, changes);
const remove =
  (file: string): Break =>
  (dir) =>
    rmSync(`${dir}/${file}`);

// [what, fixture, break, options, error class, message, sessions created before the error]
const folderCases: [string, string, Break, OnnxPipelineOptions, ErrorClass, RegExp, 'none' | 'some'][] = [
  [
    'no text_encoder_2/model.onnx',
    'sdxl-tiny',
    remove('text_encoder_2/model.onnx'),
    {},
    ModelNotFoundError,
    /^text_encoder_2\/model\.onnx \(SDXL's second text encoder, OpenCLIP bigG with projection\) not found in the model folder/,
    'none',
  ],
  [
    'no tokenizer_2/vocab.json',
    'sdxl-tiny',
    remove('tokenizer_2/vocab.json'),
    {},
    ModelNotFoundError,
    /^tokenizer_2\/vocab\.json \(the second text encoder's tokenizer vocabulary\) not found/,
    'none',
  ],
  [
    'base with requires_aesthetics_score true (5 time ids) but a 6-time-id UNet config',
    'sdxl-tiny',
    json('model_index.json', { requires_aesthetics_score: true }),
    {},
    ModelMismatchError,
    /model_index\.json requires_aesthetics_score = true means 5 time ids, but unet\/config\.json \(projection_class_embeddings_input_dim 68 = 6 × 8 \+ 20\) takes 6\. Fix: set requires_aesthetics_score to false/,
    'none',
  ],
  [
    'refiner with requires_aesthetics_score false',
    'sdxl-refiner-tiny',
    json('model_index.json', { requires_aesthetics_score: false }),
    {},
    ModelMismatchError,
    /requires_aesthetics_score = false means 6 time ids, but unet\/config\.json .* takes 5\. Fix: set requires_aesthetics_score to true/,
    'none',
  ],
  [
    'unet cross_attention_dim ≠ hidden sizes of both text encoders',
    'sdxl-tiny',
    json('unet/config.json', { cross_attention_dim: 32 }),
    {},
    ModelMismatchError,
    /unet\/config\.json cross_attention_dim = 32, but SDXL's UNet attends to both text encoders' hidden states concatenated: text_encoder\/config\.json hidden_size 16 \+ text_encoder_2\/config\.json hidden_size 24 = 40/,
    'none',
  ],
  [
    "refiner: cross_attention_dim must be text_encoder_2's alone",
    'sdxl-refiner-tiny',
    json('text_encoder_2/config.json', { hidden_size: 32 }),
    {},
    ModelMismatchError,
    /cross_attention_dim = 24, but .*text_encoder_2\/config\.json hidden_size 32 \(the folder has no text_encoder, as the refiner\)/,
    'none',
  ],
  [
    'projection_class_embeddings_input_dim that gives no whole number of time ids',
    'sdxl-tiny',
    json('unet/config.json', { projection_class_embeddings_input_dim: 70 }),
    {},
    ModelMismatchError,
    /projection_class_embeddings_input_dim = 70 should be K × addition_time_embed_dim \(8\) \+ text_encoder_2\/config\.json projection_dim \(20\) .* gives K = 6\.25/,
    'none',
  ],
  [
    'addition_embed_type other than text_time',
    'sdxl-tiny',
    json('unet/config.json', { addition_embed_type: 'text' }),
    {},
    ModelInvalidError,
    /^unet\/config\.json in .*: "addition_embed_type" = "text" is invalid: expected "text_time"/,
    'none',
  ],
  [
    'force_zeros_for_empty_prompt not a boolean',
    'sdxl-tiny',
    json('model_index.json', { force_zeros_for_empty_prompt: 'yes' }),
    {},
    ModelInvalidError,
    /"force_zeros_for_empty_prompt" is "yes"; expected true or false \(default true\)/,
    'none',
  ],
  [
    'force_upcast not a boolean',
    'sdxl-tiny',
    json('vae_decoder/config.json', { force_upcast: 1 }),
    {},
    ModelInvalidError,
    /^vae_decoder\/config\.json in .*: "force_upcast" = 1 is invalid: expected true or false/,
    'none',
  ],
  [
    'text_encoder without text_encoder_2 in components',
    'sdxl-tiny',
    () => undefined,
    { components: ['text_encoder', 'unet', 'vae_decoder'] },
    InvalidArgumentError,
    /components.*both "text_encoder" and "text_encoder_2", or neither.*Fix: add "text_encoder_2"/,
    'none',
  ],
  [
    'text_encoder_2 in components of an SD 1.x folder',
    'sd1',
    () => undefined,
    { components: ['text_encoder', 'text_encoder_2', 'unet', 'vae_decoder'] },
    InvalidArgumentError,
    /a list without "text_encoder_2": .* is not an SDXL model \(model_index\.json names/,
    'none',
  ],
  [
    'configs for 5 time ids (refiner) over a UNet graph that takes 6',
    'sdxl-tiny',
    (dir) => {
      editJson(dir, 'model_index.json', { requires_aesthetics_score: true });
      editJson(dir, 'unet/config.json', { projection_class_embeddings_input_dim: 60 });
    },
    {},
    ModelMismatchError,
    /unet\/model\.onnx input "time_ids" is \[batch, 6\], but model_index\.json requires_aesthetics_score and unet\/config\.json projection_class_embeddings_input_dim .* give 5/,
    'some',
  ],
  [
    'text_encoder_2 projection_dim ≠ the UNet graph text_embeds width',
    'sdxl-tiny',
    (dir) => {
      editJson(dir, 'text_encoder_2/config.json', { projection_dim: 28 });
      editJson(dir, 'unet/config.json', { projection_class_embeddings_input_dim: 76 });
    },
    {},
    ModelMismatchError,
    /unet\/model\.onnx input "text_embeds" is \[batch, 20\], but text_encoder_2\/config\.json projection_dim gives 28/,
    'some',
  ],
];

describe('SDXL folders with one thing wrong (real onnxruntime-node)', () => {
  it.each(folderCases)('%s', async (_, name, brk, options, type, message, before) => {
    const copy = copyModelFolder(fixture(name));
    try {
      brk(copy.dir);
      const sessions = new CountingSessionFactory({ onWarning: () => undefined });
      const error = await loadOnnxPipeline(folderSource(copy.dir), sessions, options).catch(
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(type);
      expect((error as Error).message).toMatch(message);
      if (before === 'none') expect(sessions.created).toBe(0);
    } finally {
      copy.remove();
    }
  });
});

describe('SDXL parts given bad input (sdxl-tiny, real onnxruntime-node)', () => {
  let parts: OnnxPipelineParts;
  let encoder: PromptEncoder;
  let unet: Denoiser;
  beforeAll(async () => {
    parts = await loadOnnxPipeline(folderSource(fixture('sdxl-tiny')), new CountingSessionFactory());
    encoder = parts.promptEncoder!;
    unet = parts.denoiser;
  });
  afterAll(async () => {
    await parts.dispose();
  });
  const sample = () => new Tensor(new Float32Array(2 * 4 * 8 * 8).fill(0.1), [2, 4, 8, 8]);
  const hidden = () => new Tensor(new Float32Array(2 * 77 * 40).fill(0.1), [2, 77, 40]);
  const textEmbeds = (width = 20) => new Tensor(new Float32Array(2 * width).fill(0.1), [2, width]);
  const timeIds = (count = 6) => new Tensor(new Float32Array(2 * count).fill(64), [2, count]);

  it.each([
    [
      'no timeIds',
      { encoderHiddenStates: hidden(), textEmbeds: textEmbeds() },
      InvalidArgumentError,
      /conditioning\.timeIds.*expected \[2, 6\]: the micro-conditioning time ids .* unet\/model\.onnx is an SDXL UNet \(it takes "time_ids"\).*Fix: use StableDiffusionXLPipeline/,
    ],
    [
      'no textEmbeds',
      { encoderHiddenStates: hidden(), timeIds: timeIds() },
      InvalidArgumentError,
      /conditioning\.textEmbeds.*expected \[2, 20\]: the pooled text embedding of text_encoder_2/,
    ],
    [
      '5 time ids for the base UNet (6)',
      { encoderHiddenStates: hidden(), textEmbeds: textEmbeds(), timeIds: timeIds(5) },
      ShapeMismatchError,
      /conditioning\.timeIds.*\[2, 5\].*expected \[2, 6\].*\(SDXL base takes 6 values\).*requires_aesthetics_score/,
    ],
    [
      'textEmbeds of another width',
      { encoderHiddenStates: hidden(), textEmbeds: textEmbeds(16), timeIds: timeIds() },
      ShapeMismatchError,
      /conditioning\.textEmbeds.*\[2, 16\].*expected \[2, 20\]/,
    ],
  ] as const)('predict with %s', async (_, conditioning, type, message) => {
    const error = await unet
      .predict({ sample: sample(), timestep: 500, conditioning })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(type);
    expect((error as Error).message).toMatch(message);
  });

  it.each([
    [
      'prompts2 of another length',
      () => encoder.encode(['a', 'b'], { prompts2: ['c'] }),
      InvalidArgumentError,
      /prompts2.*1 texts.*one text for the second text encoder per prompt \(2\)/,
    ],
    [
      'prompts2 with a non-string',
      () => encoder.encode(['a'], { prompts2: [3 as never] }),
      InvalidArgumentError,
      /prompts2/,
    ],
    [
      'clipSkip 0',
      () => encoder.encode(['a'], { clipSkip: 0 }),
      InvalidArgumentError,
      /clipSkip.*an integer ≥ 1 \(1 = the model's default layer: the last for SD 1\.x\/2\.x, the penultimate for SDXL/,
    ],
    [
      'clipSkip beyond the layers',
      () => encoder.encode(['a'], { clipSkip: 3 }),
      InvalidArgumentError,
      /clipSkip.*at most 2 \(text_encoder\/model\.onnx has 2 layers; clip skip N takes hidden_states\[-\(N\+1\)\]\)/,
    ],
  ] as const)('encode with %s', async (_, call, type, message) => {
    const error = await call().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(type);
    expect((error as Error).message).toMatch(message);
  });

  it('an SD 1.x embedding on SDXL: ModelMismatchError, nothing changes', async () => {
    const error = await parts
      .adapters!.loadTextualInversion(safetensorsBytes({ emb_params: [1, 16] }), {
        token: '<sd1>',
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ModelMismatchError);
    expect((error as Error).message).toMatch(
      /holds one set of vectors \(1 × 16\): an SD 1\.x\/2\.x embedding, but this is an SDXL model.*"clip_l" \(768 wide\) and "clip_g" \(1280 wide\)/,
    );
    expect(parts.adapters!.embeddings).toEqual([]);
  });

  it('an SDXL embedding whose clip_g is not text_encoder_2 width: refused before either tokenizer changes', async () => {
    const before = await encoder.encode(['a <bad> cat']);
    const error = await parts
      .adapters!.loadTextualInversion(safetensorsBytes({ clip_l: [1, 16], clip_g: [1, 16] }), {
        token: '<bad>',
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ModelMismatchError);
    expect((error as Error).message).toMatch(
      /holds vectors of width 16 \(the file's "clip_g" vectors, for text_encoder_2\), but the text encoder text_encoder_2\/model\.onnx embeds tokens in 24 dimensions/,
    );
    const after = await encoder.encode(['a <bad> cat']);
    expect(Array.from(after.encoderHiddenStates.data)).toEqual(Array.from(before.encoderHiddenStates.data));
    expect(parts.adapters!.embeddings).toEqual([]);
  });
});

describe('an SDXL folder with an SD 1.x UNet', () => {
  it('model_index.json says SDXL, the UNet graph has no text_embeds/time_ids: ModelMismatchError', async () => {
    const sessions = new CountingSessionFactory();
    const source = folderSource(fixture('sd1'));
    const session = await sessions.create({ component: 'unet', modelPath: 'unet/model.onnx', source });
    const denoiser = new UnetDenoiser(session, sessions, {
      request: { component: 'unet', modelPath: 'unet/model.onnx', source },
    });
    try {
      expect(() =>
        checkSdxlSessions(
          {
            className: 'StableDiffusionXLPipeline',
            sdxl: {
              textEmbedsDim: 20,
              timeIdCount: 6,
              text2HiddenSize: 24,
              text2VocabSize: undefined,
              text2LayerNormEps: undefined,
            },
            denoiser,
            unetFile: 'unet/model.onnx',
            textEncoder: undefined,
            textEncoder2: undefined,
          },
          '/models/x',
        ),
      ).toThrow(
        /model_index\.json names StableDiffusionXLPipeline \(SDXL\), but unet\/model\.onnx has no "text_embeds" \/ "time_ids" inputs \(an SD 1\.x\/2\.x UNet\)/,
      );
    } finally {
      await denoiser.release();
    }
  });
});
