import { readFileSync } from 'node:fs';
import { InvalidArgumentError, ModelInvalidError } from '@latentkit/core';
import { describe, expect, it } from 'vitest';
import { ClipTokenizer, type ClipTokenizerFiles } from './clip-tokenizer.js';

// The real CLIP ViT-L/14 tokenizer of SD 1.x, copied into the repo (tests/fixtures/clip/README.md).
const dir = new URL('../../../tests/fixtures/clip/', import.meta.url);
const read = (name: string) => readFileSync(new URL(name, dir), 'utf8');
const files: ClipTokenizerFiles = {
  vocab: JSON.parse(read('vocab.json')),
  merges: read('merges.txt'),
  tokenizerConfig: JSON.parse(read('tokenizer_config.json')),
  specialTokensMap: JSON.parse(read('special_tokens_map.json')),
};
const tokenizer = new ClipTokenizer(files);
const BOS = 49406;
const EOS = 49407;

// Ids without BOS/EOS from an independent Python implementation of CLIP's BPE
// (tools/fixtures/clip_reference_encodings.py); the first two are the well-known SD encodings.
const REFERENCE: [string, number[]][] = [
  ['An astronaut riding a horse', [550, 18376, 6765, 320, 4558]],
  ['a photo of a cat', [320, 1125, 539, 320, 2368]],
  [
    "Hello,   WORLD!! it's a test-case (with) [brackets]: 3.14 and 2024",
    [
      3306, 267, 1002, 748, 585, 568, 320, 1628, 268, 2068, 263, 593, 264, 314, 36183, 21641, 274, 269, 272,
      275, 537, 273, 271, 273, 275,
    ],
  ],
  [
    'café naïve crème brûlée, 猫 🐱 — “quotes”',
    [
      15304, 1097, 35689, 563, 1075, 12138, 614, 711, 127, 119, 75, 13489, 267, 163, 234, 360, 22979, 2005,
      728, 506, 5808, 728, 507,
    ],
  ],
  [
    'masterpiece, best quality, ultra-detailed, 8k',
    [12066, 267, 949, 3027, 267, 8118, 268, 12609, 267, 279, 330],
  ],
];

const LONG_PROMPT = 'a majestic castle on a hill at sunset with dramatic clouds and golden light '
  .repeat(8)
  .split(' ')
  .slice(0, 100)
  .join(' ');
const LONG_IDS = [
  320, 15335, 3540, 525, 320, 2682, 536, 3424, 593, 11240, 6244, 537, 3878, 1395, 320, 15335, 3540, 525, 320,
  2682, 536, 3424, 593, 11240, 6244, 537, 3878, 1395, 320, 15335, 3540, 525, 320, 2682, 536, 3424, 593, 11240,
  6244, 537, 3878, 1395, 320, 15335, 3540, 525, 320, 2682, 536, 3424, 593, 11240, 6244, 537, 3878, 1395, 320,
  15335, 3540, 525, 320, 2682, 536, 3424, 593, 11240, 6244, 537, 3878, 1395, 320, 15335, 3540, 525, 320, 2682,
  536, 3424, 593, 11240, 6244, 537, 3878, 1395, 320, 15335, 3540, 525, 320, 2682, 536, 3424, 593, 11240, 6244,
  537, 3878, 1395, 320, 15335,
];

