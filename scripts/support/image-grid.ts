/**
 * Shared grid writer for the gallery scripts: lays out rows of images as one PNG on white, each image
 * scaled to `side`×`side` (nearest neighbour) with a `gap`-pixel border between and around cells.
 */
import { writePng } from '@latentkit/backend-node';
import type { RgbaImage } from '@latentkit/core';

export async function writeImageGrid(
  out: string,
  rows: RgbaImage[][],
  side: number,
  gap: number,
): Promise<void> {
  const columns = Math.max(...rows.map((row) => row.length));
  const width = columns * (side + gap) + gap;
  const height = rows.length * (side + gap) + gap;
  const data = new Uint8ClampedArray(width * height * 4).fill(255);
  rows.forEach((row, r) => {
    row.forEach((img, c) => {
      const scale = side / img.width;
      for (let y = 0; y < side; y++) {
        for (let x = 0; x < side; x++) {
          const src = (Math.floor(y / scale) * img.width + Math.floor(x / scale)) * 4;
          const dst = ((gap + r * (side + gap) + y) * width + gap + c * (side + gap) + x) * 4;
          data.set(img.data.subarray(src, src + 4), dst);
        }
      }
    });
  });
  await writePng(out, { width, height, data });
}
