import { readFile } from 'node:fs/promises';
import { inflateSync } from 'node:zlib';
import {
  formatGenerationParameters,
  type GenerationParameters,
  hasPngSignature,
  InvalidArgumentError,
  insertTextChunks,
  isResolvedParameters,
  type ResolvedParameters,
  type RgbaImage,
  readTextChunks as readTextChunksWith,
} from '@latentkit/core';
import { decode, encode, type DecodedPng as FastPngImage } from 'fast-png';
import { writeFileAtomic } from './atomic-write.js';
import { generationParametersFrom } from './generation-parameters.js';
import { detectImageFormat } from './image-format.js';

/** A decoded PNG: its pixels as 8-bit RGBA, and its text chunks. */
export interface DecodedPng extends RgbaImage {
  /** Every tEXt / zTXt / iTXt chunk, `{ keyword: text }`; A1111 images have `parameters`. */
  text: Record<string, string>;
}

/** Options for {@link encodePng} and {@link writePng}. */
export interface PngWriteOptions {
  /**
   * Written as A1111 infotext in the `parameters` text chunk, before the image data: either
   * {@link GenerationParameters}, or the `parameters` of a `generate()` result as they are (then
   * `imageIndex` picks the image, and the sampler is written by its A1111 name; see
   * {@link generationParametersFrom}).
   */
  parameters?: GenerationParameters | ResolvedParameters;
  /** With a `generate()` result's `parameters`: which of its images this is. Default 0. */
  imageIndex?: number;
  /** With a `generate()` result's `parameters`: the model name written as `Model:`. */
  model?: string;
  /** More text chunks, `{ keyword: text }` (keywords: 1–79 printable Latin-1 characters, no leading or trailing space). */
  text?: Readonly<Record<string, string>>;
}

/**
 * Decodes PNG bytes of any colour type (grey, grey+alpha, RGB, RGBA, palette) and bit depth (1–16),
 * interlaced or not, to 8-bit RGBA. 16-bit samples keep their high byte; lower depths are scaled to
 * 0–255; a tRNS colour key or palette alpha becomes the alpha channel.
 */
export function decodePng(bytes: Uint8Array): DecodedPng {
  if (!hasPngSignature(bytes)) {
    const format = detectImageFormat(bytes);
    throw new InvalidArgumentError({
      name: 'PNG bytes',
      value: format
        ? `a ${format} image (${bytes.length} bytes)`
        : `${bytes.length} bytes starting ${Array.from(bytes.subarray(0, 4), (b) => b.toString(16).padStart(2, '0')).join(' ')}`,
      expected: 'a PNG file (signature 89 50 4e 47): latentkit reads PNG only',
      fix: format
        ? `convert the ${format} image to PNG first (e.g. \`convert in.${format === 'JPEG' ? 'jpg' : format.toLowerCase()} in.png\` with ImageMagick)`
        : 'convert the image to PNG first',
    });
  }
  let png: FastPngImage;
  try {
    png = decode(bytes);
  } catch (error) {
    throw new InvalidArgumentError({
      name: 'PNG bytes',
      value: `${bytes.length} bytes`,
      expected: `a valid PNG (${(error as Error).message})`,
      fix: 're-save the image with an image editor',
    });
  }
  return { ...toRgba(png), text: readTextChunks(bytes) };
}

/**
 * Reads every tEXt, zTXt and iTXt chunk of a PNG into `{ keyword: text }` (later chunks win), compressed
 * ones too: `@latentkit/core`'s `readTextChunks` with `node:zlib`'s `inflateSync`.
 */
export function readTextChunks(png: Uint8Array): Record<string, string> {
  return readTextChunksWith(png, { inflate: (data) => inflateSync(data) });
}

/** Reads a PNG file (or decodes PNG bytes) to 8-bit RGBA with its text chunks; see {@link decodePng}. */
export async function readPng(source: string | Uint8Array): Promise<DecodedPng> {
  if (typeof source !== 'string') return decodePng(source);
  let bytes: Uint8Array;
  try {
    bytes = await readFile(source);
  } catch (error) {
    throw new InvalidArgumentError({
      name: 'image path',
      value: source,
      expected: `a readable PNG file (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`,
      fix: 'check the path',
    });
  }
  try {
    return decodePng(bytes);
  } catch (error) {
    if (error instanceof InvalidArgumentError) {
      throw new InvalidArgumentError(`${source}: ${error.message}`);
    }
    throw error;
  }
}

