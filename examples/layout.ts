/**
 * Layout-to-image with GLIGEN: put each object in its box. A prompt describes the whole image, and a
 * layout — `{ phrase, box }` objects, boxes as `[x0, y0, x1, y1]` fractions of width and height, origin
 * top left — says what goes where. `StableDiffusionGLIGENPipeline` (diffusers' pipeline of the same name)
 * encodes each phrase to the text encoder's pooled embedding and gives boxes and embeddings to the UNet's
 * gated self-attention layers for the first β of the steps.
 *
 *   npx tsx examples/layout.ts [OUT_DIR]
 *
 * Writes OUT_DIR/layout.png and layout-swapped.png: the same two objects with their boxes swapped (default
 * examples/out/, or $LATENTKIT_EXAMPLES_OUT), and prints what the shapes world's judge sees in each box.
 * The model is the shapes world's grounded model (`@latentkit/model-shapes`); set LATENTKIT_LAYOUT_MODEL
 * to use another grounded folder (e.g. an export of masterful/gligen-1-4-generation-text-box, see
 * docs/layout-to-image.md — and adapt the phrases).
 * Guide: docs/layout-to-image.md.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { nodeBackend, writePng } from '@latentkit/backend-node';
import { type LayoutObject, StableDiffusionGLIGENPipeline } from '@latentkit/core';
import {
  judgeLayout,
  parseShapesWorld,
  shapesLayoutDefaults,
  shapesLayoutModelPath,
  shapesModelPath,
} from '@latentkit/model-shapes';

const outDir =
  process.argv[2] ?? process.env.LATENTKIT_EXAMPLES_OUT ?? fileURLToPath(new URL('./out/', import.meta.url));
const modelDir = process.env.LATENTKIT_LAYOUT_MODEL ?? shapesLayoutModelPath;

// The shapes world's colour table, for the judge.
const world = parseShapesWorld(JSON.parse(await readFile(join(shapesModelPath, 'heldout.json'), 'utf8')));
const pipe = await StableDiffusionGLIGENPipeline.fromPretrained(modelDir, { backend: nodeBackend });
try {
  await mkdir(outDir, { recursive: true });
  const prompt = 'on a white background';
  const layout: LayoutObject[] = [
    { phrase: 'a red circle', box: [0.06, 0.06, 0.44, 0.44] },
    { phrase: 'a blue square', box: [0.56, 0.56, 0.94, 0.94] },
  ];
  // The same objects, each in the other's box.
  const swapped: LayoutObject[] = [
    { phrase: 'a red circle', box: layout[1]!.box },
    { phrase: 'a blue square', box: layout[0]!.box },
  ];

  for (const [name, objects] of [
    ['layout', layout],
    ['layout-swapped', swapped],
  ] as const) {
    // The model card's settings (steps, guidance, gligenScheduledSamplingBeta), and a fixed seed.
    const { images, parameters } = await pipe.generate({
      prompt,
      layout: objects,
      ...shapesLayoutDefaults,
      seed: 3,
    });
    const file = join(outDir, `${name}.png`);
    await writePng(file, images[0]!, { parameters });
    // The judge reads each box's expected colour and shape from its phrase, the background from the prompt.
    const verdict = judgeLayout(images[0]!, { prompt, objects }, { colors: world.colors });
    const seen = verdict.objects.map((o) => `${o.color ?? '?'} ${o.shape ?? '?'}${o.right ? ' ✓' : ' ✗'}`);
    console.log(`layout: ${name}: ${seen.join(', ')}; clean outside the boxes: ${verdict.clean} → ${file}`);
  }
} finally {
  await pipe.dispose();
}
