import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { shapesLayoutModelPath, shapesModelPath } from '@latentkit/model-shapes';

/** The shipped model is trained and exported by tools/shapes-model; fail clearly while it is missing. */
export async function requireShippedModel(): Promise<string> {
  try {
    await access(join(shapesModelPath, 'model_index.json'));
  } catch {
    throw new ShippedModelMissingError();
  }
  return shapesModelPath;
}

/**
 * The shipped layout model (`--box` without `--model`) is trained and exported by tools/shapes-layout;
 * fail clearly while it is missing.
 */
export async function requireShippedLayoutModel(): Promise<string> {
  try {
    await access(join(shapesLayoutModelPath, 'model_index.json'));
  } catch {
    throw new ShippedModelMissingError(
      `the shipped layout model is not built yet (${shapesLayoutModelPath} has no model_index.json). Fix: build it with tools/shapes-layout (see its README), or pass --model DIR with a GLIGEN export (docs/layout-to-image.md).`,
    );
  }
  return shapesLayoutModelPath;
}

/** The default model folder has no model in it (it is built by tools/shapes-model). Exit code 1. */
export class ShippedModelMissingError extends Error {
  /** @param message - What is missing and how to build it (default: the shipped text-to-image model). */
  constructor(
    message = `the shipped model is not built yet (${shapesModelPath} has no model_index.json). Fix: build it with tools/shapes-model (see its README), or pass --model DIR with a diffusers ONNX export.`,
  ) {
    super(message);
    this.name = 'ShippedModelMissingError';
  }
}
