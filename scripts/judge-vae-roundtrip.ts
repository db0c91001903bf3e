/**
 * Judges the VAE round trip written by `tools/shapes-model/vae_roundtrip.py` with the evaluator's
 * image judge: per shape and size, how many images keep every attribute, clean renders first (the
 * judge's own accuracy) and then after encode → decode.
 *
 *   npx tsx scripts/judge-vae-roundtrip.ts tools/shapes-model/.work/roundtrip
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RgbaImage } from '@latentkit/core';
import { judgeShapeImage, parseShapesWorld, shapesModelPath } from '@latentkit/model-shapes';

const prefix = process.argv[2];
if (!prefix) {
  console.error('usage: npx tsx scripts/judge-vae-roundtrip.ts <prefix written by vae_roundtrip.py>');
  process.exit(2);
}
const world = parseShapesWorld(JSON.parse(readFileSync(join(shapesModelPath, 'heldout.json'), 'utf8')));
const { resolution, attributes } = JSON.parse(readFileSync(`${prefix}.json`, 'utf8')) as {
  resolution: number;
  attributes: [string, string, string, string, string][];
};
const pixels = resolution * resolution;

function toRgba(rgb: Uint8Array, index: number): RgbaImage {
  const data = new Uint8ClampedArray(pixels * 4);
  for (let p = 0; p < pixels; p++) {
    data.set(rgb.subarray((index * pixels + p) * 3, (index * pixels + p) * 3 + 3), p * 4);
    data[p * 4 + 3] = 255;
  }
  return { width: resolution, height: resolution, data };
}

for (const [label, file] of [
  ['clean renders', `${prefix}_clean.rgb`],
  ['VAE round trip', `${prefix}.rgb`],
] as const) {
  const rgb = new Uint8Array(readFileSync(file));
  const tally = new Map<string, { right: number; total: number }>();
  const misses = new Map<string, number>();
  attributes.forEach(([color, shape, background, size, position], i) => {
    const j = judgeShapeImage(toRgba(rgb, i), world.colors);
    const right =
      j.color === color &&
      j.shape === shape &&
      j.background === background &&
      j.size === size &&
      j.position === position;
    const key = `${size} ${shape}`;
    const t = tally.get(key) ?? { right: 0, total: 0 };
    tally.set(key, { right: t.right + (right ? 1 : 0), total: t.total + 1 });
    if (j.shape !== shape) misses.set(`${key} → ${j.shape}`, (misses.get(`${key} → ${j.shape}`) ?? 0) + 1);
  });
  console.log(`${label}:`);
  for (const [key, { right, total }] of [...tally].sort()) {
    console.log(`  ${key.padEnd(16)} ${((100 * right) / total).toFixed(1).padStart(5)}% (${right}/${total})`);
  }
  for (const [miss, n] of [...misses].sort((a, b) => b[1] - a[1])) console.log(`  shape miss: ${miss} ×${n}`);
}
