import {
  InvalidArgumentError,
  type LatentkitError,
  LimitExceededError,
  ModelInvalidError,
  ModelMismatchError,
  StableDiffusionPipeline,
} from '@latentkit/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadOnnxPipeline, type OnnxPipelineOptions } from './load-onnx-pipeline.js';
import {
  CountingSessionFactory,
  copyShippedModel,
  editJson,
  folderSource,
  writeText,
} from './test-support/model-copy.js';

// Each row: the shipped model copied to a temp folder with one config value broken. Every one must fail
// at load with a typed error naming the file, the key and the value — before any onnxruntime session is
// created (the counting factory is the real onnxruntime-node one).
type Break = (dir: string) => void;
/** An error class (their constructors take different arguments). */
type ErrorClass = new (...args: never[]) => LatentkitError;
const json =
  (file: string, changes: Record<string, unknown>): Break =>
  (dir) =>
    editJson(dir, file, changes);
const VAE = 'vae_decoder/config.json';
const UNET = 'unet/config.json';
const TEXT = 'text_encoder/config.json';
const SCHEDULER = 'scheduler/scheduler_config.json';

const invalid = (file: string, key: string, value: string) =>
  new RegExp(
    `^${file.replace(/[/.]/g, '\\$&')} in .*: "${key}" = ${value} is invalid: expected .*\\. Fix: correct the file \\(the usual value is`,
  );

