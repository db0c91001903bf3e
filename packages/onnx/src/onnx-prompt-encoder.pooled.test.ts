/**
 * OnnxPromptEncoder.encodePooled: GLIGEN's phrase embeddings. A fake text encoder pins down what is fed
 * (plain tokens, BOS/EOS, padding to 77, no weighting) and how rows come back; the real sd1 fixture
 * (onnxruntime-node) is compared with torch's numbers in its expected.json.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ClipTokenizer } from './clip-tokenizer.js';
import { loadOnnxPipeline } from './load-onnx-pipeline.js';
import { OnnxPromptEncoder } from './onnx-prompt-encoder.js';
import { CountingSessionFactory, folderSource } from './test-support/model-copy.js';
import { POOLED_FAKE_DIM as D, pooledEncoder } from './test-support/pooled-encoder.js';

const dir = new URL('../../../tests/fixtures/clip/', import.meta.url);
const read = (name: string) => readFileSync(new URL(name, dir), 'utf8');
const files = {
  vocab: JSON.parse(read('vocab.json')),
  merges: read('merges.txt'),
  specialTokensMap: JSON.parse(read('special_tokens_map.json')),
};
const tokenizer = new ClipTokenizer(files);

const sum = (ids: number[]) => ids.reduce((a, v) => a + v, 0);

describe('OnnxPromptEncoder.encodePooled', () => {
  it('feeds BOS, the plain tokens, EOS, padding to 77, and returns pooler_output [n, D]', async () => {
    const { session, encoder } = pooledEncoder();
    expect(encoder.hasPooledOutput).toBe(true);
    expect(encoder.pooledSize).toBe(D);
    const out = await new OnnxPromptEncoder(tokenizer, encoder).encodePooled(['a red circle']);
    expect(out.shape).toEqual([1, D]);
    const fed = Array.from(session.calls[0]!['input_ids']!.data as Int32Array);
    expect(fed).toEqual(tokenizer.encode('a red circle'));
    expect(fed).toHaveLength(77);
    expect(fed.slice(0, 5)).toEqual([49406, ...tokenizer.encodeIds('a red circle'), 49407]);
    expect(out.data[0]).toBe(sum(fed));
  });

  it('no attention syntax: "(a red circle:1.5)" is encoded as written, BREAK is a word', async () => {
    const { session, encoder } = pooledEncoder();
    await new OnnxPromptEncoder(tokenizer, encoder).encodePooled(['(a red circle:1.5) BREAK x']);
    expect(Array.from(session.calls[0]!['input_ids']!.data as Int32Array)).toEqual(
      tokenizer.encode('(a red circle:1.5) BREAK x'),
    );
  });

  it('keeps the order, encodes identical texts once, in one run', async () => {
    const { session, encoder } = pooledEncoder();
    const out = await new OnnxPromptEncoder(tokenizer, encoder).encodePooled([
      'a red circle',
      'a blue square',
      'a red circle',
    ]);
    expect(session.calls).toHaveLength(1);
    expect(session.calls[0]!['input_ids']!.dims).toEqual([2, 77]);
    expect(out.shape).toEqual([3, D]);
    expect(out.data[0]).toBe(sum(tokenizer.encode('a red circle')));
    expect(out.data[D]).toBe(sum(tokenizer.encode('a blue square')));
    expect(Array.from(out.data.subarray(2 * D))).toEqual(Array.from(out.data.subarray(0, D)));
  });

  it('75 tokens is the most a text may have; many texts run in groups of 32', async () => {
    const { session, encoder } = pooledEncoder();
    const pe = new OnnxPromptEncoder(tokenizer, encoder);
    const longest = Array.from({ length: 75 }, () => 'cat').join(' ');
    const one = await pe.encodePooled([longest]);
    expect(one.data[0]).toBe(sum(tokenizer.encode(longest)));
    const many = Array.from({ length: 40 }, (_, i) => `shape ${i}`);
    const out = await pe.encodePooled(many);
    expect(out.shape).toEqual([40, D]);
    expect(session.calls.slice(1).map((c) => c['input_ids']!.dims[0])).toEqual([32, 8]);
    expect(out.data[39 * D]).toBe(sum(tokenizer.encode('shape 39')));
  });

  it('pads with the pad token of SD 2.x tokenizers ("!")', async () => {
    const sd2 = new ClipTokenizer({
      ...files,
      specialTokensMap: { ...files.specialTokensMap, pad_token: '!' },
    });
    const { session, encoder } = pooledEncoder();
    await new OnnxPromptEncoder(sd2, encoder).encodePooled(['a cat']);
    const fed = Array.from(session.calls[0]!['input_ids']!.data as Int32Array);
    expect(fed.slice(0, 6)).toEqual([49406, 320, 2368, 49407, 0, 0]);
  });
});

describe('OnnxPromptEncoder.encodePooled on the sd1 fixture (real onnxruntime-node) vs torch', () => {
  it("'a photo of a cat' → the torch last hidden state at its EOS token (CLIP's pooler_output), ≤ 1e-5", async () => {
    const folder = fileURLToPath(new URL('../../../tests/fixtures/models/sd1/', import.meta.url));
    const expected = JSON.parse(readFileSync(`${folder}/expected.json`, 'utf8')).text_encoder as {
      prompt: string;
      input_ids: number[];
      last_hidden_state: { shape: [number, number, number]; stride: number; values: number[] };
    };
    const parts = await loadOnnxPipeline(folderSource(folder), new CountingSessionFactory(), {
      components: ['text_encoder', 'unet', 'vae_decoder'],
    });
    try {
      const pooled = await parts.promptEncoder!.encodePooled!([expected.prompt]);
      const [, , d] = expected.last_hidden_state.shape;
      expect(pooled.shape).toEqual([1, d]);
      // transformers' CLIP pools at the first EOS: the highest id (eos_token_id 2 in this config = argmax)
      const eos = expected.input_ids.indexOf(Math.max(...expected.input_ids));
      const { stride, values } = expected.last_hidden_state;
      let compared = 0;
      values.forEach((v, k) => {
        const flat = k * stride;
        if (Math.floor(flat / d) !== eos) return;
        expect(Math.abs(pooled.data[flat % d]! - v)).toBeLessThanOrEqual(1e-5);
        compared++;
      });
      expect(compared).toBeGreaterThanOrEqual(4);
    } finally {
      await parts.dispose();
    }
  });
});
