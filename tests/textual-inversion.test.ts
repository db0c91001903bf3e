import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FileModelSource, nodeBackend } from '@latentkit/backend-node';
import { StableDiffusionPipeline, Tensor } from '@latentkit/core';
import { shapesModelPath } from '@latentkit/model-shapes';
import {
  ClipTokenizer,
  type OnnxPromptEncoder,
  parseTextualInversionFile,
  readOnnxGraph,
  tokenEmbeddingName,
} from '@latentkit/onnx';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { safetensorsBytes } from '../packages/onnx/src/test-support/safetensors-bytes.js';

// Reference numbers: tools/fixtures/make_ti_fixture.py (torch 1.13) — the sd1 fixture's text encoder rebuilt in
// torch, two embeddings loaded as diffusers' load_textual_inversion does, last_hidden_state per prompt.
const FIXTURES = join(import.meta.dirname, 'fixtures');
const SD1 = join(FIXTURES, 'models', 'sd1');
const TI = join(FIXTURES, 'textual-inversion');
const PINK = join(TI, 'pink-learned_embeds.safetensors');
const NEG = join(TI, 'neg.safetensors');

interface Case {
  prompt: string;
  input_ids: number[];
  last_hidden_state: { shape: number[]; values: number[] };
}
const expected = JSON.parse(readFileSync(join(TI, 'expected.json'), 'utf8')) as {
  embeddings: { token: string; tokens: string[]; ids: number[]; format: string }[];
  cases: Case[];
};
const reference = (prompt: string): Tensor => {
  const c = expected.cases.find((x) => x.prompt === prompt)!;
  return new Tensor(Float32Array.from(c.last_hidden_state.values), c.last_hidden_state.shape);
};
const maxDiff = (a: Tensor, b: Tensor): number => {
  expect(a.shape).toEqual(b.shape);
  let max = 0;
  for (let i = 0; i < a.data.length; i++) max = Math.max(max, Math.abs(a.data[i]! - b.data[i]!));
  return max;
};

