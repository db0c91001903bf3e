/**
 * Image formats told apart by their first bytes ("magic numbers"), to name what a file is when it is
 * not the PNG latentkit reads.
 */

/** A format {@link detectImageFormat} recognises. */
export type ImageFormat = 'PNG' | 'JPEG' | 'WebP' | 'GIF' | 'BMP' | 'TIFF' | 'AVIF' | 'HEIC' | 'QOI';

function ascii(bytes: Uint8Array, start: number, end: number): string {
  return String.fromCharCode(...bytes.subarray(start, end));
}

/** The format of an image file from its first bytes, or `undefined` when it is none of {@link ImageFormat}. */
export function detectImageFormat(bytes: Uint8Array): ImageFormat | undefined {
  if (bytes.length >= 8 && bytes[0] === 0x89 && ascii(bytes, 1, 4) === 'PNG') return 'PNG';
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'JPEG';
  if (bytes.length >= 12 && ascii(bytes, 0, 4) === 'RIFF' && ascii(bytes, 8, 12) === 'WEBP') return 'WebP';
  if (bytes.length >= 6 && /^GIF8[79]a$/.test(ascii(bytes, 0, 6))) return 'GIF';
  if (bytes.length >= 2 && ascii(bytes, 0, 2) === 'BM') return 'BMP';
  if (bytes.length >= 4 && ['II*\0', 'MM\0*'].includes(ascii(bytes, 0, 4))) return 'TIFF';
  if (bytes.length >= 12 && ascii(bytes, 4, 8) === 'ftyp') {
    const brand = ascii(bytes, 8, 12);
    if (brand === 'avif' || brand === 'avis') return 'AVIF';
    if (['heic', 'heix', 'mif1', 'msf1', 'hevc'].includes(brand)) return 'HEIC';
  }
  if (bytes.length >= 4 && ascii(bytes, 0, 4) === 'qoif') return 'QOI';
  return undefined;
}