describe('ClipTokenizer (real CLIP ViT-L/14 files)', () => {
  it('reads the special tokens: SD 1.x pads with <|endoftext|>', () => {
    expect(tokenizer.bosTokenId).toBe(BOS);
    expect(tokenizer.eosTokenId).toBe(EOS);
    expect(tokenizer.padTokenId).toBe(EOS);
    expect(tokenizer.modelMaxLength).toBe(77);
  });

  it('gives the known encodings with BOS/EOS', () => {
    expect(tokenizer.encode('An astronaut riding a horse', { padding: false })).toEqual([
      49406, 550, 18376, 6765, 320, 4558, 49407,
    ]);
    expect(tokenizer.encode('a photo of a cat', { padding: false })).toEqual([
      49406, 320, 1125, 539, 320, 2368, 49407,
    ]);
  });

  it('matches the reference ids for punctuation, case, whitespace, numbers, unicode and emoji', () => {
    for (const [text, ids] of REFERENCE) expect(tokenizer.encodeIds(text), text).toEqual(ids);
  });

  it('uses </w> word ends and byte-level symbols', () => {
    expect(tokenizer.tokenize('a photo')).toEqual(['a</w>', 'photo</w>']);
    expect(tokenizer.tokenize('Hello,  world')).toEqual(['hello</w>', ',</w>', 'world</w>']);
  });

  it('pads to 77 with the pad token', () => {
    const ids = tokenizer.encode('a photo of a cat');
    expect(ids).toHaveLength(77);
    expect(ids.slice(0, 7)).toEqual([49406, 320, 1125, 539, 320, 2368, 49407]);
    expect(ids.slice(7).every((id) => id === EOS)).toBe(true);
    expect(tokenizer.encode('')).toEqual([BOS, ...new Array(76).fill(EOS)]);
  });

  it('tokenizes a 100-word prompt to 100 tokens and truncates to 77 keeping EOS', () => {
    expect(tokenizer.encodeIds(LONG_PROMPT)).toEqual(LONG_IDS);
    const ids = tokenizer.encode(LONG_PROMPT);
    expect(ids).toHaveLength(77);
    expect(ids[0]).toBe(BOS);
    expect(ids.slice(1, 76)).toEqual(LONG_IDS.slice(0, 75));
    expect(ids[76]).toBe(EOS);
  });

  it('pads with "!" when the tokenizer says so (SD 2.x)', () => {
    const sd2 = new ClipTokenizer({
      ...files,
      specialTokensMap: { ...files.specialTokensMap, pad_token: '!' },
    });
    expect(sd2.padTokenId).toBe(0);
    const ids = sd2.encode('a photo of a cat');
    expect(ids.slice(0, 8)).toEqual([49406, 320, 1125, 539, 320, 2368, 49407, 0]);
    expect(ids.slice(7).every((id) => id === 0)).toBe(true);
  });

  it('decodes back to text', () => {
    expect(tokenizer.decode(tokenizer.encode('An astronaut riding a horse'))).toBe(
      'an astronaut riding a horse',
    );
  });

  it('rejects a vocabulary without CLIP special tokens and an unknown pad token', () => {
    expect(() => new ClipTokenizer({ vocab: { a: 0 }, merges: '' })).toThrow(ModelInvalidError);
    expect(() => new ClipTokenizer({ ...files, specialTokensMap: { pad_token: '<pad>' } })).toThrow(
      /pad_token/,
    );
  });
});

describe('ClipTokenizer added tokens (textual inversion) on the real CLIP vocabulary', () => {
  // the text around an added token is tokenized as it is alone: reference ids of "a photo of" and "cat"
  const fresh = () => new ClipTokenizer(files);

  it('gives the next ids after vocab.json (49408, 49409, …) and matches them whole before BPE', () => {
    const t = fresh();
    expect(t.maxTokenId).toBe(EOS);
    expect(t.addTokens(['<cat-toy>', '<cat-toy>_1'])).toEqual([49408, 49409]);
    expect(t.maxTokenId).toBe(49409);
    expect(t.encode('a photo of <cat-toy>').slice(0, 6)).toEqual([BOS, 320, 1125, 539, 49408, EOS]);
    // glued to words and punctuation: cut out of the text, the rest tokenized as usual
    expect(t.encodeIds('a photo of a<cat-toy>cat')).toEqual([320, 1125, 539, 320, 49408, 2368]);
    // the longer token wins where both match
    expect(t.encodeIds('<cat-toy>_1')).toEqual([49409]);
    expect(t.tokenize('a <cat-toy>')).toEqual(['a</w>', '<cat-toy>']);
    expect(t.tokenToId('<cat-toy>')).toBe(49408);
  });

  it('is case-sensitive (as transformers CLIPTokenizer), other text is still lower-cased', () => {
    const t = fresh();
    const upper = t.encodeIds('<CAT-TOY>');
    t.addTokens(['<cat-toy>']);
    expect(t.encodeIds('<CAT-TOY>')).toEqual(upper);
    expect(t.encodeIds('<cat-toy>')).toEqual([49408]);
    expect(t.encodeIds('A PHOTO of <cat-toy>')).toEqual([320, 1125, 539, 49408]);
  });

  it('refuses taken, empty, spaced and repeated tokens without adding any', () => {
    const t = fresh();
    for (const bad of [['cat</w>'], ['<|startoftext|>'], [''], ['two words'], ['<x>', '<x>']]) {
      expect(() => t.addTokens(bad)).toThrow(InvalidArgumentError);
    }
    expect(t.addedTokens.size).toBe(0);
    t.addTokens(['<x>']);
    expect(() => t.addTokens(['<y>', '<x>'])).toThrow(/"<x>".*not in the tokenizer yet/);
    expect([...t.addedTokens.keys()]).toEqual(['<x>']);
  });

  it('removes only the most recently added tokens', () => {
    const t = fresh();
    t.addTokens(['<a>']);
    t.addTokens(['<b>', '<b>_1']);
    expect(() => t.removeTokens(['<a>'])).toThrow(InvalidArgumentError);
    t.removeTokens(['<b>', '<b>_1']);
    expect(t.maxTokenId).toBe(49408);
    expect(t.addTokens(['<c>'])).toEqual([49409]);
  });
});
