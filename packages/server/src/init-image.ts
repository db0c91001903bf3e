import { decodePng, encodePng } from '@latentkit/backend-node';
import { InvalidArgumentError, type RgbaImage, resizeLanczos } from '@latentkit/core';

/** Decodes PNG bytes, or fails naming the field. */
export function decodeImageField(name: string, bytes: Uint8Array): RgbaImage {
  try {
    return decodePng(bytes);
  } catch (cause) {
    throw new InvalidArgumentError({
      name,
      value: `${bytes.length} bytes`,
      expected: 'a PNG image',
      fix: `send PNG bytes (${cause instanceof Error ? cause.message : String(cause)})`,
    });
  }
}

/** A base64 field (A1111 sends `data:image/png;base64,…` or bare base64) as bytes. */
export function base64Bytes(name: string, text: string): Uint8Array {
  const bare = text.replace(/^data:[^;,]*;base64,/, '');
  if (!/^[A-Za-z0-9+/=\s]*$/.test(bare) || bare.trim() === '') {
    throw new InvalidArgumentError({
      name,
      value: `${text.slice(0, 24)}…`,
      expected: 'a base64-encoded PNG (optionally as a data: URL)',
      fix: "send the PNG file's bytes in base64",
    });
  }
  return Buffer.from(bare, 'base64');
}

/** An image as base64 PNG, resized with Lanczos to `width × height` when it has another size (A1111's "Just resize"). */
export function imageAtSize(image: RgbaImage, width: number, height: number): string {
  const sized =
    image.width === width && image.height === height ? image : resizeLanczos(image, width, height);
  return Buffer.from(encodePng(sized)).toString('base64');
}

/**
 * A mask in latentkit's convention (white = repaint) from OpenAI's (fully transparent = edit), at
 * `width × height` (nearest neighbour, so the mask stays binary).
 */
export function maskFromTransparency(mask: RgbaImage, width: number, height: number): string {
  const out = new Uint8ClampedArray(width * height * 4);
  for (let y = 0; y < height; y++) {
    const sy = Math.min(mask.height - 1, Math.floor(((y + 0.5) * mask.height) / height));
    for (let x = 0; x < width; x++) {
      const sx = Math.min(mask.width - 1, Math.floor(((x + 0.5) * mask.width) / width));
      const edit = mask.data[(sy * mask.width + sx) * 4 + 3] === 0 ? 255 : 0;
      const o = (y * width + x) * 4;
      out[o] = edit;
      out[o + 1] = edit;
      out[o + 2] = edit;
      out[o + 3] = 255;
    }
  }
  return Buffer.from(encodePng({ width, height, data: out })).toString('base64');
}

/** Whether any pixel of `image` is fully transparent (OpenAI then uses its alpha as the mask). */
export function hasTransparency(image: RgbaImage): boolean {
  for (let i = 3; i < image.data.length; i += 4) if (image.data[i] === 0) return true;
  return false;
}