describe('textual inversion on the sd1 fixture (torch reference)', () => {
  let pipe: StableDiffusionPipeline;
  beforeAll(async () => {
    pipe = await StableDiffusionPipeline.fromPretrained(SD1, { backend: nodeBackend });
  });
  afterAll(async () => {
    await pipe?.dispose();
  });

  it('loads a diffusers file (2 vectors, token from the file) and an A1111 emb_params file (token given)', async () => {
    const pink = await pipe.loadTextualInversion(PINK);
    expect(pink).toEqual({ token: '<pink>', tokens: ['<pink>', '<pink>_1'], format: 'diffusers' });
    const neg = await pipe.loadTextualInversion(new Uint8Array(readFileSync(NEG)), { token: '<neg>' });
    expect(neg).toEqual({ token: '<neg>', tokens: ['<neg>'], format: 'a1111' });
    expect(pipe.embeddings.map((e) => e.token)).toEqual(['<pink>', '<neg>']);
  });

  it.each(expected.cases.map((c) => [c.prompt, c] as const))(
    'token ids of %j match the reference tokenizer (added tokens whole, multi-vector expanded)',
    (_prompt, c) => {
      const encoder = pipe.promptEncoder as OnnxPromptEncoder;
      const chunks = encoder.chunks(c.prompt);
      expect(chunks).toHaveLength(1);
      expect(chunks[0]!.tokens).toEqual(c.input_ids);
    },
  );

  it.each(expected.cases.map((c) => [c.prompt] as const))(
    'last_hidden_state of %j matches torch with the resized embedding (≤ 1e-4)',
    async (prompt) => {
      const { encoderHiddenStates } = await pipe.promptEncoder!.encode([prompt]);
      const diff = maxDiff(encoderHiddenStates, reference(prompt));
      expect(diff).toBeLessThanOrEqual(1e-4);
    },
  );

  it('a multi-vector embedding is not split across 75-token chunks (moved whole, as A1111 does)', () => {
    const encoder = pipe.promptEncoder as OnnxPromptEncoder;
    const filler = (n: number) => new Array<string>(n).fill('a').join(' ');
    // 73 tokens + <pink> <pink>_1 = 75: one chunk
    const fits = encoder.chunks(`${filler(73)} <pink>`);
    expect(fits).toHaveLength(1);
    expect(fits[0]!.tokens.slice(74, 77)).toEqual([577, 578, 576]);
    // 74 tokens + 2 vectors: the pair moves to the second chunk, the first is padded after 74 tokens
    const moved = encoder.chunks(`${filler(74)} (<pink>:1.5)`);
    expect(moved).toHaveLength(2);
    expect(moved[0]!.tokens.slice(74, 77)).toEqual([320, 576, 576]);
    expect(moved[1]!.tokens.slice(0, 4)).toEqual([575, 577, 578, 576]);
    expect(moved[1]!.weights.slice(0, 4)).toEqual([1, 1.5, 1.5, 1]);
  });

  it('the embedding changes the output: "<pink>" differs from the same prompt without it', async () => {
    const fresh = await StableDiffusionPipeline.fromPretrained(SD1, { backend: nodeBackend });
    try {
      const { encoderHiddenStates } = await fresh.promptEncoder!.encode(['a <pink> cat on the hill']);
      expect(maxDiff(encoderHiddenStates, reference('a <pink> cat on the hill'))).toBeGreaterThan(0.05);
    } finally {
      await fresh.dispose();
    }
  });

  it('in generate(): prompt and negative prompt with embeddings = the torch embeddings passed as promptEmbeds', async () => {
    const common = { numInferenceSteps: 2, guidanceScale: 7.5, seed: 7, outputType: 'latent' as const };
    const byText = (await pipe.generate({
      ...common,
      prompt: 'a <pink> cat on the hill',
      negativePrompt: '<neg>, red',
    })) as { images: Tensor };
    const byEmbeds = (await pipe.generate({
      ...common,
      promptEmbeds: { encoderHiddenStates: reference('a <pink> cat on the hill') },
      negativePromptEmbeds: { encoderHiddenStates: reference('<neg>, red') },
    })) as { images: Tensor };
    expect(maxDiff(byText.images, byEmbeds.images)).toBeLessThanOrEqual(1e-4);
    const without = (await pipe.generate({
      ...common,
      prompt: 'a <pink> cat on the hill',
      negativePrompt: 'red',
    })) as { images: Tensor };
    expect(maxDiff(byText.images, without.images)).toBeGreaterThan(1e-3);
  });
});

describe('PyTorch files (diffusers learned_embeds.bin, A1111 .pt) give the same numbers', () => {
  let pipe: StableDiffusionPipeline;
  beforeAll(async () => {
    pipe = await StableDiffusionPipeline.fromPretrained(SD1, { backend: nodeBackend });
  });
  afterAll(async () => {
    await pipe?.dispose();
  });

  it('loads both, the token of the .pt from its name field', async () => {
    expect(await pipe.loadTextualInversion(join(TI, 'pink-learned_embeds.bin'))).toEqual({
      token: '<pink>',
      tokens: ['<pink>', '<pink>_1'],
      format: 'diffusers',
    });
    // its tensor is a non-contiguous view (stride (1, 2)): read through the strides
    expect(await pipe.loadTextualInversion(join(TI, 'neg.pt'))).toEqual({
      token: '<neg>',
      tokens: ['<neg>'],
      format: 'a1111',
    });
  });

  it.each(expected.cases.map((c) => [c.prompt, c] as const))(
    '%j: ids and last_hidden_state (≤ 1e-4)',
    async (prompt, c) => {
      expect((pipe.promptEncoder as OnnxPromptEncoder).chunks(prompt)[0]!.tokens).toEqual(c.input_ids);
      const { encoderHiddenStates } = await pipe.promptEncoder!.encode([prompt]);
      expect(maxDiff(encoderHiddenStates, reference(prompt))).toBeLessThanOrEqual(1e-4);
    },
  );
});

