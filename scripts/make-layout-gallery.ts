/**
 * Renders the README's layout-to-image row: six held-out layouts of the shipped layout model
 * (packages/model-shapes/layout/heldout-layouts.json: three with 2 objects, three with 3), each generated at
 * the model's recommended settings (its layout.json `recommended`, else `shapesLayoutDefaults`) with the seed `npm run eval:layout` gives it (its index in the file),
 * upscaled ×8 (nearest), the boxes drawn over it (2-px outlines, a colour per box) and each box's phrase
 * below, after a swatch of its outline colour. Prints the layout judge's verdict on each image.
 *
 *   npx tsx scripts/make-layout-gallery.ts [out.png] [--model DIR]   (default docs/images/layout-gallery.png)
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { nodeBackend, writePng } from '@latentkit/backend-node';
import { type RgbaImage, StableDiffusionGLIGENPipeline } from '@latentkit/core';
import { shapesLayoutDefaults, shapesLayoutModelPath } from '@latentkit/model-shapes';
import { judgeLayout, parseEvalLayouts } from '../packages/model-shapes/src/evaluation/index.js';
import { drawText, GLYPH_HEIGHT, textWidth } from './support/bitmap-font.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { model: { type: 'string', default: shapesLayoutModelPath } },
});
const out = positionals[0] ?? 'docs/images/layout-gallery.png';
const modelDir = values.model;

/** Layouts shown (indices into heldout-layouts.json): the first three with 2 objects and with 3. */
const SHOWN = [0, 1, 2, 100, 101, 102];
const SCALE = 8;
const GAP = 12;
const TEXT_SCALE = 2;
const LINE = GLYPH_HEIGHT * TEXT_SCALE + 6;
const SWATCH = GLYPH_HEIGHT * TEXT_SCALE - 4;
const COLUMNS = 3;
/** Box outline colours: off the shapes palette, so they stand out on every shape and background. */
const OUTLINES: [number, number, number][] = [
  [0, 215, 215],
  [255, 0, 200],
  [130, 230, 90],
];

const set = parseEvalLayouts(
  JSON.parse(readFileSync(join(shapesLayoutModelPath, 'heldout-layouts.json'), 'utf8')),
);
const colors = set.colors;
if (!colors) throw new Error('heldout-layouts.json has no colour table');
// The model card's settings: the model's layout.json `recommended`, else the package's defaults.
const recommended =
  (JSON.parse(
    existsSync(join(modelDir, 'layout.json')) ? readFileSync(join(modelDir, 'layout.json'), 'utf8') : '{}',
  ).recommended as Record<string, unknown> | undefined) ?? {};
const settings = Object.fromEntries(
  Object.entries(shapesLayoutDefaults).map(([k, v]) => [
    k,
    typeof recommended[k] === 'number' ? recommended[k] : v,
  ]),
) as { -readonly [K in keyof typeof shapesLayoutDefaults]: number };
const pipe = await StableDiffusionGLIGENPipeline.fromPretrained(modelDir, { backend: nodeBackend });
const shots: { image: RgbaImage; index: number }[] = [];
for (const index of SHOWN) {
  const layout = set.layouts[index]!;
  const { images } = await pipe.generate({
    prompt: layout.prompt,
    layout: layout.objects.map((o) => ({
      phrase: o.phrase,
      box: [...o.box] as [number, number, number, number],
    })),
    seed: index,
    ...settings,
  });
  const image = images[0]!;
  shots.push({ image, index });
  const judged = judgeLayout(image, layout, { colors });
  const verdicts = judged.objects.map(
    (o, i) =>
      `${layout.objects[i]!.phrase}: ${o.right ? 'right' : `${o.color ?? 'none'} ${o.shape ?? 'none'}`}`,
  );
  console.log(
    `#${index} "${layout.prompt}" seed ${index}: ${verdicts.join('; ')}; ${judged.clean ? 'clean' : 'NOT clean'} outside the boxes`,
  );
}
await pipe.dispose();

// One cell per layout: the image ×SCALE with its boxes, then one line per object (swatch + phrase).
const side = shots[0]!.image.width * SCALE;
const maxObjects = Math.max(...shots.map((s) => set.layouts[s.index]!.objects.length));
const cellWidth = Math.max(
  side,
  ...shots.flatMap((s) =>
    set.layouts[s.index]!.objects.map((o) => SWATCH + 6 + textWidth(o.phrase, TEXT_SCALE)),
  ),
);
const cellHeight = side + 6 + maxObjects * LINE;
const rows = Math.ceil(shots.length / COLUMNS);
const width = COLUMNS * (cellWidth + GAP) + GAP;
const height = rows * (cellHeight + GAP) + GAP;
const data = new Uint8ClampedArray(width * height * 4).fill(255);
const plot = (x: number, y: number, rgb: readonly number[]) => {
  if (x >= 0 && y >= 0 && x < width && y < height)
    data.set([rgb[0]!, rgb[1]!, rgb[2]!, 255], (y * width + x) * 4);
};
shots.forEach(({ image, index }, k) => {
  const layout = set.layouts[index]!;
  const left = GAP + (k % COLUMNS) * (cellWidth + GAP);
  const top = GAP + Math.floor(k / COLUMNS) * (cellHeight + GAP);
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) {
      const src = (Math.floor(y / SCALE) * image.width + Math.floor(x / SCALE)) * 4;
      plot(left + x, top + y, [image.data[src]!, image.data[src + 1]!, image.data[src + 2]!]);
    }
  }
  layout.objects.forEach((o, i) => {
    const rgb = OUTLINES[i % OUTLINES.length]!;
    // The outline's 2 pixels sit just inside the box's edges.
    const [x0, y0, x1, y1] = [o.box[0] * side, o.box[1] * side, o.box[2] * side, o.box[3] * side].map(
      Math.round,
    ) as [number, number, number, number];
    for (let t = 0; t < 2; t++) {
      for (let x = x0; x < x1; x++) {
        plot(left + x, top + y0 + t, rgb);
        plot(left + x, top + y1 - 1 - t, rgb);
      }
      for (let y = y0; y < y1; y++) {
        plot(left + x0 + t, top + y, rgb);
        plot(left + x1 - 1 - t, top + y, rgb);
      }
    }
    const lineTop = top + side + 6 + i * LINE;
    for (let y = 0; y < SWATCH; y++) for (let x = 0; x < SWATCH; x++) plot(left + x, lineTop + 1 + y, rgb);
    drawText(o.phrase, left + SWATCH + 6, lineTop, TEXT_SCALE, (x, y) => plot(x, y, [20, 20, 20]));
  });
});
await writePng(out, { width, height, data });
console.log(
  `wrote ${out} (${width}×${height}): held-out layouts ${SHOWN.join(', ')}, seed = index, ` +
    `${settings.numInferenceSteps} steps, guidance ${settings.guidanceScale}, beta ${settings.gligenScheduledSamplingBeta}; ×${SCALE} nearest, boxes outlined`,
);
