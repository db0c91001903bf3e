import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FileModelSource, NodeSessionFactory } from '@latentkit/backend-node';
import {
  InvalidArgumentError,
  type LatentkitError,
  LimitExceededError,
  type ModelAdapters,
  ModelInvalidError,
  ModelMismatchError,
  NotImplementedError,
  type PromptEncoder,
} from '@latentkit/core';
import { strToU8, zipSync } from 'fflate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadOnnxPipeline, type OnnxPipelineParts } from '../load-onnx-pipeline.js';
import type { OnnxPromptEncoder } from '../onnx-prompt-encoder.js';
import { safetensorsBytes } from '../test-support/safetensors-bytes.js';

// Bad embedding files and tokens, loaded into the real sd1 fixture model (onnxruntime-node): each is a typed
// error naming the value, what was expected and the fix, and leaves the model and tokenizer as they were.
const fixtures = fileURLToPath(new URL('../../../../tests/fixtures/', import.meta.url));
const SD1 = join(fixtures, 'models', 'sd1');
const PINK = new Uint8Array(
  readFileSync(join(fixtures, 'textual-inversion', 'pink-learned_embeds.safetensors')),
);
const D = 32; // the sd1 fixture's text encoder width

type ErrorClass = new (...args: never[]) => LatentkitError;

let parts: OnnxPipelineParts;
let adapters: ModelAdapters;
let encoder: OnnxPromptEncoder;
let baseline: Float32Array;

beforeAll(async () => {
  parts = await loadOnnxPipeline(new FileModelSource(SD1), new NodeSessionFactory());
  adapters = parts.adapters!;
  encoder = parts.promptEncoder as OnnxPromptEncoder;
  // one good embedding first: later failures must leave it working
  await adapters.loadTextualInversion(PINK);
  baseline = (await (encoder as PromptEncoder).encode(['a <pink> cat'])).encoderHiddenStates.data;
});
afterAll(async () => {
  await parts?.dispose();
});

const vectors = (n: number, d = D) => ({ emb_params: [n, d] });
const zip = new Uint8Array([0x50, 0x4b, 0x03, 0x04, ...new Array<number>(60).fill(0)]);
const pickle = new Uint8Array([0x80, 0x02, 0x7d, 0x71, 0x00, 0x2e]);
const bad = (name: string) => new Uint8Array(readFileSync(join(fixtures, 'textual-inversion', 'bad', name)));
const zipWith = (files: Record<string, string>) =>
  zipSync(Object.fromEntries(Object.entries(files).map(([k, v]) => [k, strToU8(v)])));