describe('with a LoRA on the text encoder: the overrides hold both the merge and the grown embedding', () => {
  const lora = (expected as unknown as { lora: { file: string; cases: Case[] } }).lora;
  const loraReference = (prompt: string): Tensor => {
    const c = lora.cases.find((x) => x.prompt === prompt)!;
    return new Tensor(Float32Array.from(c.last_hidden_state.values), c.last_hidden_state.shape);
  };
  const prompts = lora.cases.map((c) => c.prompt);

  it('LoRA then embeddings, unload the LoRA, load it again: torch numbers at each stage (≤ 1e-4)', async () => {
    const pipe = await StableDiffusionPipeline.fromPretrained(SD1, { backend: nodeBackend });
    const check = async (ref: (p: string) => Tensor) => {
      for (const prompt of prompts) {
        const { encoderHiddenStates } = await pipe.promptEncoder!.encode([prompt]);
        expect(maxDiff(encoderHiddenStates, ref(prompt)), prompt).toBeLessThanOrEqual(1e-4);
      }
    };
    // the LoRA matters: its references are far from the embeddings-only ones (≥ 0.7 here)
    for (const prompt of prompts)
      expect(maxDiff(loraReference(prompt), reference(prompt))).toBeGreaterThan(0.5);
    try {
      await pipe.loadLoraWeights(join(TI, lora.file));
      await pipe.loadTextualInversion(PINK);
      await pipe.loadTextualInversion(NEG, { token: '<neg>' });
      await check(loraReference);
      await pipe.unloadLoraWeights();
      await check(reference);
      await pipe.loadLoraWeights(join(TI, lora.file), { adapterName: 'again' });
      await check(loraReference);
    } finally {
      await pipe.dispose();
    }
  });
});

