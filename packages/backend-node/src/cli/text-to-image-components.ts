import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { OnnxComponentName } from '@latentkit/onnx';

/** An SD 1.x/2.x model's components for text-to-image: no VAE encoder (it never encodes an image). */
const SD_TEXT_TO_IMAGE: readonly OnnxComponentName[] = ['text_encoder', 'unet', 'vae_decoder'];

/** A `model_index.json` entry that names a component (`[library, class]`, not `[null, null]`). */
function names(entry: unknown): boolean {
  return Array.isArray(entry) && typeof entry[0] === 'string' && typeof entry[1] === 'string';
}

/**
 * The components a text-to-image run loads from a model folder: everything but the VAE encoder, which
 * only img2img and the hires fix use. An SDXL folder (model_index.json naming an SDXL pipeline, or a
 * `text_encoder_2`) needs `text_encoder_2` too, and `text_encoder` only when it has one (a refiner has
 * none). Read from the folder's `model_index.json`; a folder without a readable one gets the SD 1.x
 * list (the loader then says what is wrong with the folder). For a hub id (not a folder here) the answer
 * is undefined: all the model has, as the hub download decides once it has read the repo's
 * `model_index.json` (the VAE encoder is then loaded when the repo has one).
 */
export async function textToImageComponents(dir: string): Promise<readonly OnnxComponentName[] | undefined> {
  const isFolder = await stat(dir).then(
    (s) => s.isDirectory(),
    () => false,
  );
  if (!isFolder) return undefined;
  let index: Record<string, unknown>;
  try {
    index = JSON.parse(await readFile(join(dir, 'model_index.json'), 'utf8')) as Record<string, unknown>;
  } catch {
    return SD_TEXT_TO_IMAGE;
  }
  const className = typeof index['_class_name'] === 'string' ? index['_class_name'] : '';
  const sdxl = /StableDiffusionXL/.test(className) || names(index['text_encoder_2']);
  if (!sdxl) return SD_TEXT_TO_IMAGE;
  return [
    ...(names(index['text_encoder']) ? (['text_encoder'] as const) : []),
    'text_encoder_2',
    'unet',
    'vae_decoder',
  ];
}