const cases: [string, Uint8Array, { token?: unknown }, ErrorClass, RegExp][] = [
  ['a broken zip', zip, { token: '<a>' }, ModelInvalidError, /not an intact zip file.*Fix:/],
  [
    'a zip without data.pkl',
    zipWith({ 'x/readme.txt': 'hi' }),
    { token: '<a>' },
    ModelInvalidError,
    /no data\.pkl/,
  ],
  [
    'a legacy (torch < 1.6) pickle',
    pickle,
    { token: '<a>' },
    NotImplementedError,
    /legacy.*convert it to \.safetensors/,
  ],
  ['a .pt with an int64 tensor', bad('int64.pt'), {}, NotImplementedError, /LongStorage.*float/],
  [
    'a .pt whose pickle would run os.system (never executed)',
    bad('os-system.pt'),
    {},
    ModelInvalidError,
    /entries are \[<evil>\].*Fix:/,
  ],
  [
    'a .pt holding a bare tensor',
    bad('bare-tensor.pt'),
    { token: '<a>' },
    ModelInvalidError,
    /bare tensor, not a dict/,
  ],
  [
    'bytes that are not safetensors',
    new TextEncoder().encode('not an embedding at all'),
    { token: '<a>' },
    ModelInvalidError,
    /safetensors.*Fix:/,
  ],
  [
    'a file with no tensors',
    safetensorsBytes({}),
    { token: '<a>' },
    ModelInvalidError,
    /its entries are \[\].*Fix:/,
  ],
  [
    'a LoRA (unknown layout; the keys are named)',
    safetensorsBytes({ 'lora_unet_x.lora_down.weight': [4, 8], 'lora_unet_x.lora_up.weight': [8, 4] }),
    { token: '<a>' },
    ModelInvalidError,
    /lora_unet_x\.lora_down\.weight.*loadLoraWeights/,
  ],
  [
    'more vectors than a prompt chunk holds (76 > 75)',
    safetensorsBytes(vectors(76)),
    { token: '<long>' },
    LimitExceededError,
    /76 vectors.*at most 75 vectors/,
  ],
  [
    'a 3-D embedding',
    safetensorsBytes({ emb_params: [1, 2, D] }),
    { token: '<a>' },
    ModelInvalidError,
    /shape \[1, 2, 32\].*\[n, D\]/,
  ],
  [
    'a NaN value',
    safetensorsBytes({
      emb_params: { shape: [1, D], values: [0, 1, Number.NaN, ...new Array<number>(D - 3).fill(0)] },
    }),
    { token: '<a>' },
    ModelInvalidError,
    /NaN at vector 0, column 2.*Fix:/,
  ],
  [
    'an infinite value',
    safetensorsBytes({
      '<inf>': { shape: [D], values: [Number.POSITIVE_INFINITY, ...new Array<number>(D - 1).fill(0)] },
    }),
    {},
    ModelInvalidError,
    /Infinity.*finite/,
  ],
  [
    'vectors of another width (16 ≠ 32)',
    safetensorsBytes(vectors(1, 16)),
    { token: '<a>' },
    ModelMismatchError,
    /width 16.*32 dimensions.*Fix:/,
  ],
  [
    'an SDXL file on an SD 1.x model of another width',
    safetensorsBytes({ clip_l: [1, 768], clip_g: [1, 1280] }),
    { token: '<a>' },
    ModelMismatchError,
    /SDXL.*clip_l vectors are 768 wide, clip_g 1280/,
  ],
  [
    'an SDXL file whose clip_l and clip_g counts differ',
    safetensorsBytes({ clip_l: [2, D], clip_g: [1, 48] }),
    { token: '<a>' },
    ModelInvalidError,
    /clip_l has 2 vectors but clip_g has 1/,
  ],
  [
    'a token already in vocab.json',
    safetensorsBytes(vectors(1)),
    { token: 'cat</w>' },
    InvalidArgumentError,
    /"cat<\/w>".*not in the tokenizer yet.*Fix: pass another token/,
  ],
  [
    'a special token',
    safetensorsBytes(vectors(1)),
    { token: '<|endoftext|>' },
    InvalidArgumentError,
    /<\|endoftext\|>.*not in the tokenizer yet/,
  ],
  [
    'a token loaded before',
    safetensorsBytes(vectors(1)),
    { token: '<pink>' },
    InvalidArgumentError,
    /"<pink>".*not in the tokenizer yet/,
  ],
  [
    'a multi-vector token whose _1 is taken',
    safetensorsBytes({ '<pink>_1': [1, D] }),
    {},
    InvalidArgumentError,
    /"<pink>_1"/,
  ],
  [
    'a multi-vector embedding named like a taken vector token',
    safetensorsBytes({ '<pi>': [2, D] }),
    { token: '<pink>' },
    InvalidArgumentError,
    /"<pink>"/,
  ],
  [
    'an empty token',
    safetensorsBytes(vectors(1)),
    { token: '' },
    InvalidArgumentError,
    /token = "".*non-empty/,
  ],
  [
    'a token with a space',
    safetensorsBytes(vectors(1)),
    { token: 'my concept' },
    InvalidArgumentError,
    /"my concept".*without spaces/,
  ],
  [
    'a token that is not a string',
    safetensorsBytes(vectors(1)),
    { token: 5 },
    InvalidArgumentError,
    /token = 5/,
  ],
  [
    'bytes of an A1111 file and no token',
    safetensorsBytes(vectors(1)),
    {},
    InvalidArgumentError,
    /names none.*Fix: pass one/,
  ],
];

describe('loadTextualInversion with bad input (sd1 fixture, real onnxruntime-node)', () => {
  it.each(cases)('%s', async (_name, bytes, options, type, message) => {
    const before = {
      tokens: encoder.chunks('a <pink> cat <a>')[0]!.tokens,
      count: adapters.embeddings.length,
    };
    const error = await adapters
      .loadTextualInversion(bytes, options as { token?: string })
      .then(() => undefined)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(type);
    expect((error as Error).message).toMatch(message);
    // nothing changed: the same tokens, embeddings and outputs as before
    expect(encoder.chunks('a <pink> cat <a>')[0]!.tokens).toEqual(before.tokens);
    expect(adapters.embeddings).toHaveLength(before.count);
  });

  it('the malicious pickle ran nothing', () => {
    expect(existsSync('/tmp/latentkit-pickle-executed')).toBe(false);
  });

  it('after all the failures the first embedding still gives the same output', async () => {
    const now = (await (encoder as PromptEncoder).encode(['a <pink> cat'])).encoderHiddenStates.data;
    expect(now).toEqual(baseline);
  });

  it('a pipeline loaded without its text encoder refuses embeddings with a fix', async () => {
    const noText = await loadOnnxPipeline(new FileModelSource(SD1), new NodeSessionFactory(), {
      components: ['unet', 'vae_decoder'],
    });
    try {
      await expect(noText.adapters!.loadTextualInversion(PINK)).rejects.toThrow(NotImplementedError);
    } finally {
      await noText.dispose();
    }
  });
});
