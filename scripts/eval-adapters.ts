/**
 * Measures the shipped model's pink adapters (issue 17 item 4) through latentkit's public API:
 *
 *   npm run eval:adapters [-- --seeds 0,1,2,3] [--steps N] [--guidance G] [--batch 48] [--quick]
 *                            [--json FILE] [--gallery FILE]
 *
 * 1. pink prompts (`makeConceptPrompts`: every shape on every background, 2 phrasings each = 48): the
 *    shipped model with the word "pink", with `pipe.loadLoraWeights(pink-lora.safetensors)` (scale 1), and
 *    with `pipe.loadTextualInversion(pink-embedding.safetensors)` and the token `<pink>` (and without it:
 *    the same `<pink>` prompts on the bare model);
 * 2. the base vocabulary (`makeShapePrompts`, the prompts of `npm run eval:shapes`: 48 held-out + 96 seen)
 *    with the LoRA at scale 1 and at scale 0 (`pipe.setAdapters(name, 0)`);
 * 3. docs/images/adapters-gallery.png: the same seeds and prompts without an adapter / with the LoRA / with
 *    the embedding.
 *
 * Judged by `judgeShapeImage` with pink added to the world's colours (`withExtraColors`, the RGB of
 * packages/model-shapes/adapters/adapters.json); the base vocabulary is judged with the world's own 8.
 * Settings: the model's recommended steps (heldout.json) and the adapters' recommended guidance (adapters.json
 * `recommended.guidance_scale`, else the model's), for every run, so that the base vocabulary is compared at the
 * setting the LoRA is used at. Seeds 0–3 (192 pink images per run). `--quick`: one seed, 12 + 12 base prompts.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { nodeBackend, writePng } from '@latentkit/backend-node';
import { type RgbaImage, StableDiffusionPipeline, TorchGenerator } from '@latentkit/core';
import { shapesAdaptersPath, shapesModelPath } from '@latentkit/model-shapes';
import {
  type AdherenceResult,
  accuracy,
  conceptAccuracy,
  evaluateAdherence,
  formatTable,
  formatTally,
  judgeShapeImage,
  makeConceptPrompts,
  makeShapePrompts,
  parseShapesWorld,
  recommendedSampling,
  type ShapePrompt,
  type ShapesWorld,
  summarizeAdherence,
  takeShapePrompts,
  withExtraColors,
} from '../packages/model-shapes/src/evaluation/index.js';
import { drawText, GLYPH_HEIGHT, textWidth } from './support/bitmap-font.js';

const { values } = parseArgs({
  options: {
    seeds: { type: 'string' },
    steps: { type: 'string' },
    guidance: { type: 'string' },
    batch: { type: 'string', default: '48' },
    quick: { type: 'boolean', default: false },
    json: { type: 'string' },
    gallery: { type: 'string', default: 'docs/images/adapters-gallery.png' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) {
  process.stdout.write(`${readFileSync(new URL(import.meta.url), 'utf8').split('*/')[0]}*/\n`);
  process.exit(0);
}

function fail(message: string): never {
  process.stderr.write(`eval:adapters: ${message}\n`);
  process.exit(1);
}

interface Concept {
  rgb: [number, number, number];
  lora: string;
  lora_prompt_word: string;
  embedding: string;
  embedding_token: string;
  /** Sampling settings the adapters are best used with (diffusers' names). */
  recommended?: { guidance_scale?: number };
}
const manifestPath = join(shapesAdaptersPath, 'adapters.json');
if (!existsSync(manifestPath))
  fail(`${manifestPath} is missing: train the adapters (tools/shapes-adapters/README.md)`);
const concept = (JSON.parse(readFileSync(manifestPath, 'utf8')) as Record<string, Concept>).pink;
if (!concept) fail(`${manifestPath} has no "pink" entry`);
const loraFile = join(shapesAdaptersPath, concept.lora);
const embeddingFile = join(shapesAdaptersPath, concept.embedding);
for (const f of [loraFile, embeddingFile])
  if (!existsSync(f)) fail(`${f} is missing: train it (tools/shapes-adapters/)`);

const started = performance.now();
const world = parseShapesWorld(JSON.parse(readFileSync(join(shapesModelPath, 'heldout.json'), 'utf8')));
const pinkWorld: ShapesWorld = withExtraColors(world, { pink: concept.rgb });
const rec = recommendedSampling(world);
const steps = values.steps ? Number(values.steps) : rec.numInferenceSteps;
const guidance = values.guidance
  ? Number(values.guidance)
  : (concept.recommended?.guidance_scale ?? rec.guidanceScale);
