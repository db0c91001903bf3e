import { InvalidArgumentError } from '@latentkit/core';
import { describe, expect, it } from 'vitest';
import { checkGraphOptimizationLevel, checkProviderList, checkProviderOptions } from './session-options.js';

const KNOWN = ['webgpu', 'wasm'] as const;

function thrown(f: () => unknown): InvalidArgumentError {
  try {
    f();
  } catch (error) {
    if (error instanceof InvalidArgumentError) return error;
    throw error;
  }
  throw new Error('expected an InvalidArgumentError');
}

describe('session options', () => {
  it('accepts known providers in any order and returns a copy', () => {
    const list = ['wasm', 'webgpu'];
    const checked = checkProviderList(list, KNOWN, 'providers', "['webgpu', 'wasm']");
    expect(checked).toEqual(['wasm', 'webgpu']);
    expect(checked).not.toBe(list);
  });

  it('names the unknown provider, the known ones and an example', () => {
    const error = thrown(() =>
      checkProviderList(['webgpu', 'cuda'], KNOWN, 'providers', "['webgpu', 'wasm']"),
    );
    expect(error.message).toContain('providers');
    expect(error.message).toContain('cuda');
    expect(error.message).toContain('one of webgpu, wasm');
    expect(error.message).toContain("['webgpu', 'wasm']");
  });

  it('rejects empty lists, empty names and non-arrays, showing the value as given', () => {
    for (const bad of [[], [''], 'webgpu'] as unknown as string[][]) {
      expect(() => checkProviderList(bad, KNOWN, 'providers', 'x')).toThrow(
        /a non-empty list of webgpu, wasm/,
      );
    }
    const error = thrown(() => checkProviderList(['cuda', ''], KNOWN, '--provider', 'x', 'cuda,'));
    expect(error.message).toContain('"cuda,"');
  });

  it('checks every per-component list under its own name', () => {
    expect(() =>
      checkProviderOptions({ providers: ['wasm'], componentProviders: { unet: ['wasm'] } }, KNOWN, 'x'),
    ).not.toThrow();
    const error = thrown(() =>
      checkProviderOptions({ componentProviders: { vae_decoder: ['gpu'] } }, KNOWN, 'x'),
    );
    expect(error.message).toContain('componentProviders.vae_decoder');
  });

  it('accepts the four graph optimisation levels and nothing else', () => {
    for (const level of ['disabled', 'basic', 'extended', 'all', undefined]) {
      expect(() => checkGraphOptimizationLevel(level)).not.toThrow();
    }
    expect(() => checkGraphOptimizationLevel('max')).toThrow(
      /graphOptimizationLevel.*max|max.*graphOptimizationLevel/s,
    );
  });
});
