import { describe, expect, it } from 'vitest';
import { extractLoraTags, loraTagScales } from './lora-tags.js';

describe('extractLoraTags (A1111 <lora:name:weight>)', () => {
  it('takes the tags out and leaves the rest of the text as written', () => {
    expect(extractLoraTags('a pink circle <lora:pink:0.8>, white background')).toEqual({
      prompt: 'a pink circle , white background',
      tags: [{ name: 'pink', scale: 0.8, text: '<lora:pink:0.8>' }],
    });
  });

  it('weight 1 when the tag gives none; spaces around the parts are ignored; several tags in order', () => {
    expect(extractLoraTags('<lora:pink><lora: star : -0.25 >x').tags).toEqual([
      { name: 'pink', scale: 1, text: '<lora:pink>' },
      { name: 'star', scale: -0.25, text: '<lora: star : -0.25 >' },
    ]);
    expect(extractLoraTags('<lora:pink><lora: star : -0.25 >x').prompt).toBe('x');
  });

  it('accepts the number forms A1111 accepts (float())', () => {
    for (const [text, scale] of [
      ['1', 1],
      ['.5', 0.5],
      ['2.', 2],
      ['+0.7', 0.7],
      ['1e-1', 0.1],
    ] as const) {
      expect(extractLoraTags(`<lora:a:${text}>`).tags[0]!.scale).toBe(scale);
    }
  });

  it('leaves a prompt without tags untouched (the same string)', () => {
    const prompt = 'a (red:1.2) circle [on] white';
    expect(extractLoraTags(prompt).prompt).toBe(prompt);
  });
});

describe('loraTagScales', () => {
  it('joins the tags of every prompt and negative prompt; one adapter named twice with one weight is fine', () => {
    expect([...loraTagScales(['<lora:a:0.5> x', 'y <lora:b>', 'z <lora:a:0.5>'])]).toEqual([
      ['a', 0.5],
      ['b', 1],
    ]);
  });

  it('is empty without tags', () => {
    expect(loraTagScales(['a red circle', '']).size).toBe(0);
  });
});
