import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { shapesModelPath } from '@latentkit/model-shapes';

/** The shipped model is trained and exported by tools/shapes-model; fail clearly while it is missing. */
export async function requireShippedModel(): Promise<string> {
  try {
    await access(join(shapesModelPath, 'model_index.json'));
  } catch {
    throw new ShippedModelMissingError();
  }
  return shapesModelPath;
}

/** The default model folder has no model in it (it is built by tools/shapes-model). Exit code 1. */
export class ShippedModelMissingError extends Error {
  constructor() {
    super(
      `the shipped model is not built yet (${shapesModelPath} has no model_index.json). Fix: build it with tools/shapes-model (see its README), or pass --model DIR with a diffusers ONNX export.`,
    );
    this.name = 'ShippedModelMissingError';
  }
}
