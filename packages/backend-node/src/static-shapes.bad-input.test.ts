/**
 * staticShapes: bad options are refused at load (before any session), and a generate() whose size or batch
 * differs from the static shape is a ShapeMismatchError naming both, not an onnxruntime error.
 */
import { fileURLToPath } from 'node:url';
import { InvalidArgumentError, ShapeMismatchError, StableDiffusionPipeline } from '@latentkit/core';
import { describe, expect, it } from 'vitest';
import { type NodeBackendOptions, nodeBackend } from './node-backend.js';

const sd1 = fileURLToPath(new URL('../../../tests/fixtures/models/sd1', import.meta.url));

describe('staticShapes: bad input', () => {
  it.each([
    ['not an object', 512, /^staticShapes = 512 is invalid: expected an object/],
    [
      'width missing',
      { height: 64 },
      /^staticShapes\.width = undefined is invalid: expected a positive multiple of 8/,
    ],
    ['height not a multiple of 8', { width: 64, height: 60 }, /^staticShapes\.height = 60 is invalid/],
    [
      'batchSize 0',
      { width: 64, height: 64, batchSize: 0 },
      /^staticShapes\.batchSize = 0 is invalid: expected an integer ≥ 1/,
    ],
    [
      'unknown key',
      { width: 64, height: 64, batch: 2 },
      /^staticShapes\.batch = 2 is invalid: expected one of the keys/,
    ],
    [
      'guidance not boolean',
      { width: 64, height: 64, classifierFreeGuidance: 'yes' },
      /^staticShapes\.classifierFreeGuidance = "yes" is invalid/,
    ],
  ])('%s', async (_, staticShapes, message) => {
    const load = nodeBackend.load(sd1, { staticShapes } as unknown as NodeBackendOptions);
    await expect(load).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(load).rejects.toThrow(message);
  });

  it.each([
    [
      'another size',
      { width: 32, height: 32 },
      /unet input sample = \[2, 4, 4, 4\] .*expected \[2, 4, 8, 8\]: the model was loaded with staticShapes \{ width: 64, height: 64, batchSize: 1, numImagesPerPrompt: 1 \}/,
    ],
    [
      'another batch',
      { numImagesPerPrompt: 2 },
      /unet input sample = \[4, 4, 8, 8\] .*expected \[2, 4, 8, 8\]/,
    ],
    [
      'no guidance (batch not doubled)',
      { guidanceScale: 1 },
      /unet input sample = \[1, 4, 8, 8\] .*expected \[2, 4, 8, 8\]/,
    ],
  ])('generate with %s → ShapeMismatchError naming both shapes', async (_, options, message) => {
    const pipe = await StableDiffusionPipeline.fromPretrained(sd1, {
      backend: nodeBackend,
      staticShapes: { width: 64, height: 64 },
    } as NodeBackendOptions & { backend: typeof nodeBackend });
    try {
      const run = pipe.generate({
        prompt: 'a cat',
        seed: 1,
        numInferenceSteps: 2,
        width: 64,
        height: 64,
        ...options,
      });
      await expect(run).rejects.toBeInstanceOf(ShapeMismatchError);
      await expect(run).rejects.toThrow(message);
    } finally {
      await pipe.dispose();
    }
  });
});
