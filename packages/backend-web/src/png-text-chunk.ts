import { InvalidArgumentError } from '@latentkit/core';

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

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function latin1(text: string): Uint8Array | undefined {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code > 0xff) return undefined;
    out[i] = code;
  }
  return out;
}

/** One PNG chunk: length, type, data, CRC over type and data. */
function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

/**
 * A text chunk for `keyword`: `tEXt` when the text fits Latin-1 (as PIL and A1111 write it), else an
 * uncompressed UTF-8 `iTXt` chunk.
 */
function textChunk(keyword: string, text: string): Uint8Array {
  const key = latin1(keyword)!;
  const value = latin1(text);
  if (value) {
    const data = new Uint8Array(key.length + 1 + value.length);
    data.set(key);
    data.set(value, key.length + 1);
    return chunk('tEXt', data);
  }
  const utf8 = new TextEncoder().encode(text);
  // keyword NUL, compression flag 0, method 0, empty language tag NUL, empty translated keyword NUL.
  const data = new Uint8Array(key.length + 5 + utf8.length);
  data.set(key);
  data.set(utf8, key.length + 5);
  return chunk('iTXt', data);
}

/**
 * Returns a copy of a PNG with a text chunk (`keyword` → `text`) inserted before the first `IDAT`, so
 * readers that stop at the image data (PIL's `Image.open().info`, A1111's PNG Info) see it.
 *
 * @throws {@link @latentkit/core!InvalidArgumentError} for bytes that are not a PNG with an `IDAT`, or a keyword
 *   that is not 1–79 printable Latin-1 characters.
 */
export function insertPngTextChunk(png: Uint8Array, keyword: string, text: string): Uint8Array {
  if (!/^[\x20-\x7e\xa1-\xff]{1,79}$/.test(keyword) || keyword !== keyword.trim()) {
    throw new InvalidArgumentError({
      name: 'PNG text keyword',
      value: keyword,
      expected: '1–79 printable Latin-1 characters, no leading or trailing space (e.g. "parameters")',
    });
  }
  const notPng = (why: string) =>
    new InvalidArgumentError({
      name: 'png',
      value: `${png?.length ?? 0} bytes`,
      expected: `PNG bytes (${why})`,
      fix: 'pass the bytes of an encoded PNG image',
    });
  if (!(png instanceof Uint8Array) || SIGNATURE.some((b, i) => png[i] !== b))
    throw notPng('no PNG signature');
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  let offset = SIGNATURE.length;
  while (offset + 8 <= png.length) {
    const length = view.getUint32(offset);
    const type = String.fromCharCode(...png.subarray(offset + 4, offset + 8));
    if (type === 'IDAT') {
      const extra = textChunk(keyword, text);
      const out = new Uint8Array(png.length + extra.length);
      out.set(png.subarray(0, offset));
      out.set(extra, offset);
      out.set(png.subarray(offset), offset + extra.length);
      return out;
    }
    offset += 12 + length;
  }
  throw notPng('no IDAT chunk');
}
