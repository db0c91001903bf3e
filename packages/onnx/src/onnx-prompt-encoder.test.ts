import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ClipTokenizer, type ClipTokenizerFiles } from './clip-tokenizer.js';
import { DEFAULT_MAX_PROMPT_CHUNKS, OnnxPromptEncoder } from './onnx-prompt-encoder.js';
import { OnnxTextEncoder } from './onnx-text-encoder.js';
import { type FakeTensor, fakeFactory, fakeSession, memorySource } from './test-support/fake-session.js';

const dir = new URL('../../../tests/fixtures/clip/', import.meta.url);
const read = (name: string) => readFileSync(new URL(name, dir), 'utf8');
const files: ClipTokenizerFiles = {
  vocab: JSON.parse(read('vocab.json')),
  merges: read('merges.txt'),
  specialTokensMap: JSON.parse(read('special_tokens_map.json')),
};
const tokenizer = new ClipTokenizer(files);
const D = 4;
const EOS = 49407;

// A fake text encoder: hidden[b, t, j] = (j + 1) · (t + 1) / 100 + id / 1e5, so each token's row depends on its id
// and position; it records the ids it was given.
function textEncoder(idsType = 'int32') {
  const session = fakeSession(
    [['input_ids', idsType, ['batch', 'sequence']]],
    [['last_hidden_state', 'float32', ['batch', 'sequence', D]]],
    (feeds) => {
      const ids = Array.from(feeds['input_ids']!.data as Int32Array, Number);
      const [b, t] = feeds['input_ids']!.dims as [number, number];
      const data = new Float32Array(b * t * D);
      for (let i = 0; i < b * t; i++)
        for (let j = 0; j < D; j++) data[i * D + j] = ((j + 1) * ((i % t) + 1)) / 100 + ids[i]! / 1e5;
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

describe('OnnxPromptEncoder', () => {
  it('a plain prompt is one 77-token chunk: BOS, ids, EOS, padding — as diffusers tokenizes it', async () => {
    const { session, encoder } = textEncoder();
    const pe = new OnnxPromptEncoder(tokenizer, encoder);
    const out = await pe.encode(['a photo of a cat']);
    expect(out.encoderHiddenStates.shape).toEqual([1, 77, D]);
    expect(Array.from(session.calls[0]!['input_ids']!.data as Int32Array)).toEqual(
      tokenizer.encode('a photo of a cat'),
    );
    expect(session.calls[0]!['input_ids']!.type).toBe('int32');
  });

  it('feeds int64 ids when the model declares int64', async () => {
    const { session, encoder } = textEncoder('int64');
    await new OnnxPromptEncoder(tokenizer, encoder).encode(['a cat']);
    expect(session.calls[0]!['input_ids']!.type).toBe('int64');
    expect((session.calls[0]!['input_ids']!.data as BigInt64Array)[0]).toBe(49406n);
  });

  it('weights scale each token, then the chunk is rescaled to its original mean (A1111 "Original")', async () => {
    const { encoder } = textEncoder();
    const pe = new OnnxPromptEncoder(tokenizer, encoder);
    const plain = (await pe.encode(['a photo of a cat'])).encoderHiddenStates;
    const weighted = (await pe.encode(['a (photo:1.5) of a cat'])).encoderHiddenStates;
    // the tokens are the same; token 2 ("photo") got ×1.5, then everything × (mean / new mean)
    const w = new Array(77).fill(1);
    w[2] = 1.5;
    let orig = 0;
    let scaledSum = 0;
    plain.data.forEach((v, i) => {
      orig += v;
      scaledSum += Math.fround(v * w[Math.floor(i / D)]);
    });
    const factor = Math.fround(Math.fround(orig / plain.size) / Math.fround(scaledSum / plain.size));
    weighted.data.forEach((v, i) => {
      const expected = Math.fround(Math.fround(plain.data[i]! * w[Math.floor(i / D)]) * factor);
      expect(v).toBeCloseTo(expected, 6);
    });
    expect(weighted.mean()).toBeCloseTo(plain.mean(), 6);
    expect(weighted.data[2 * D]! / plain.data[2 * D]!).toBeCloseTo(1.5 * factor, 5);
  });

  it('prompt weighting can be turned off (brackets are then text)', async () => {
    const { session, encoder } = textEncoder();
    await new OnnxPromptEncoder(tokenizer, encoder, { promptWeighting: false }).encode(['(cat:1.5)']);
    expect(Array.from(session.calls[0]!['input_ids']!.data as Int32Array)).toEqual(
      tokenizer.encode('(cat:1.5)'),
    );
  });

  it('long prompts: 75-token chunks with their own BOS/EOS, concatenated; the batch is padded with empty chunks', async () => {
    const { session, encoder } = textEncoder();
    const pe = new OnnxPromptEncoder(tokenizer, encoder, { commaPaddingBacktrack: 0 });
    const long = Array.from({ length: 80 }, () => 'cat').join(' ');
    const out = await pe.encode(['dog', long]);
    expect(out.encoderHiddenStates.shape).toEqual([2, 154, D]);
    expect(session.calls).toHaveLength(2); // one batched run per chunk index
    const second = Array.from(session.calls[1]!['input_ids']!.data as Int32Array);
    // row 0 (dog) gets an empty chunk; row 1 holds the 5 remaining cats
    expect(second.slice(0, 77)).toEqual(tokenizer.encode(''));
    const cat = tokenizer.encodeIds('cat')[0]!;
    expect(second.slice(77, 77 + 8)).toEqual([49406, cat, cat, cat, cat, cat, EOS, EOS]);
  });

  it('BREAK starts a new chunk', () => {
    const { encoder } = textEncoder();
    const chunks = new OnnxPromptEncoder(tokenizer, encoder).chunks('a cat BREAK a dog');
    expect(chunks).toHaveLength(2);
    expect(chunks[0]!.tokens.slice(0, 4)).toEqual([49406, ...tokenizer.encodeIds('a cat'), EOS]);
    expect(chunks[1]!.tokens.slice(0, 4)).toEqual([49406, ...tokenizer.encodeIds('a dog'), EOS]);
  });

  it('comma padding backtrack moves the words after a late comma into the next chunk (A1111 default 20)', () => {
    const { encoder } = textEncoder();
    const prompt = `${Array.from({ length: 70 }, () => 'cat').join(' ')}, red blue green yellow purple orange`;
    const withBacktrack = new OnnxPromptEncoder(tokenizer, encoder).chunks(prompt);
    const comma = tokenizer.tokenToId(',</w>')!;
    // 70 cats + comma = 71 tokens in chunk 1, then padding; the colours go to chunk 2
    expect(withBacktrack[0]!.tokens[71]).toBe(comma);
    expect(withBacktrack[0]!.tokens.slice(72)).toEqual(new Array(5).fill(EOS));
    expect(withBacktrack[1]!.tokens.slice(1, 7)).toEqual(
      tokenizer.encodeIds('red blue green yellow purple orange'),
    );
    const without = new OnnxPromptEncoder(tokenizer, encoder, { commaPaddingBacktrack: 0 }).chunks(prompt);
    expect(without[0]!.tokens.slice(72, 76)).toEqual(tokenizer.encodeIds('red blue green yellow'));
  });

  it('pads with the model pad token after EOS (SD 2.x pads with "!")', () => {
    const sd2 = new ClipTokenizer({
      ...files,
      specialTokensMap: { ...files.specialTokensMap, pad_token: '!' },
    });
    const { encoder } = textEncoder();
    const [chunk] = new OnnxPromptEncoder(sd2, encoder).chunks('a cat');
    expect(chunk!.tokens.slice(0, 6)).toEqual([49406, 320, 2368, EOS, 0, 0]);
    expect(chunk!.tokens).toHaveLength(77);
  });

  it('encodes identical prompts once and rejects bad input', async () => {
    const { session, encoder } = textEncoder();
    const pe = new OnnxPromptEncoder(tokenizer, encoder);
    const out = await pe.encode(['', 'a cat', '']);
    expect(session.calls[0]!['input_ids']!.dims).toEqual([2, 77]);
    expect(out.encoderHiddenStates.shape).toEqual([3, 77, D]);
    expect(Array.from(out.encoderHiddenStates.slice(2, 3).data)).toEqual(
      Array.from(out.encoderHiddenStates.slice(0, 1).data),
    );
    await expect(pe.encode([])).rejects.toThrow(/non-empty array/);
    await expect(pe.encode(['a'], { clipSkip: 0 })).rejects.toThrow(/clipSkip/);
  });
});

describe('OnnxPromptEncoder chunk limit', () => {
  it('takes 32 chunks by default and no more; maxChunks raises it', async () => {
    const { session, encoder } = textEncoder();
    const pe = new OnnxPromptEncoder(tokenizer, encoder);
    expect(pe.maxChunks).toBe(DEFAULT_MAX_PROMPT_CHUNKS);
    expect(DEFAULT_MAX_PROMPT_CHUNKS).toBe(32);
    expect(pe.chunks(`${'red BREAK '.repeat(31)}red`)).toHaveLength(32);
    expect(() => pe.chunks(`${'red BREAK '.repeat(32)}red`)).toThrow(/more than 32 chunks/);
    const out = await pe.encode([`${'red BREAK '.repeat(31)}red`]);
    expect(out.encoderHiddenStates.shape).toEqual([1, 32 * 77, D]);
    expect(session.calls).toHaveLength(32);
    const raised = new OnnxPromptEncoder(tokenizer, encoder, { maxChunks: 40 });
    expect(raised.chunks(`${'red BREAK '.repeat(39)}red`)).toHaveLength(40);
  });
});
