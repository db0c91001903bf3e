import { describe, expect, it } from 'vitest';
import { InvalidArgumentError, NotImplementedError } from '../errors.js';
import { checkLoraTagNames, extractLoraTags, loraTagScales } from './lora-tags.js';

type ErrorClass = typeof InvalidArgumentError | typeof NotImplementedError;

// One row per bad tag or set of prompts: [what it is, prompts, error class, message pattern].
const cases: [string, string[], ErrorClass, RegExp][] = [
  [
    'no name: <lora:>',
    ['a circle <lora:>'],
    InvalidArgumentError,
    /"<lora:>" is invalid: expected an adapter name.*Fix: write <lora:NAME>/,
  ],
  [
    'empty name before the weight: <lora::0.5>',
    ['<lora::0.5>'],
    InvalidArgumentError,
    /"<lora::0\.5>" is invalid: expected an adapter name/,
  ],
  ['blank name: <lora: :1>', ['<lora: :1>'], InvalidArgumentError, /expected an adapter name/],
  [
    'weight not a number: <lora:pink:abc>',
    ['<lora:pink:abc>'],
    InvalidArgumentError,
    /a finite number as the weight after 'pink:' \(got "abc"\).*Fix: write e\.g\. <lora:pink:0\.8>/,
  ],
  ['empty weight: <lora:pink:>', ['<lora:pink:>'], InvalidArgumentError, /weight after 'pink:' \(got ""\)/],
  ['weight that overflows: <lora:pink:1e999>', ['<lora:pink:1e999>'], InvalidArgumentError, /got "1e999"/],
  ['weight NaN: <lora:pink:NaN>', ['<lora:pink:NaN>'], InvalidArgumentError, /got "NaN"/],
  ['weight Infinity: <lora:pink:Infinity>', ['<lora:pink:Infinity>'], InvalidArgumentError, /got "Infinity"/],
  ['hex weight: <lora:pink:0x1>', ['<lora:pink:0x1>'], InvalidArgumentError, /got "0x1"/],
  [
    'A1111 text-encoder and UNet weights: <lora:pink:0.5:1>',
    ['<lora:pink:0.5:1>'],
    NotImplementedError,
    /separate text-encoder and UNet weights.*Fix: write <lora:pink:WEIGHT>/,
  ],
  [
    'A1111 named weights: <lora:pink:unet=0.5>',
    ['<lora:pink:unet=0.5>'],
    NotImplementedError,
    /one weight per adapter/,
  ],
  [
    'one adapter, two weights in one prompt',
    ['<lora:pink:0.5> a <lora:pink:1>'],
    InvalidArgumentError,
    /"<lora:pink:1>" is invalid: expected one weight per adapter in a call, but <lora:pink:0\.5> gives pink the weight 0\.5/,
  ],
  [
    'one adapter, two weights across prompt and negative prompt',
    ['<lora:pink:0.5>', 'blurry <lora:pink>'],
    InvalidArgumentError,
    /"<lora:pink>" is invalid: expected one weight per adapter/,
  ],
];

describe('LoRA prompt tags: bad tags are typed errors naming the tag and the fix', () => {
  it.each(cases)('%s', (_what, prompts, error, message) => {
    let thrown: unknown;
    try {
      loraTagScales(prompts);
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(error);
    expect((thrown as Error).message).toMatch(message);
  });

  it('a tag naming an adapter that is not loaded: lists the loaded ones and how to load it', () => {
    expect(() => checkLoraTagNames(new Map([['pinkk', 1]]), ['pink', 'star'])).toThrow(
      /LoRA prompt tag = "<lora:pinkk>" is invalid: expected the name of a loaded LoRA adapter \(loaded: pink, star\)\. Fix: load it first with pipe\.loadLoraWeights\(file, \{ adapterName: 'pinkk' \}\)/,
    );
  });

  it('a tag when no LoRA is loaded says so', () => {
    expect(() => checkLoraTagNames(new Map([['pink', 1]]), [])).toThrow(/\(none is loaded\)/);
  });
});

describe('LoRA prompt tags: what is not a tag stays text', () => {
  it.each([
    ['an embedding token', 'a <pink> circle'],
    ['another extra network', 'a circle <hypernet:x:1>'],
    ['an unclosed tag', 'a circle <lora:pink:1'],
    ['upper case type', 'a circle <LORA:pink>'],
  ])('%s', (_what, prompt) => {
    expect(extractLoraTags(prompt)).toEqual({ prompt, tags: [] });
  });
});
