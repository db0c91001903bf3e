import { readFileSync } from 'node:fs';
import { InvalidArgumentError, LimitExceededError } from '@latentkit/core';
import { describe, expect, it } from 'vitest';
import { ClipTokenizer } from './clip-tokenizer.js';
import { OnnxPromptEncoder, type OnnxPromptEncoderOptions } from './onnx-prompt-encoder.js';
import { OnnxTextEncoder } from './onnx-text-encoder.js';
import { type FakeTensor, fakeFactory, fakeSession, memorySource } from './test-support/fake-session.js';

// The real CLIP tokenizer; a fake text encoder pins down the arithmetic (its hidden states are `fill`,
// or (position + 1) / 100 by default) and records its runs.
const dir = new URL('../../../tests/fixtures/clip/', import.meta.url);
const read = (name: string) => readFileSync(new URL(name, dir), 'utf8');
const tokenizer = new ClipTokenizer({
  vocab: JSON.parse(read('vocab.json')),
  merges: read('merges.txt'),
  specialTokensMap: JSON.parse(read('special_tokens_map.json')),
});
const D = 4;

function textEncoder(fill?: number) {
  const session = fakeSession(
    [['input_ids', 'int32', ['batch', 'sequence']]],
    [['last_hidden_state', 'float32', ['batch', 'sequence', D]]],
    (feeds) => {
      const [b, t] = feeds['input_ids']!.dims as [number, number];
      const data = new Float32Array(b * t * D).map((_, i) => fill ?? (Math.floor(i / D) % t) / 100 + 0.01);
      return { last_hidden_state: { type: 'float32', data, dims: [b, t, D] } as FakeTensor };
    },
  );
  const request = {
    component: 'text_encoder',
    modelPath: 'text_encoder/model.onnx',
    source: memorySource({}),
  };
  return { session, encoder: new OnnxTextEncoder(session, fakeFactory({}), { request }) };
}

describe('OnnxPromptEncoder: bad options', () => {
  const cases: [string, OnnxPromptEncoderOptions, RegExp][] = [
    ['maxChunks 0', { maxChunks: 0 }, /^maxChunks = 0 is invalid: expected an integer ≥ 1/],
    ['maxChunks -1', { maxChunks: -1 }, /^maxChunks = -1 is invalid/],
    ['maxChunks 2.5', { maxChunks: 2.5 }, /^maxChunks = 2\.5 is invalid/],
    ['maxChunks Infinity', { maxChunks: Number.POSITIVE_INFINITY }, /^maxChunks = Infinity is invalid/],
    ['maxChunks "32" (a string)', { maxChunks: '32' as unknown as number }, /^maxChunks = "32" is invalid/],
    [
      'commaPaddingBacktrack -1',
      { commaPaddingBacktrack: -1 },
      /^commaPaddingBacktrack = -1 is invalid: expected an integer from 0 to 75/,
    ],
    ['commaPaddingBacktrack 76', { commaPaddingBacktrack: 76 }, /^commaPaddingBacktrack = 76 is invalid/],
    ['clipSkip 0', { clipSkip: 0 }, /^clipSkip = 0 is invalid: expected an integer ≥ 1/],
    ['clipSkip 1.5', { clipSkip: 1.5 }, /^clipSkip = 1\.5 is invalid/],
  ];
  it.each(cases)('%s', (_what, options, message) => {
    const { encoder } = textEncoder();
    expect(() => new OnnxPromptEncoder(tokenizer, encoder, options)).toThrow(InvalidArgumentError);
    expect(() => new OnnxPromptEncoder(tokenizer, encoder, options)).toThrow(message);
  });
});

describe('OnnxPromptEncoder: bad prompts', () => {
  it('a prompt over maxChunks is refused before the text encoder runs', async () => {
    const { session, encoder } = textEncoder();
    const pe = new OnnxPromptEncoder(tokenizer, encoder, { maxChunks: 2 });
    await expect(pe.encode(['a BREAK b BREAK c'])).rejects.toThrow(LimitExceededError);
    await expect(pe.encode(['a BREAK b BREAK c'])).rejects.toThrow(
      /^the prompt "a BREAK b BREAK c" = "more than 2 chunks" is invalid: expected at most 2 chunks of 75 CLIP tokens \(150 tokens; each BREAK starts a new chunk\)\. Fix: .*maxPromptChunks: 4 \}\)$/,
    );
    expect(session.calls).toHaveLength(0);
  });

  it('a negative prompt over maxChunks, in a batch with a short one', async () => {
    const { session, encoder } = textEncoder();
    const pe = new OnnxPromptEncoder(tokenizer, encoder, { maxChunks: 1 });
    await expect(pe.encode(['', 'a cat BREAK a dog'])).rejects.toThrow(LimitExceededError);
    expect(session.calls).toHaveLength(0);
  });

  it('weights that cancel the chunk mean (hidden states all 0: 0/0) are a typed error, not NaN', async () => {
    const { encoder } = textEncoder(0);
    const pe = new OnnxPromptEncoder(tokenizer, encoder);
    await expect(pe.encode(['a (cat:1.5)'])).rejects.toThrow(
      /^prompt weights = \[1, 1\.5\] is invalid: expected weights that keep the mean of the chunk's hidden states away from 0 \(the rescale factor 0 \/ 0 is not finite\)\. Fix: use positive weights/,
    );
  });

  it('a prompt list that is empty, or holds a non-string', async () => {
    const { encoder } = textEncoder();
    const pe = new OnnxPromptEncoder(tokenizer, encoder);
    await expect(pe.encode([])).rejects.toThrow(
      /^prompts = \[\] is invalid: expected a non-empty array of strings/,
    );
    await expect(pe.encode([3 as unknown as string])).rejects.toThrow(/^prompts = \[3\] is invalid/);
  });
});