const configCases: [string, Break, ErrorClass, RegExp][] = [
  // issue 14 §2: a scaling factor of 0 gave NaN images
  [
    'vae_decoder scaling_factor 0 (issue 14 §2)',
    json(VAE, { scaling_factor: 0 }),
    ModelInvalidError,
    invalid(VAE, 'scaling_factor', '0'),
  ],
  [
    'vae_decoder scaling_factor negative',
    json(VAE, { scaling_factor: -0.18215 }),
    ModelInvalidError,
    invalid(VAE, 'scaling_factor', '-0\\.18215'),
  ],
  [
    'vae_decoder scaling_factor NaN (Python token)',
    (d) => writeText(d, VAE, '{"scaling_factor": NaN, "latent_channels": 4}'),
    ModelInvalidError,
    invalid(VAE, 'scaling_factor', 'NaN'),
  ],
  [
    'vae_decoder scaling_factor Infinity',
    (d) => writeText(d, VAE, '{"scaling_factor": Infinity}'),
    ModelInvalidError,
    invalid(VAE, 'scaling_factor', 'Infinity'),
  ],
  [
    'vae_decoder scaling_factor 1e-30 (latents / 1e-30 overflow)',
    json(VAE, { scaling_factor: 1e-30 }),
    ModelInvalidError,
    invalid(VAE, 'scaling_factor', '1e-30'),
  ],
  [
    'vae_decoder scaling_factor a string',
    json(VAE, { scaling_factor: '0.18215' }),
    ModelInvalidError,
    invalid(VAE, 'scaling_factor', '"0\\.18215"'),
  ],
  [
    'vae_encoder scaling_factor 0',
    json('vae_encoder/config.json', { scaling_factor: 0 }),
    ModelInvalidError,
    invalid('vae_encoder/config.json', 'scaling_factor', '0'),
  ],
  [
    'decoder and encoder scaling factors disagree',
    json('vae_encoder/config.json', { scaling_factor: 0.18215 }),
    ModelMismatchError,
    /VAE configs of .* disagree on "scaling_factor" \(vae_decoder\/config\.json: 0\.57\d+, vae_encoder\/config\.json: 0\.18215\)\. Fix:/,
  ],
  [
    'vae_decoder shift_factor 1e6',
    json(VAE, { shift_factor: 1e6 }),
    ModelInvalidError,
    invalid(VAE, 'shift_factor', '1000000'),
  ],
  [
    'vae_decoder latent_channels 0',
    json(VAE, { latent_channels: 0 }),
    ModelInvalidError,
    invalid(VAE, 'latent_channels', '0'),
  ],
  [
    'vae_decoder latent_channels 4.5',
    json(VAE, { latent_channels: 4.5 }),
    ModelInvalidError,
    invalid(VAE, 'latent_channels', '4\\.5'),
  ],
  [
    'vae_decoder block_out_channels empty',
    json(VAE, { block_out_channels: [] }),
    ModelInvalidError,
    invalid(VAE, 'block_out_channels', '\\[\\]'),
  ],
  [
    'vae_decoder block_out_channels of 40 blocks (downscale 2^39)',
    json(VAE, { block_out_channels: new Array(40).fill(64) }),
    ModelInvalidError,
    invalid(VAE, 'block_out_channels', '\\[64, .*\\]'),
  ],
  [
    'vae_decoder block_out_channels a string',
    json(VAE, { block_out_channels: '16,32,64' }),
    ModelInvalidError,
    invalid(VAE, 'block_out_channels', '"16,32,64"'),
  ],
  // issue 14 §3: sample_size 1e6 gave a RangeError when generating at the default size
  [
    'unet sample_size 1e6 (issue 14 §3)',
    json(UNET, { sample_size: 1e6 }),
    ModelInvalidError,
    invalid(UNET, 'sample_size', '1000000'),
  ],
  [
    'unet sample_size 0',
    json(UNET, { sample_size: 0 }),
    ModelInvalidError,
    invalid(UNET, 'sample_size', '0'),
  ],
  [
    'unet sample_size 8.5',
    json(UNET, { sample_size: 8.5 }),
    ModelInvalidError,
    invalid(UNET, 'sample_size', '8\\.5'),
  ],
  [
    'unet in_channels 1e9',
    json(UNET, { in_channels: 1e9 }),
    ModelInvalidError,
    invalid(UNET, 'in_channels', '1000000000'),
  ],
  [
    'unet out_channels -4',
    json(UNET, { out_channels: -4 }),
    ModelInvalidError,
    invalid(UNET, 'out_channels', '-4'),
  ],
  [
    'unet cross_attention_dim 1e12',
    json(UNET, { cross_attention_dim: 1e12 }),
    ModelInvalidError,
    invalid(UNET, 'cross_attention_dim', '1000000000000'),
  ],
  [
    'unet block_out_channels with a negative entry',
    json(UNET, { block_out_channels: [32, -64] }),
    ModelInvalidError,
    invalid(UNET, 'block_out_channels', '\\[32, -64\\]'),
  ],
  [
    'text_encoder hidden_size 0',
    json(TEXT, { hidden_size: 0 }),
    ModelInvalidError,
    invalid(TEXT, 'hidden_size', '0'),
  ],
  [
    'text_encoder layer_norm_eps 0',
    json(TEXT, { layer_norm_eps: 0 }),
    ModelInvalidError,
    invalid(TEXT, 'layer_norm_eps', '0'),
  ],
  [
    'text_encoder layer_norm_eps -1e-5',
    json(TEXT, { layer_norm_eps: -1e-5 }),
    ModelInvalidError,
    invalid(TEXT, 'layer_norm_eps', '-0\\.00001'),
  ],
  // issue 14 §3: num_train_timesteps 3e8 aborted V8 during fromPretrained; the scheduler class checks it
  [
    'scheduler num_train_timesteps 3e8 (issue 14 §3)',
    json(SCHEDULER, { num_train_timesteps: 3e8 }),
    InvalidArgumentError,
    /^DDIMScheduler config num_train_timesteps = 300000000 is invalid: expected an integer/,
  ],
  // issue 14 §2: betas outside (0, 1) gave NaN images
  [
    'scheduler beta_start 0.5, beta_end 2 (issue 14 §2)',
    json(SCHEDULER, { beta_start: 0.5, beta_end: 2 }),
    InvalidArgumentError,
    /^DDIMScheduler config beta_end = 2 is invalid: expected a number strictly between 0 and 1/,
  ],
  [
    'scheduler trained_betas of the wrong length (issue 14 §2)',
    json(SCHEDULER, { trained_betas: [0.1, 0.2] }),
    InvalidArgumentError,
    /^DDIMScheduler config trained_betas = .* is invalid: expected num_train_timesteps \(1000\) numbers/,
  ],
  [
    'scheduler _class_name a number',
    json(SCHEDULER, { _class_name: 42 }),
    InvalidArgumentError,
    /_class_name = 42 is invalid: expected a scheduler class name/,
  ],
];

describe('loadOnnxPipeline: bad model configs (the shipped model, one value broken)', () => {
  it.each(configCases)('%s', async (_what, breakIt, kind, message) => {
    const model = copyShippedModel();
    try {
      breakIt(model.dir);
      const sessions = new CountingSessionFactory();
      const error = await loadOnnxPipeline(folderSource(model.dir), sessions).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(kind);
      expect((error as Error).message).toMatch(message);
      expect(sessions.created).toBe(0); // refused before any session
    } finally {
      model.remove();
    }
  });
});

