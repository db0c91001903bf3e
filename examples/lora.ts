/**
 * LoRA adapters on a loaded model, as diffusers' `load_lora_weights` / `set_adapters` /
 * `unload_lora_weights`: load a LoRA file, generate with it, set its weight for one call with A1111's
 * `<lora:name:weight>` prompt tag, and unload it to get the model's own image back.
 *
 *   npx tsx examples/lora.ts [OUT_DIR]
 *
 * Writes OUT_DIR/lora-off.png, lora-on.png, lora-half.png and lora-unloaded.png (default examples/out/, or
 * $LATENTKIT_EXAMPLES_OUT). The LoRA is a small random adapter made for the shipped shapes model
 * (tests/fixtures/lora-shapes/red.safetensors, from tools/fixtures/make_shapes_lora.py): it teaches nothing,
 * it only changes the picture. Set LATENTKIT_LORA to another .safetensors LoRA (kohya/A1111 or
 * diffusers/PEFT) and LATENTKIT_MODEL to the model it was trained for to run it on yours.
 * Guide: docs/lora-and-embeddings.md.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { nodeBackend, writePng } from '@latentkit/backend-node';
import { StableDiffusionPipeline } from '@latentkit/core';
import { shapesModelPath } from '@latentkit/model-shapes';

const outDir =
  process.argv[2] ?? process.env.LATENTKIT_EXAMPLES_OUT ?? fileURLToPath(new URL('./out/', import.meta.url));
const modelDir = process.env.LATENTKIT_MODEL ?? shapesModelPath;
const loraFile =
  process.env.LATENTKIT_LORA ??
  fileURLToPath(new URL('../tests/fixtures/lora-shapes/red.safetensors', import.meta.url));

const pipe = await StableDiffusionPipeline.fromPretrained(modelDir, { backend: nodeBackend });

try {
  await mkdir(outDir, { recursive: true });
  const prompt = 'a blue square on a white background';
  const settings = { numInferenceSteps: 20, guidanceScale: 5, seed: 1 };
  const save = async (name: string, text: string) => {
    const { images, parameters } = await pipe.generate({ ...settings, prompt: text });
    const file = join(outDir, `${name}.png`);
    // the PNG's parameters keep the prompt as written, <lora:…> tags included (as A1111 writes them)
    await writePng(file, images[0]!, { parameters, model: 'shapes' });
    console.log(
      `lora: ${name}.png ← "${text}" (${pipe.loras.map((l) => `${l.name} ×${l.scale}`).join(', ') || 'no LoRA'})`,
    );
  };

  await save('lora-off', prompt);

  // The adapter's name is the file name without its extension; scale 1 = as trained.
  const info = await pipe.loadLoraWeights(loraFile, { scale: 1 });
  console.log(
    `lora: loaded ${info.name} (${info.format} format), changing ${Object.entries(info.targets)
      .map(([component, n]) => `${n} weight${n === 1 ? '' : 's'} of the ${component}`)
      .join(' and ')}`,
  );
  await save('lora-on', prompt);

  // A1111's prompt tag: weight 0.5 for this call only (the tag is not sent to the text encoder).
  await save('lora-half', `${prompt} <lora:${info.name}:0.5>`);

  // Back to the model's own weights: exactly lora-off.png.
  await pipe.unloadLoraWeights();
  await save('lora-unloaded', prompt);
} finally {
  await pipe.dispose();
}
