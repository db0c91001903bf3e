import { describe, expect, it } from 'vitest';
import { formatGenerationParameters, parseGenerationParameters } from './infotext.js';

const BASE = {
  prompt: 'a red circle on a blue background',
  steps: 20,
  sampler: 'DPM++ 2M Karras',
  cfgScale: 7.5,
  seed: 42,
  width: 64,
  height: 64,
  model: 'shapes',
};

describe('formatGenerationParameters (A1111 infotext)', () => {
  it('writes the prompt, the negative prompt line and the settings line in A1111 order', () => {
    expect(formatGenerationParameters({ ...BASE, negativePrompt: 'blurry, low quality' })).toBe(
      'a red circle on a blue background\n' +
        'Negative prompt: blurry, low quality\n' +
        'Steps: 20, Sampler: DPM++ 2M Karras, CFG scale: 7.5, Seed: 42, Size: 64x64, Model: shapes',
    );
  });

  it('leaves out an empty negative prompt and prints floats like Python', () => {
    expect(
      formatGenerationParameters({ ...BASE, negativePrompt: '', cfgScale: 7, denoisingStrength: 1 }),
    ).toBe(
      'a red circle on a blue background\n' +
        'Steps: 20, Sampler: DPM++ 2M Karras, CFG scale: 7.0, Seed: 42, Size: 64x64, Model: shapes, Denoising strength: 1.0',
    );
    expect(formatGenerationParameters({ ...BASE, denoisingStrength: 0.75 })).toMatch(
      /Denoising strength: 0\.75$/,
    );
  });

  it("JSON-quotes values holding ',', ':' or a newline, as A1111's quote() does", () => {
    const text = formatGenerationParameters({
      ...BASE,
      model: 'my, model: v2',
      extra: { Note: 'plain', Flag: true },
    });
    expect(text.split('\n').at(-1)).toBe(
      'Steps: 20, Sampler: DPM++ 2M Karras, CFG scale: 7.5, Seed: 42, Size: 64x64, Model: "my, model: v2", Note: plain, Flag: true',
    );
  });

  it('writes bigint seeds in full', () => {
    expect(formatGenerationParameters({ ...BASE, seed: 18446744073709551615n })).toContain(
      'Seed: 18446744073709551615,',
    );
  });
});

describe('parseGenerationParameters', () => {
  it('reads back multi-line prompts, the negative prompt and quoted values', () => {
    const text = formatGenerationParameters({
      ...BASE,
      prompt: 'line one\nline two',
      negativePrompt: 'bad\nworse',
      model: 'a, b',
      denoisingStrength: 0.6,
    });
    const parsed = parseGenerationParameters(text);
    expect(parsed.prompt).toBe('line one\nline two');
    expect(parsed.negativePrompt).toBe('bad\nworse');
    expect(parsed.settings['Model']).toBe('a, b');
    expect(parsed.settings['Denoising strength']).toBe('0.6');
    expect(parsed.settings['Size']).toBe('64x64');
  });

  it('treats text without a settings line as all prompt', () => {
    expect(parseGenerationParameters('just a prompt, with: a colon')).toEqual({
      prompt: 'just a prompt, with: a colon',
      negativePrompt: '',
      settings: {},
    });
  });
});