describe('textual inversion details', () => {
  it('an A1111 file read by path takes its file name as the token; a second embedding gets the next ids', async () => {
    const pipe = await StableDiffusionPipeline.fromPretrained(SD1, { backend: nodeBackend });
    try {
      expect(await pipe.loadTextualInversion(NEG)).toEqual({
        token: 'neg',
        tokens: ['neg'],
        format: 'a1111',
      });
      await pipe.loadTextualInversion(PINK);
      const encoder = pipe.promptEncoder as OnnxPromptEncoder;
      // vocab.json ends at 576: neg = 577, then <pink> 578, <pink>_1 579
      expect(encoder.chunks('neg <pink>')[0]!.tokens.slice(0, 5)).toEqual([575, 577, 578, 579, 576]);
      const { encoderHiddenStates } = await encoder.encode(['neg <pink>']);
      expect(encoderHiddenStates.data.every(Number.isFinite)).toBe(true);
    } finally {
      await pipe.dispose();
    }
  });

  it('an fp16 export: the float16 token embedding (behind a Cast) grows too', async () => {
    const pipe = await StableDiffusionPipeline.fromPretrained(join(FIXTURES, 'models', 'sd1-fp16'), {
      backend: nodeBackend,
    });
    try {
      const before = await pipe.promptEncoder!.encode(['a <pink> cat on the hill']);
      await pipe.loadTextualInversion(PINK);
      const after = await pipe.promptEncoder!.encode(['a <pink> cat on the hill']);
      expect(after.encoderHiddenStates.data.every(Number.isFinite)).toBe(true);
      expect(maxDiff(after.encoderHiddenStates, before.encoderHiddenStates)).toBeGreaterThan(0.05);
    } finally {
      await pipe.dispose();
    }
  });

  it('SD 2.x (int64 input_ids, "!" padding, width 48): the token is added and padded after as usual', async () => {
    const pipe = await StableDiffusionPipeline.fromPretrained(join(FIXTURES, 'models', 'sd2-v'), {
      backend: nodeBackend,
    });
    try {
      const before = await pipe.promptEncoder!.encode(['a <sd2> house']);
      const info = await pipe.loadTextualInversion(safetensorsBytes({ '<sd2>': [3, 48] }));
      expect(info.tokens).toEqual(['<sd2>', '<sd2>_1', '<sd2>_2']);
      const encoder = pipe.promptEncoder as OnnxPromptEncoder;
      const tokens = encoder.chunks('a <sd2> house')[0]!.tokens;
      const pad = tokens.at(-1)!;
      expect(tokens.slice(1, 5)).toEqual([320, 577, 578, 579]);
      expect(tokens[7]).toBe(pad); // BOS a <sd2>×3 house EOS, then the "!" padding
      const after = await encoder.encode(['a <sd2> house']);
      expect(after.encoderHiddenStates.data.every(Number.isFinite)).toBe(true);
      expect(maxDiff(after.encoderHiddenStates, before.encoderHiddenStates)).toBeGreaterThan(0.05);
    } finally {
      await pipe.dispose();
    }
  });

  it('the shipped shapes model (token embedding m.tok.weight [603, 64]) takes an embedding', async () => {
    const pipe = await StableDiffusionPipeline.fromPretrained(shapesModelPath, { backend: nodeBackend });
    try {
      const before = await pipe.promptEncoder!.encode(['a <zz> star']);
      await pipe.loadTextualInversion(safetensorsBytes({ emb_params: [1, 64] }), { token: '<zz>' });
      const encoder = pipe.promptEncoder as OnnxPromptEncoder;
      expect(encoder.chunks('a <zz> star')[0]!.tokens).toContain(603);
      const after = await encoder.encode(['a <zz> star']);
      expect(after.encoderHiddenStates.data.every(Number.isFinite)).toBe(true);
      expect(maxDiff(after.encoderHiddenStates, before.encoderHiddenStates)).toBeGreaterThan(0.01);
    } finally {
      await pipe.dispose();
    }
  });

  it('finds the token embedding by its Gather of input_ids: sd1, sd1-fp16 and the shipped shapes model', async () => {
    const find = async (dir: string) => {
      const bytes = await new FileModelSource(dir).readBytes('text_encoder/model.onnx');
      return tokenEmbeddingName(readOnnxGraph(bytes, 'text_encoder/model.onnx'));
    };
    expect(await find(SD1)).toBe('text_model.token_embedding.weight');
    expect(await find(join(FIXTURES, 'models', 'sd1-fp16'))).toBe('text_model.token_embedding.weight_fp16');
    expect(await find(shapesModelPath)).toBe('m.tok.weight');
  });

  it('added tokens are case-sensitive, matched whole inside words, and decode back', async () => {
    const tokenizer = await ClipTokenizer.fromSource(new FileModelSource(SD1));
    const plain = tokenizer.encodeIds('<pink> cat');
    expect(tokenizer.addTokens(['<pink>', '<pink>_1'])).toEqual([577, 578]);
    expect(tokenizer.maxTokenId).toBe(578);
    expect(tokenizer.encodeIds('<pink> cat')).toEqual([577, ...plain.slice(-1)]);
    expect(tokenizer.encodeIds('<PINK> cat')).toEqual(plain); // not the added token: lower-cased BPE
    expect(tokenizer.encodeIds('a<pink>_1dog')).toEqual([320, 578, 525]);
    expect(tokenizer.decode([575, 320, 577, 578, 523, 576])).toBe('a <pink> <pink>_1 cat');
    tokenizer.removeTokens(['<pink>', '<pink>_1']);
    expect(tokenizer.encodeIds('<pink> cat')).toEqual(plain);
  });

  it('an SDXL file gives clip_l to SD 1.x/2.x and keeps clip_g', () => {
    const bytes = safetensorsBytes({ clip_l: [2, 4], clip_g: [2, 6] });
    const file = parseTextualInversionFile(bytes, 'sdxl.safetensors');
    expect(file.vectors.shape).toEqual([2, 4]);
    expect(file.sdxl?.clipG.shape).toEqual([2, 6]);
    expect(file.format).toBe('a1111');
  });
});