describe('prompt chunk limits (the shipped model)', () => {
  let model: ReturnType<typeof copyShippedModel>;
  let sessions: CountingSessionFactory;
  let pipe: StableDiffusionPipeline;
  beforeAll(async () => {
    model = copyShippedModel();
    sessions = new CountingSessionFactory();
    pipe = new StableDiffusionPipeline(await loadOnnxPipeline(folderSource(model.dir), sessions));
  });
  afterAll(async () => {
    await pipe.dispose();
    model.remove();
  });

  const tooMany =
    /^the prompt "red BREAK red BREAK red BREAK red BREAK …" = "more than 32 chunks" is invalid: expected at most 32 chunks of 75 CLIP tokens \(2400 tokens; each BREAK starts a new chunk\)\. Fix: .*maxPromptChunks: 64/;
  const chunkCases: [string, Record<string, unknown>, RegExp][] = [
    // issue 14 §3: ran 2000 text-encoder chunks
    ["'red BREAK ' × 2000 (issue 14 §3)", { prompt: 'red BREAK '.repeat(2000) }, tooMany],
    ['33 BREAK-separated chunks, one over the default', { prompt: `${'red BREAK '.repeat(32)}red` }, tooMany],
    [
      'the negative prompt over the limit',
      { prompt: 'a red circle', negativePrompt: 'red BREAK '.repeat(40) },
      tooMany,
    ],
    [
      '2,500 tokens without BREAK',
      { prompt: 'a red circle, '.repeat(625) },
      /^the prompt "a red circle, a red circle, a red circle…" = "more than 32 chunks" is invalid/,
    ],
    ['one prompt of a batch over the limit', { prompt: ['a red circle', 'red BREAK '.repeat(33)] }, tooMany],
  ];

  it.each(chunkCases)('%s', async (_what, options, message) => {
    const before = sessions.runs['text_encoder'] ?? 0;
    const error = await pipe
      .generate({ ...options, numInferenceSteps: 1, seed: 1, outputType: 'latent' })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(error).toBeInstanceOf(LimitExceededError);
    expect((error as Error).message).toMatch(message);
    expect(sessions.runs['text_encoder'] ?? 0).toBe(before); // the text encoder never ran
  });

  const weightCases: [string, string, ErrorClass][] = [
    // issue 14 §2: both gave all-NaN images
    ["'(' × 930 + 'a red circle' (issue 14 §2)", `${'('.repeat(930)}a red circle`, LimitExceededError],
    [
      '(a red circle:1e39), the 1e39 written out (issue 14 §2)',
      `(a red circle:1${'0'.repeat(39)})`,
      InvalidArgumentError,
    ],
    ['49 nested brackets', `${'('.repeat(49)}a red circle${')'.repeat(49)}`, InvalidArgumentError],
  ];
  it.each(weightCases)('prompt weight: %s', async (_what, prompt, kind) => {
    const before = sessions.runs['text_encoder'] ?? 0;
    await expect(pipe.generate({ prompt, numInferenceSteps: 1, seed: 1 })).rejects.toThrow(kind);
    expect(sessions.runs['text_encoder'] ?? 0).toBe(before);
  });

  const optionCases: [string, OnnxPipelineOptions, RegExp][] = [
    ['maxPromptChunks 0', { maxPromptChunks: 0 }, /^maxPromptChunks = 0 is invalid: expected an integer ≥ 1/],
    ['maxPromptChunks 1.5', { maxPromptChunks: 1.5 }, /^maxPromptChunks = 1\.5 is invalid/],
    ['maxPromptChunks NaN', { maxPromptChunks: Number.NaN }, /^maxPromptChunks = NaN is invalid/],
  ];
  it.each(optionCases)('loader option %s', async (_what, options, message) => {
    const other = new CountingSessionFactory();
    await expect(loadOnnxPipeline(folderSource(model.dir), other, options)).rejects.toThrow(message);
    expect(other.created).toBe(0);
  });
});

describe('loadOnnxPipeline: a tokenizer that does not fit the text encoder (the shipped model)', () => {
  const cases: [string, Break, ErrorClass, RegExp][] = [
    [
      'vocab.json ids beyond text_encoder vocab_size (a crash inside onnxruntime before)',
      json(TEXT, { vocab_size: 500 }),
      ModelMismatchError,
      /tokenizer\/vocab\.json has token ids up to 602, but text_encoder\/config\.json vocab_size = 500\. Fix: use the tokenizer that belongs to the text encoder/,
    ],
    [
      'a negative token id in vocab.json',
      json('tokenizer/vocab.json', { 'red</w>': -5 }),
      ModelInvalidError,
      /^tokenizer\/vocab\.json maps "red<\/w>" to -5: expected a token id, an integer from 0 to 2147483647/,
    ],
    [
      'a token id that is not an integer',
      json('tokenizer/vocab.json', { 'red</w>': 1.5 }),
      ModelInvalidError,
      /maps "red<\/w>" to 1\.5: expected a token id/,
    ],
  ];
  it.each(cases)('%s', async (_what, breakIt, kind, message) => {
    const model = copyShippedModel();
    try {
      breakIt(model.dir);
      const sessions = new CountingSessionFactory();
      const error = await loadOnnxPipeline(folderSource(model.dir), sessions).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(kind);
      expect((error as Error).message).toMatch(message);
    } finally {
      model.remove();
    }
  });
});
