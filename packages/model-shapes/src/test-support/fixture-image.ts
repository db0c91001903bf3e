/**
 * Reads the images of the judge fixtures (`packages/model-shapes/test-fixtures/*-cases.json`): each case holds
 * its render as deflated 8-bit RGB in base64, written by the Python renderers under tools/. For tests only:
 * nothing in the package's entry point imports it, so it is not part of the built package.
 */
import { inflateSync } from 'node:zlib';
import type { RgbaImage } from '@latentkit/core';

/** A fixture case's image fields. */
export interface FixtureImage {
  width: number;
  height: number;
  /** zlib-deflated RGB bytes (row-major, 3 per pixel), base64. */
  rgb: string;
}

/** The case's render as an opaque {@link RgbaImage}. */
export function decodeFixtureImage(c: FixtureImage): RgbaImage {
  const rgb = inflateSync(Buffer.from(c.rgb, 'base64'));
  if (rgb.length !== c.width * c.height * 3) {
    throw new Error(
      `fixture image: ${rgb.length} RGB bytes, expected ${c.width}×${c.height}×3 = ${c.width * c.height * 3}`,
    );
  }
  const data = new Uint8ClampedArray(c.width * c.height * 4);
  for (let p = 0; p < c.width * c.height; p++)
    data.set([rgb[p * 3]!, rgb[p * 3 + 1]!, rgb[p * 3 + 2]!, 255], p * 4);
  return { width: c.width, height: c.height, data };
}
