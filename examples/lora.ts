/**
 * LoRA adapters and a textual-inversion embedding on a loaded model, as diffusers' `load_lora_weights` /
 * `set_adapters` / `unload_lora_weights` / `load_textual_inversion`. The shipped shapes model knows eight
 * colours, not pink; the LoRA and the embedding shipped beside it (`shapesAdaptersPath` of
 * `@latentkit/model-shapes`, trained by tools/shapes-adapters/) each teach it pink.
 *
 *   npx tsx examples/lora.ts [OUT_DIR]
 *
 * Writes to OUT_DIR (default examples/out/, or $LATENTKIT_EXAMPLES_OUT), all "a pink circle on a white
 * background", seed 1:
 * - lora-off.png: the model alone (it has no word for pink);
 * - lora-on.png: with the pink LoRA at scale 1;
 * - lora-tag.png: the LoRA loaded at scale 0, and `<lora:pink:1>` in the prompt for this one call — the same
 *   image as lora-on.png;
 * - lora-unloaded.png: after unloadLoraWeights(), the model's own image again (= lora-off.png);
 * - lora-embedding.png: no LoRA, the embedding's token: "a <pink> circle on a white background".
 * Guide: docs/lora-and-embeddings.md.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { nodeBackend, writePng } from '@latentkit/backend-node';
import { StableDiffusionPipeline } from '@latentkit/core';
import { shapesAdaptersPath, shapesModelPath } from '@latentkit/model-shapes';

const outDir =
  process.argv[2] ?? process.env.LATENTKIT_EXAMPLES_OUT ?? fileURLToPath(new URL('./out/', import.meta.url));

const pipe = await StableDiffusionPipeline.fromPretrained(shapesModelPath, { backend: nodeBackend });

try {
  await mkdir(outDir, { recursive: true });
  const prompt = 'a pink circle on a white background';
  const save = async (name: string, text: string) => {
    const { images, parameters } = await pipe.generate({
      prompt: text,
      numInferenceSteps: 20,
      guidanceScale: 5,
      seed: 1,
    });
    const file = join(outDir, `${name}.png`);
    // the PNG's parameters keep the prompt as written, <lora:…> tags included (as A1111 writes them)
    await writePng(file, images[0]!, { parameters, model: 'shapes' });
    const loras = pipe.loras.map((l) => `${l.name} ×${l.scale}`).join(', ') || 'no LoRA';
    console.log(`lora: ${name}.png ← "${text}" (${loras})`);
  };

  await save('lora-off', prompt);

  // A kohya-format LoRA; named "pink" here (by default the name is the file name: "pink-lora").
  const info = await pipe.loadLoraWeights(join(shapesAdaptersPath, 'pink-lora.safetensors'), {
    adapterName: 'pink',
    scale: 1,
  });
  const targets = Object.entries(info.targets).map(([component, n]) => `${n} weights of the ${component}`);
  console.log(`lora: loaded ${info.name} (${info.format} format), changing ${targets.join(' and ')}`);
  await save('lora-on', prompt);

  // Off by default, on for one call with A1111's prompt tag (the tag is not sent to the text encoder).
  await pipe.setAdapters('pink', 0);
  await save('lora-tag', `${prompt} <lora:pink:1>`);

  // Back to the model's own weights: exactly lora-off.png.
  await pipe.unloadLoraWeights();
  await save('lora-unloaded', prompt);

  // The embedding adds the token <pink> to the vocabulary (diffusers' learned_embeds format).
  const embedding = await pipe.loadTextualInversion(join(shapesAdaptersPath, 'pink-embedding.safetensors'));
  console.log(`lora: loaded the embedding ${embedding.token} (${embedding.format} format)`);
  await save('lora-embedding', 'a <pink> circle on a white background');
} finally {
  await pipe.dispose();
}