/**
 * Encodes an RGBA image as an 8-bit RGBA PNG, with the generation parameters and text chunks given. The
 * chunks are in the order IHDR, tEXt/iTXt…, IDAT, IEND: text before the image data, where readers that
 * stop at IDAT (PIL's `Image.open().info`) find it.
 */
export function encodePng(image: RgbaImage, options: PngWriteOptions = {}): Uint8Array {
  if (image.data.length !== image.width * image.height * 4) {
    throw new InvalidArgumentError({
      name: 'image.data.length',
      value: image.data.length,
      expected: `width·height·4 = ${image.width * image.height * 4} (RGBA bytes)`,
    });
  }
  const text: Record<string, string> = {};
  if (options.parameters) {
    const parameters = isResolvedParameters(options.parameters)
      ? generationParametersFrom(options.parameters, {
          ...(options.imageIndex !== undefined ? { imageIndex: options.imageIndex } : {}),
          ...(options.model !== undefined ? { model: options.model } : {}),
        })
      : options.parameters;
    text['parameters'] = formatGenerationParameters(parameters);
  }
  Object.assign(text, options.text);
  const pixels = encode({
    width: image.width,
    height: image.height,
    data: image.data,
    depth: 8,
    channels: 4,
  });
  return insertTextChunks(pixels, text);
}

/**
 * Writes an RGBA image as a PNG file, atomically: a temporary file in the same folder renamed over
 * `path`, so a crash or a full disk never leaves a half-written image.
 */
export async function writePng(path: string, image: RgbaImage, options: PngWriteOptions = {}): Promise<void> {
  await writeFileAtomic(path, encodePng(image, options));
}

function toRgba(png: FastPngImage): RgbaImage {
  const { width, height, depth, channels } = png;
  const count = width * height;
  const out = new Uint8ClampedArray(count * 4);
  if (png.palette) {
    const index = unpack(png.data, width, height, 1, depth);
    for (let p = 0; p < count; p++) {
      const colour = png.palette[index[p]!] ?? [0, 0, 0];
      out[p * 4] = colour[0]!;
      out[p * 4 + 1] = colour[1]!;
      out[p * 4 + 2] = colour[2]!;
      out[p * 4 + 3] = colour[3] ?? 255;
    }
    return { width, height, data: out };
  }
  const samples = unpack(png.data, width, height, channels, depth);
  const max = 2 ** depth - 1;
  // 16-bit keeps the high byte (as libpng's strip-16 and PIL do); 1/2/4-bit scale to the full range.
  const to8 =
    depth === 16 ? (v: number) => v >> 8 : depth === 8 ? (v: number) => v : (v: number) => (v * 255) / max;
  const key = png.transparency;
  for (let p = 0; p < count; p++) {
    const s = p * channels;
    const o = p * 4;
    if (channels <= 2) {
      const g = to8(samples[s]!);
      out[o] = g;
      out[o + 1] = g;
      out[o + 2] = g;
      out[o + 3] = channels === 2 ? to8(samples[s + 1]!) : key && samples[s] === key[0] ? 0 : 255;
    } else {
      out[o] = to8(samples[s]!);
      out[o + 1] = to8(samples[s + 1]!);
      out[o + 2] = to8(samples[s + 2]!);
      const isKey =
        key &&
        key.length >= 3 &&
        samples[s] === key[0] &&
        samples[s + 1] === key[1] &&
        samples[s + 2] === key[2];
      out[o + 3] = channels === 4 ? to8(samples[s + 3]!) : isKey ? 0 : 255;
    }
  }
  return { width, height, data: out };
}

/** Unpacks sub-byte samples (1/2/4-bit, rows padded to whole bytes) to one number per sample. */
function unpack(
  data: ArrayLike<number>,
  width: number,
  height: number,
  channels: number,
  depth: number,
): ArrayLike<number> {
  if (depth >= 8) return data;
  const perRow = width * channels;
  const rowBytes = Math.ceil((perRow * depth) / 8);
  const out = new Uint8Array(perRow * height);
  const mask = (1 << depth) - 1;
  for (let y = 0; y < height; y++) {
    for (let i = 0; i < perRow; i++) {
      const bit = i * depth;
      const byte = data[y * rowBytes + (bit >> 3)]!;
      out[y * perRow + i] = (byte >> (8 - depth - (bit & 7))) & mask;
    }
  }
  return out;
}
