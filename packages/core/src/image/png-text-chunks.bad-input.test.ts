import { deflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../errors.js';
import { encodeTextChunk, insertPngTextChunk, insertTextChunks } from './png-text-chunks.js';

// Bad inputs of the PNG text-chunk writer: each is a typed InvalidArgumentError naming the value.

function chunk(type: string, data: Uint8Array): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length);
  head.write(type, 4, 'latin1');
  return Buffer.concat([head, data, Buffer.alloc(4)]); // the CRC is not read by the writer
}
const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const png = Buffer.concat([
  SIGNATURE,
  chunk('IHDR', new Uint8Array(13)),
  chunk('IDAT', deflateSync(Buffer.alloc(5))),
  chunk('IEND', new Uint8Array()),
]);

describe('PNG text chunks: bad inputs', () => {
  it.each([
    ['empty', ''],
    ['80 characters', 'k'.repeat(80)],
    ['a leading space', ' parameters'],
    ['a trailing space', 'parameters '],
    ['a NUL', 'para\0meters'],
    ['a newline', 'para\nmeters'],
    ['a control character', 'para\x7fmeters'],
    ['beyond Latin-1', 'paramètres\u0100'],
    ['an emoji', '🔴'],
  ])('keyword: %s', (_what, keyword) => {
    expect(() => insertPngTextChunk(png, keyword as string, 'x')).toThrow(InvalidArgumentError);
    expect(() => insertPngTextChunk(png, keyword as string, 'x')).toThrow(
      /PNG text keyword = .* is invalid: expected 1–79 printable Latin-1 characters, no leading or trailing space/,
    );
  });

  it('checks every keyword before writing any (one bad keyword among good ones)', () => {
    expect(() => insertTextChunks(png, { parameters: 'ok', '': 'bad' })).toThrow(/PNG text keyword/);
  });

  it('encodeTextChunk refuses a bad keyword too, and a keyword that is not a string', () => {
    expect(() => encodeTextChunk('', 'x')).toThrow(/PNG text keyword = "" is invalid/);
    expect(() => encodeTextChunk(42 as unknown as string, 'x')).toThrow(/PNG text keyword = 42 is invalid/);
  });

  it.each([
    ['a number', 42],
    ['undefined', undefined],
    ['an object', { prompt: 'a cat' }],
  ])('text: %s (not written as an empty chunk)', (_what, text) => {
    expect(() => insertPngTextChunk(png, 'parameters', text as unknown as string)).toThrow(
      /PNG text "parameters" = .* is invalid: expected a string/,
    );
  });

  it.each([
    ['not a PNG', new TextEncoder().encode('GIF89a not a png'), /no PNG signature/],
    ['empty bytes', new Uint8Array(), /png = "0 bytes" is invalid: expected PNG bytes \(no PNG signature\)/],
    ['a PNG cut before its IDAT', png.subarray(0, 33), /png = "33 bytes" is invalid.*no IDAT chunk/],
    ['a PNG with no IDAT', Buffer.concat([SIGNATURE, chunk('IHDR', new Uint8Array(13))]), /no IDAT chunk/],
    ['null', null, /no PNG signature.*Fix: pass the bytes of an encoded PNG image/],
    ['a string', 'PNG', /no PNG signature/],
    ['a plain array', Array.from(png), /no PNG signature/],
  ])('PNG bytes: %s', (_what, bytes, message) => {
    expect(() => insertPngTextChunk(bytes as Uint8Array, 'parameters', 'x')).toThrow(InvalidArgumentError);
    expect(() => insertPngTextChunk(bytes as Uint8Array, 'parameters', 'x')).toThrow(message);
  });
});