const guidanceSource = values.guidance
  ? '--guidance'
  : concept.recommended?.guidance_scale !== undefined
    ? "adapters.json's recommendation"
    : "the model's recommendation";
if (!Number.isInteger(steps) || steps < 1) fail(`--steps ${values.steps}: expected a positive integer`);
if (!Number.isFinite(guidance)) fail(`--guidance ${values.guidance}: expected a number`);
const seeds = (values.seeds ?? (values.quick ? '0' : '0,1,2,3')).split(',').map(Number);
if (seeds.some((s) => !Number.isInteger(s) || s < 0))
  fail(`--seeds ${values.seeds}: expected integers like 0,1`);
const batchSize = Number(values.batch);

const pinkPrompts = makeConceptPrompts(pinkWorld, 'pink', { word: concept.lora_prompt_word });
const tokenPrompts = makeConceptPrompts(pinkWorld, 'pink', { word: concept.embedding_token });
const allBase = makeShapePrompts(world);
const basePrompts = values.quick ? takeShapePrompts(allBase, { seen: 12, heldout: 12 }) : allBase;

const pipe = await StableDiffusionPipeline.fromPretrained(shapesModelPath, { backend: nodeBackend });
const run = (w: ShapesWorld, prompts: readonly ShapePrompt[]): Promise<AdherenceResult> =>
  evaluateAdherence(pipe, {
    world: w,
    prompts,
    seeds,
    numInferenceSteps: steps,
    guidanceScale: guidance,
    batchSize,
  });

// Gallery prompts: one per shape, on three backgrounds (same seed in every row).
const GALLERY = [
  ['circle', 'blue'],
  ['square', 'green'],
  ['triangle', 'black'],
  ['circle', 'yellow'],
  ['square', 'white'],
  ['triangle', 'purple'],
] as const;
const GALLERY_SEED = 0;
async function galleryRow(word: string): Promise<RgbaImage[]> {
  const { images } = await pipe.generate({
    prompt: GALLERY.map(([shape, bg]) => `a ${word} ${shape} on a ${bg} background`),
    generator: GALLERY.map(() => new TorchGenerator(GALLERY_SEED)),
    numInferenceSteps: steps,
    guidanceScale: guidance,
    width: world.resolution,
    height: world.resolution,
  });
  return images;
}

// 1. Without adapters.
const pinkBare = await run(pinkWorld, pinkPrompts);
const tokenBare = await run(pinkWorld, tokenPrompts);
const rowBare = await galleryRow(concept.lora_prompt_word);
// 2. With the LoRA: pink prompts, and the base vocabulary at scale 1 and 0.
const lora = await pipe.loadLoraWeights(loraFile);
const pinkLora = await run(pinkWorld, pinkPrompts);
const rowLora = await galleryRow(concept.lora_prompt_word);
const baseLora1 = await run(world, basePrompts);
await pipe.setAdapters(lora.name, 0);
const baseLora0 = await run(world, basePrompts);
await pipe.unloadLoraWeights();
// 3. With the embedding.
const emb = await pipe.loadTextualInversion(embeddingFile);
const tokenEmb = await run(pinkWorld, tokenPrompts);
const rowEmb = await galleryRow(emb.token);
await pipe.dispose();

const pct = (r: AdherenceResult) => formatTally(conceptAccuracy(r.cases));
const all = (r: AdherenceResult) => formatTally(summarizeAdherence(r.cases).all);
const out = process.stdout;
out.write(
  `shapes model + adapters (${shapesAdaptersPath}): DDIM ${steps} steps, guidance ${guidance} (${guidanceSource}), seeds [${seeds.join(', ')}]\n`,
);
out.write(
  `LoRA ${lora.name} (${lora.format}; targets ${JSON.stringify(lora.targets)}); embedding ${emb.token} → ${emb.tokens.join(' ')} (${emb.format})\n\n`,
);
out.write(
  `== Pink prompts (${pinkPrompts.length} × ${seeds.length} seeds; judge palette + pink ${JSON.stringify(concept.rgb)}) ==\n`,
);
out.write(
  `${formatTable([
    ['run', 'prompt word', 'pink + shape right', 'every stated attribute'],
    ['shipped model', concept.lora_prompt_word, pct(pinkBare), all(pinkBare)],
    ['with the LoRA (scale 1)', concept.lora_prompt_word, pct(pinkLora), all(pinkLora)],
    ['shipped model', concept.embedding_token, pct(tokenBare), all(tokenBare)],
    ['with the embedding', emb.token, pct(tokenEmb), all(tokenEmb)],
  ])}\n\n`,
);
const baseRow = (label: string, r: AdherenceResult) => [
  label,
  formatTally(r.splits.heldout.all),
  formatTally(r.splits.seen.all),
  all(r),
];
out.write(
  `== Base vocabulary (eval:shapes prompts: ${basePrompts.length} × ${seeds.length} seeds), every stated attribute ==\n`,
);
out.write(
  `${formatTable([
    ['run', 'held-out', 'seen', 'all'],
    baseRow('LoRA scale 0', baseLora0),
    baseRow('LoRA scale 1', baseLora1),
  ])}\n`,
);
const a0 = accuracy(summarizeAdherence(baseLora0.cases).all);
const a1 = accuracy(summarizeAdherence(baseLora1.cases).all);
out.write(`difference (scale 1 − scale 0): ${(100 * (a1 - a0)).toFixed(1)} points\n\n`);

