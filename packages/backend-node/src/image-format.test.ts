import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { detectImageFormat } from './image-format.js';

const fixture = (name: string) =>
  new Uint8Array(
    readFileSync(fileURLToPath(new URL(`../../../tests/fixtures/images/${name}`, import.meta.url))),
  );

describe('detectImageFormat', () => {
  it('knows real JPEG and WebP files (cjpeg, cwebp)', () => {
    expect(detectImageFormat(fixture('circle-32.jpg'))).toBe('JPEG');
    expect(detectImageFormat(fixture('circle-32.webp'))).toBe('WebP');
  });

  it.each([
    ['PNG', [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]],
    ['GIF', [...'GIF89a'].map((c) => c.charCodeAt(0))],
    ['BMP', [0x42, 0x4d, 0, 0]],
    ['TIFF', [0x49, 0x49, 0x2a, 0]],
    ['AVIF', [0, 0, 0, 0x1c, ...'ftypavif'].map((c) => (typeof c === 'string' ? c.charCodeAt(0) : c))],
    ['HEIC', [0, 0, 0, 0x18, ...'ftypheic'].map((c) => (typeof c === 'string' ? c.charCodeAt(0) : c))],
  ])('%s from its first bytes', (format, bytes) => {
    expect(detectImageFormat(new Uint8Array(bytes as number[]))).toBe(format);
  });

  it('returns undefined for text and for too few bytes', () => {
    expect(detectImageFormat(new TextEncoder().encode('hello world'))).toBeUndefined();
    expect(detectImageFormat(new Uint8Array([0xff, 0xd8]))).toBeUndefined();
  });
});
