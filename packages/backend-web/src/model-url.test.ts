import { InvalidArgumentError } from '@latentkit/core';
import { describe, expect, it } from 'vitest';
import { modelFileUrl, resolveModelUrl } from './model-url.js';

describe('resolveModelUrl', () => {
  it('keeps a plain folder URL, adding the trailing slash and dropping query and hash', () => {
    expect(resolveModelUrl('https://example.com/models/sd')).toBe('https://example.com/models/sd/');
    expect(resolveModelUrl('https://example.com/models/sd/?x=1#y')).toBe('https://example.com/models/sd/');
  });

  it('turns Hugging Face repository URLs into their resolve/<revision>/ download URLs', () => {
    expect(resolveModelUrl('https://huggingface.co/org/repo')).toBe(
      'https://huggingface.co/org/repo/resolve/main/',
    );
    expect(resolveModelUrl('https://hf.co/org/repo', 'v1.0')).toBe(
      'https://huggingface.co/org/repo/resolve/v1.0/',
    );
    expect(resolveModelUrl('https://huggingface.co/org/repo/tree/fp16/onnx')).toBe(
      'https://huggingface.co/org/repo/resolve/fp16/onnx/',
    );
    expect(resolveModelUrl('https://huggingface.co/org/repo/resolve/main/onnx/')).toBe(
      'https://huggingface.co/org/repo/resolve/main/onnx/',
    );
  });

  it('refuses non-http URLs and relative URLs where there is no page to resolve them against', () => {
    expect(() => resolveModelUrl('file:///models/sd')).toThrow(InvalidArgumentError);
    expect(() => resolveModelUrl('/models/sd')).toThrow(/relative to the page/);
  });
});

describe('modelFileUrl', () => {
  it('resolves ordinary paths under the base, including names with spaces and encoded characters', () => {
    const base = 'https://huggingface.co/org/repo/resolve/main/onnx/';
    expect(modelFileUrl(base, 'unet/model.onnx')).toBe(`${base}unet/model.onnx`);
    expect(modelFileUrl(base, 'unet/weights 1.bin')).toBe(`${base}unet/weights%201.bin`);
    expect(modelFileUrl(base, 'unet/model%2Bdata.bin')).toBe(`${base}unet/model%2Bdata.bin`);
    expect(modelFileUrl(base, './unet//model.onnx')).toBe(`${base}unet/model.onnx`);
  });

  it('keeps a Hugging Face file inside its repository and revision', () => {
    const base = 'https://huggingface.co/org/repo/resolve/main/';
    expect(() => modelFileUrl(base, '%2e%2e/%2e%2e/other-repo/resolve/main/model.onnx')).toThrow(
      /percent-decoded .*Every file of a model must come from under https:\/\/huggingface.co\/org\/repo\/resolve\/main\//,
    );
  });
});
