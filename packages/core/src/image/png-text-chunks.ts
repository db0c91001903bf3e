/**
 * PNG text chunks (tEXt, zTXt, iTXt), read and written here rather than by the pixel codec: codecs
 * often only know Latin-1 tEXt, and prompts are often not Latin-1. Like PIL (which A1111 saves with), a
 * value that fits Latin-1 goes into tEXt, anything else into an uncompressed UTF-8 iTXt chunk.
 *
 * Pure bytes, no Node or browser APIs: `@latentkit/backend-node`'s `writePng` and
 * `@latentkit/backend-web`'s `toPngBlob` both write their `parameters` chunk with it.
 */
import { InvalidArgumentError } from '../errors.js';

const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32 as PNG chunks use it (over the chunk type and data). */
export function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** True when the bytes start with the PNG signature. */
export function hasPngSignature(bytes: Uint8Array): boolean {
  return bytes.length >= 8 && SIGNATURE.every((b, i) => bytes[i] === b);
}

const latin1 = new TextDecoder('latin1');
const utf8 = new TextDecoder('utf-8');

function isLatin1(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0xff) return false;
  return true;
}

function latin1Bytes(text: string): Uint8Array {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i);
  return out;
}

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  out.set(latin1Bytes(type), 4);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * Checks a text chunk keyword: 1–79 printable Latin-1 characters with no leading or trailing space (the
 * PNG rule).
 *
 * @throws InvalidArgumentError for any other keyword.
 */
export function checkTextKeyword(keyword: string): void {
  if (
    typeof keyword !== 'string' ||
    !/^[\x20-\x7e\xa1-\xff]{1,79}$/.test(keyword) ||
    keyword !== keyword.trim()
  ) {
    throw new InvalidArgumentError({
      name: 'PNG text keyword',
      value: keyword,
      expected: '1–79 printable Latin-1 characters, no leading or trailing space (e.g. "parameters")',
    });
  }
}

/**
 * One text chunk's bytes: tEXt when the value is Latin-1, else uncompressed UTF-8 iTXt.
 *
 * @throws InvalidArgumentError for a keyword that is not 1–79 printable Latin-1 characters, or text
 *   that is not a string.
 */
export function encodeTextChunk(keyword: string, text: string): Uint8Array {
  checkTextKeyword(keyword);
  if (typeof text !== 'string') {
    throw new InvalidArgumentError({
      name: `PNG text "${keyword}"`,
      value: text,
      expected: 'a string',
      fix: 'pass the text to write, e.g. formatGenerationParameters(…) for "parameters"',
    });
  }
  const key = latin1Bytes(keyword);
  if (isLatin1(text)) return chunk('tEXt', concat([key, new Uint8Array([0]), latin1Bytes(text)]));
  // iTXt: keyword \0 compression-flag compression-method language-tag \0 translated-keyword \0 text
  return chunk('iTXt', concat([key, new Uint8Array([0, 0, 0, 0, 0]), new TextEncoder().encode(text)]));
}

/**
 * Inserts text chunks into an encoded PNG, just before the first IDAT (the image data). The PNG spec
 * allows text anywhere between IHDR and IEND, but readers that stop at the image data — PIL's
 * `Image.open().info`, A1111's PNG Info, many image browsers — only see text written before it.
 *
 * @param text - `{ keyword: text }`, written in this order; keywords must be 1–79 printable Latin-1
 *   characters with no leading or trailing space (the PNG rule).
 * @returns A new PNG (or `png` itself when `text` is empty).
 * @throws InvalidArgumentError for a bad keyword, text that is not a string, or bytes that are not a
 *   PNG with an IDAT chunk.
 */
export function insertTextChunks(png: Uint8Array, text: Readonly<Record<string, string>>): Uint8Array {
  const entries = Object.entries(text);
  for (const [keyword] of entries) checkTextKeyword(keyword);
  const notPng = (why: string) =>
    new InvalidArgumentError({
      name: 'png',
      value: `${(png as Uint8Array | undefined)?.length ?? 0} bytes`,
      expected: `PNG bytes (${why})`,
      fix: 'pass the bytes of an encoded PNG image',
    });
  if (!(png instanceof Uint8Array) || !hasPngSignature(png)) throw notPng('no PNG signature');
  const idat = findChunk(png, 'IDAT');
  if (idat < 0) throw notPng('no IDAT chunk');
  if (entries.length === 0) return png;
  return concat([
    png.subarray(0, idat),
    ...entries.map(([k, v]) => encodeTextChunk(k, v)),
    png.subarray(idat),
  ]);
}

/**
 * Returns a copy of a PNG with one text chunk (`keyword` → `text`) inserted before the first IDAT; see
 * {@link insertTextChunks}.
 *
 * @throws InvalidArgumentError for a bad keyword, or bytes that are not a PNG with an IDAT chunk.
 */
export function insertPngTextChunk(png: Uint8Array, keyword: string, text: string): Uint8Array {
  return insertTextChunks(png, { [keyword]: text });
}

/** The chunk types of a PNG in file order (e.g. `['IHDR', 'tEXt', 'IDAT', 'IEND']`). */
export function listChunkTypes(png: Uint8Array): string[] {
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  const types: string[] = [];
  let at = 8;
  while (at + 8 <= png.length) {
    types.push(latin1.decode(png.subarray(at + 4, at + 8)));
    at += 12 + view.getUint32(at);
  }
  return types;
}

function findChunk(png: Uint8Array, type: string): number {
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  let at = 8;
  while (at + 8 <= png.length) {
    const length = view.getUint32(at);
    if (latin1.decode(png.subarray(at + 4, at + 8)) === type) return at;
    at += 12 + length;
  }
  return -1;
}

/** Options of {@link readTextChunks}. */
export interface ReadTextChunksOptions {
  /**
   * Inflates zlib data (e.g. `node:zlib`'s `inflateSync`), for zTXt and compressed iTXt chunks. Without
   * it those chunks are left out (browsers only inflate asynchronously).
   */
  inflate?: (data: Uint8Array) => Uint8Array;
}

/**
 * Reads the tEXt, zTXt and iTXt chunks of a PNG into `{ keyword: text }` (later chunks win); compressed
 * ones only with `options.inflate`.
 */
export function readTextChunks(png: Uint8Array, options: ReadTextChunksOptions = {}): Record<string, string> {
  const { inflate } = options;
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  const out: Record<string, string> = {};
  let at = 8;
  while (at + 8 <= png.length) {
    const length = view.getUint32(at);
    const type = latin1.decode(png.subarray(at + 4, at + 8));
    const data = png.subarray(at + 8, Math.min(png.length, at + 8 + length));
    at += 12 + length;
    if (type === 'IEND') break;
    if (type !== 'tEXt' && type !== 'zTXt' && type !== 'iTXt') continue;
    const nul = data.indexOf(0);
    if (nul <= 0) continue;
    const keyword = latin1.decode(data.subarray(0, nul));
    if (type === 'tEXt') out[keyword] = latin1.decode(data.subarray(nul + 1));
    else if (type === 'zTXt') {
      if (inflate) out[keyword] = latin1.decode(inflate(data.subarray(nul + 2)));
    } else {
      const compressed = data[nul + 1] === 1;
      if (compressed && !inflate) continue;
      const langEnd = data.indexOf(0, nul + 3);
      const transEnd = langEnd < 0 ? -1 : data.indexOf(0, langEnd + 1);
      if (transEnd < 0) continue;
      const body = data.subarray(transEnd + 1);
      out[keyword] = utf8.decode(compressed ? inflate!(body) : body);
    }
  }
  return out;
}
