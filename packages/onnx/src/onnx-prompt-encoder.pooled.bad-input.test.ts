/**
 * Bad input to OnnxPromptEncoder.encodePooled (GLIGEN's phrase embeddings), one row each: a typed error
 * naming the value, and the text encoder never runs.
 */
import { readFileSync } from 'node:fs';
import { InvalidArgumentError, type LatentkitError, ModelMismatchError } from '@latentkit/core';
import { describe, expect, it } from 'vitest';
import { ClipTokenizer } from './clip-tokenizer.js';
import { OnnxPromptEncoder } from './onnx-prompt-encoder.js';
import { pooledEncoder } from './test-support/pooled-encoder.js';

const dir = new URL('../../../tests/fixtures/clip/', import.meta.url);
const read = (name: string) => readFileSync(new URL(name, dir), 'utf8');
const tokenizer = new ClipTokenizer({
  vocab: JSON.parse(read('vocab.json')),
  merges: read('merges.txt'),
  specialTokensMap: JSON.parse(read('special_tokens_map.json')),
});
type ErrorClass = new (...args: never[]) => LatentkitError;
const cats = (n: number) => Array.from({ length: n }, () => 'cat').join(' ');

const cases: [string, unknown, ErrorClass, RegExp][] = [
  [
    'an empty list',
    [],
    InvalidArgumentError,
    /^texts = \[\] is invalid: expected a non-empty array of strings/,
  ],
  ['a string instead of a list', 'a red circle', InvalidArgumentError, /^texts = "a red circle" is invalid/],
  ['undefined', undefined, InvalidArgumentError, /^texts = undefined is invalid/],
  [
    'a number in the list',
    ['a red circle', 3],
    InvalidArgumentError,
    /^texts\[1\] = 3 is invalid: expected a string/,
  ],
  ['null in the list', [null], InvalidArgumentError, /^texts\[0\] = null is invalid/],
  [
    'a text of 76 tokens',
    ['a red circle', cats(76)],
    InvalidArgumentError,
    /^texts\[1\] "cat cat cat .*…" = "76 CLIP tokens" is invalid: expected at most 75 CLIP tokens.*Fix: shorten the phrase/,
  ],
  [
    'a text of 300 tokens',
    [cats(300)],
    InvalidArgumentError,
    /^texts\[0\] .* = "300 CLIP tokens" is invalid/,
  ],
];

describe('OnnxPromptEncoder.encodePooled: bad input', () => {
  it.each(cases)('%s', async (_, texts, errorClass, message) => {
    const { session, encoder } = pooledEncoder();
    const err = await new OnnxPromptEncoder(tokenizer, encoder)
      .encodePooled(texts as string[])
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(errorClass);
    expect((err as Error).message).toMatch(message);
    expect(session.calls).toHaveLength(0);
  });

  it('a text encoder without pooler_output: ModelMismatchError with the fix (re-export with pooler_output)', async () => {
    const { session, encoder } = pooledEncoder(false);
    expect(encoder.hasPooledOutput).toBe(false);
    const err = await new OnnxPromptEncoder(tokenizer, encoder)
      .encodePooled(['a red circle'])
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModelMismatchError);
    expect((err as Error).message).toMatch(
      /text_encoder\/model\.onnx has no such output\. Fix: re-export the text encoder with pooler_output/,
    );
    expect(session.calls).toHaveLength(0);
  });
});
