import { deflateSync, inflateSync, crc32 as zlibCrc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  crc32,
  encodeTextChunk,
  hasPngSignature,
  insertPngTextChunk,
  insertTextChunks,
  listChunkTypes,
  readTextChunks,
} from './png-text-chunks.js';

// The PNG text-chunk writer and reader both backends use, on PNGs built here byte by byte (IHDR, a
// zlib-compressed IDAT, IEND), with node:zlib as the independent reference for the CRC and deflate.

function rawChunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  out.set(Buffer.from(type, 'latin1'), 4);
  out.set(data, 8);
  view.setUint32(8 + data.length, zlibCrc32(out.subarray(4, 8 + data.length)));
  return out;
}

/** A 1×1 RGBA PNG, with `extra` chunks placed after IHDR. */
function tinyPng(...extra: Uint8Array[]): Uint8Array {
  const ihdr = new Uint8Array(13);
  new DataView(ihdr.buffer).setUint32(0, 1);
  new DataView(ihdr.buffer).setUint32(4, 1);
  ihdr.set([8, 6, 0, 0, 0], 8);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    rawChunk('IHDR', ihdr),
    ...extra,
    rawChunk('IDAT', deflateSync(Buffer.from([0, 255, 0, 0, 255]))),
    rawChunk('IEND', new Uint8Array()),
  ]);
}

/** Checks every chunk's CRC against node:zlib's. */
function crcsValid(png: Uint8Array): boolean {
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  for (let at = 8; at < png.length; ) {
    const length = view.getUint32(at);
    if (view.getUint32(at + 8 + length) !== zlibCrc32(png.subarray(at + 4, at + 8 + length))) return false;
    at += 12 + length;
  }
  return true;
}

describe('PNG text chunks', () => {
  it('computes the PNG CRC-32 as zlib does', () => {
    for (const text of ['', 'IEND', 'tEXtparameters\0a red circle', '一只猫']) {
      const bytes = new TextEncoder().encode(text);
      expect(crc32(bytes)).toBe(zlibCrc32(bytes));
    }
    expect(crc32(new TextEncoder().encode('IEND'))).toBe(0xae426082);
  });

  it('writes Latin-1 text as tEXt and any other as uncompressed UTF-8 iTXt', () => {
    const latin = encodeTextChunk('parameters', 'café');
    expect(Buffer.from(latin.subarray(4, 8)).toString('latin1')).toBe('tEXt');
    expect(Array.from(latin.subarray(8, latin.length - 4))).toEqual([
      ...Buffer.from('parameters\0café', 'latin1'),
    ]);
    const other = encodeTextChunk('parameters', '赤い円');
    expect(Buffer.from(other.subarray(4, 8)).toString('latin1')).toBe('iTXt');
    expect(Array.from(other.subarray(8, other.length - 4))).toEqual([
      ...Buffer.from('parameters'),
      0,
      0,
      0,
      0,
      0,
      ...Buffer.from('赤い円'),
    ]);
  });

  it('inserts every chunk, in order, between IHDR and the first IDAT, with valid CRCs', () => {
    const png = tinyPng();
    const out = insertTextChunks(png, { parameters: 'Steps: 2', Software: 'latentkit', Comment: 'größe 🔴' });
    expect(listChunkTypes(out)).toEqual(['IHDR', 'tEXt', 'tEXt', 'iTXt', 'IDAT', 'IEND']);
    expect(crcsValid(out)).toBe(true);
    expect(readTextChunks(out)).toEqual({
      parameters: 'Steps: 2',
      Software: 'latentkit',
      Comment: 'größe 🔴',
    });
    // The image data is untouched, and the input is not modified.
    expect(Buffer.from(out.subarray(out.length - (png.length - 33)))).toEqual(Buffer.from(png.subarray(33)));
    expect(listChunkTypes(png)).toEqual(['IHDR', 'IDAT', 'IEND']);
    expect(insertTextChunks(png, {})).toBe(png);
  });

  it('insertPngTextChunk is insertTextChunks with one keyword', () => {
    const png = tinyPng();
    expect(Buffer.from(insertPngTextChunk(png, 'parameters', '一只猫\nSteps: 1'))).toEqual(
      Buffer.from(insertTextChunks(png, { parameters: '一只猫\nSteps: 1' })),
    );
  });

  it('reads zTXt and compressed iTXt only when given an inflate function', () => {
    const ztxt = rawChunk(
      'zTXt',
      Buffer.concat([Buffer.from('Comment\0\0', 'latin1'), deflateSync('zipped')]),
    );
    const itxt = rawChunk(
      'iTXt',
      Buffer.concat([Buffer.from('Title\0\x01\0\0\0', 'latin1'), deflateSync(Buffer.from('圧縮'))]),
    );
    const png = tinyPng(ztxt, itxt, encodeTextChunk('plain', 'text'));
    expect(readTextChunks(png)).toEqual({ plain: 'text' });
    expect(readTextChunks(png, { inflate: (data) => inflateSync(data) })).toEqual({
      Comment: 'zipped',
      Title: '圧縮',
      plain: 'text',
    });
  });

  it('tells PNG bytes from others by the signature', () => {
    expect(hasPngSignature(tinyPng())).toBe(true);
    expect(hasPngSignature(new TextEncoder().encode('GIF89a……'))).toBe(false);
    expect(hasPngSignature(tinyPng().subarray(0, 7))).toBe(false);
  });
});
