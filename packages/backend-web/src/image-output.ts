import {
  InvalidArgumentError,
  insertPngTextChunk,
  type ResolvedParameters,
  type RgbaImage,
} from '@latentkit/core';
import { formatInfotext, type InfotextOptions } from './infotext.js';

/** A canvas latentkit can draw into: a page's `<canvas>` or an `OffscreenCanvas` (also in workers). */
export type DrawableCanvas = HTMLCanvasElement | OffscreenCanvas;

function checkImage(image: RgbaImage): void {
  if (image?.data?.length !== image.width * image.height * 4) {
    throw new InvalidArgumentError({
      name: 'image',
      value: image,
      expected: 'an RgbaImage with width·height·4 bytes of data',
      fix: 'pass an image from pipe.generate()',
    });
  }
}

/** An {@link RgbaImage} as the browser's `ImageData` (the bytes are copied only when they must be). */
export function toImageData(image: RgbaImage): ImageData {
  checkImage(image);
  // ImageData wants its own ArrayBuffer-backed array (not a view into a SharedArrayBuffer or a window).
  const plain =
    image.data.buffer instanceof ArrayBuffer &&
    image.data.byteOffset === 0 &&
    image.data.byteLength === image.data.buffer.byteLength
      ? (image.data as Uint8ClampedArray<ArrayBuffer>)
      : new Uint8ClampedArray(image.data);
  return new ImageData(plain, image.width, image.height);
}

/**
 * Draws an image into a canvas, resizing the canvas to the image; without a canvas, makes an
 * `OffscreenCanvas`. Pixels are written as they are (`putImageData`: no scaling, no colour conversion).
 *
 * @returns The canvas drawn into.
 */
export function drawImage<C extends DrawableCanvas = OffscreenCanvas>(image: RgbaImage, canvas?: C): C {
  const target = (canvas ?? new OffscreenCanvas(image.width, image.height)) as C;
  target.width = image.width;
  target.height = image.height;
  const context = target.getContext('2d') as
    | CanvasRenderingContext2D
    | OffscreenCanvasRenderingContext2D
    | null;
  if (!context) {
    throw new InvalidArgumentError({
      name: 'canvas',
      value: canvas,
      expected: 'a canvas that can give a 2d context (not one already used for WebGL/WebGPU)',
    });
  }
  context.putImageData(toImageData(image), 0, 0);
  return target;
}

/** Options of {@link toPngBlob}. */
export interface PngBlobOptions extends InfotextOptions {
  /**
   * The `parameters` of the `generate()` result the image came from: written as an AUTOMATIC1111
   * `parameters` text chunk before the image data (see {@link formatInfotext}), which A1111's PNG Info,
   * PIL's `Image.open().info` and image browsers read. A string is written as it is.
   */
  parameters?: ResolvedParameters | string;
}

async function canvasPng(image: RgbaImage): Promise<Blob> {
  if (typeof OffscreenCanvas !== 'undefined') {
    return drawImage(image).convertToBlob({ type: 'image/png' });
  }
  const canvas = drawImage(image, document.createElement('canvas'));
  return new Promise((resolve, reject) =>
    canvas.toBlob(
      (blob) => (blob ? resolve(blob) : reject(new Error('canvas.toBlob gave no PNG'))),
      'image/png',
    ),
  );
}

/**
 * Encodes an image as a PNG `Blob` (works in workers too), e.g. for a download link; with `parameters`
 * (a `generate()` result's), the PNG carries them as A1111 infotext:
 *
 * ```ts
 * const { images, parameters } = await pipe.generate({ prompt: 'a red circle', seed: 42 });
 * const png = await toPngBlob(images[0]!, { parameters, imageIndex: 0, model: 'shapes' });
 * ```
 *
 * @throws {@link @latentkit/core!InvalidArgumentError} for an image without width·height·4 bytes, or an
 *   `imageIndex` the parameters do not have.
 */
export async function toPngBlob(image: RgbaImage, options: PngBlobOptions = {}): Promise<Blob> {
  checkImage(image);
  const { parameters } = options;
  const text =
    parameters === undefined
      ? undefined
      : typeof parameters === 'string'
        ? parameters
        : formatInfotext(parameters, options);
  const blob = await canvasPng(image);
  if (text === undefined) return blob;
  const png = insertPngTextChunk(new Uint8Array(await blob.arrayBuffer()), 'parameters', text);
  return new Blob([png as Uint8Array<ArrayBuffer>], { type: 'image/png' });
}