// The gallery: rows without / LoRA / embedding, a column per prompt, ×SCALE nearest, labels left.
const SCALE = 4;
const GAP = 6;
const TEXT = 2;
const labels = ['without', 'lora', 'embedding'];
const rows = [rowBare, rowLora, rowEmb];
const side = world.resolution * SCALE;
const labelWidth = Math.max(...labels.map((l) => textWidth(l, TEXT))) + 2 * GAP;
const HEADER = GLYPH_HEIGHT + 2 * GAP; // one line of column captions at scale 1, e.g. "circle/blue"
const width = labelWidth + GALLERY.length * (side + GAP) + GAP;
const height = HEADER + rows.length * (side + GAP) + GAP;
const data = new Uint8ClampedArray(width * height * 4).fill(255);
const plot = (x: number, y: number, rgb: readonly number[]) => {
  if (x >= 0 && y >= 0 && x < width && y < height)
    data.set([rgb[0]!, rgb[1]!, rgb[2]!, 255], (y * width + x) * 4);
};
GALLERY.forEach(([shape, bg], c) => {
  const caption = `${shape}/${bg}`;
  const left = labelWidth + c * (side + GAP) + (side - textWidth(caption, 1)) / 2;
  drawText(caption, Math.round(left), GAP, 1, (x, y) => plot(x, y, [20, 20, 20]));
});
rows.forEach((images, r) => {
  const top = HEADER + r * (side + GAP);
  drawText(labels[r]!, GAP, top + (side - GLYPH_HEIGHT * TEXT) / 2, TEXT, (x, y) => plot(x, y, [20, 20, 20]));
  images.forEach((image, c) => {
    const left = labelWidth + c * (side + GAP);
    for (let y = 0; y < side; y++) {
      for (let x = 0; x < side; x++) {
        const src = (Math.floor(y / SCALE) * image.width + Math.floor(x / SCALE)) * 4;
        plot(left + x, top + y, [image.data[src]!, image.data[src + 1]!, image.data[src + 2]!]);
      }
    }
  });
});
if (values.gallery) {
  await writePng(values.gallery, { width, height, data });
  const verdicts = rows.map((images) =>
    images
      .map((im, c) => {
        const j = judgeShapeImage(im, pinkWorld.colors);
        return j.color === 'pink' && j.shape === GALLERY[c]![0]
          ? 'right'
          : `${j.color ?? 'none'} ${j.shape ?? 'none'}`;
      })
      .join(', '),
  );
  out.write(
    `gallery ${values.gallery} (${width}×${height}): "a pink <shape> on a <bg> background" for ${GALLERY.map((g) => g.join('/')).join(', ')}, seed ${GALLERY_SEED}\n`,
  );
  for (const [r, l] of labels.entries()) out.write(`  ${l}: ${verdicts[r]}\n`);
}
out.write(`Total wall time: ${((performance.now() - started) / 1000).toFixed(1)} s (including model load)\n`);

if (values.json) {
  const s = (r: AdherenceResult) => ({
    concept: conceptAccuracy(r.cases),
    all: summarizeAdherence(r.cases).all,
    splits: r.splits,
    seconds: r.seconds,
  });
  writeFileSync(
    values.json,
    `${JSON.stringify(
      {
        settings: { steps, guidance, guidanceFrom: guidanceSource, seeds },
        pink: { bare: s(pinkBare), lora: s(pinkLora), tokenBare: s(tokenBare), embedding: s(tokenEmb) },
        base: { loraScale0: s(baseLora0), loraScale1: s(baseLora1) },
      },
      null,
      2,
    )}\n`,
  );
}
