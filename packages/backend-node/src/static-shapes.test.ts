/**
 * staticShapes on onnxruntime-node (CPU EP): the UNet and VAE decoder are created with their free
 * dimensions fixed; generations at that size and batch give the dynamic-shape pixels bit for bit up to
 * graphOptimizationLevel 'extended', on the calling thread and in the worker. At 'all' (the default) the CPU
 * EP's layout optimisations (NCHWc convolutions) choose differently once shapes are known: measured max
 * 8.3e-7 (sd1) and 3.2e-6 (shapes model) on images in [0, 1]; asserted ≤ 1e-5. The fix is real (onnxruntime
 * itself refuses another shape); another size or batch through generate() is a ShapeMismatchError.
 */
import { fileURLToPath } from 'node:url';
import { ShapeMismatchError, StableDiffusionPipeline, type Tensor } from '@latentkit/core';
import { shapesModelPath } from '@latentkit/model-shapes';
import { StaticShapeSession } from '@latentkit/onnx';
import { Tensor as OrtTensor } from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { FileModelSource } from './file-model-source.js';
import { type NodeBackendOptions, nodeBackend } from './node-backend.js';
import { NodeSessionFactory } from './node-session-factory.js';

const fixture = (name: string) =>
  fileURLToPath(new URL(`../../../tests/fixtures/models/${name}`, import.meta.url));

type GenerateOptions = Parameters<StableDiffusionPipeline['generate']>[0];

async function pixels(
  model: string,
  options: NodeBackendOptions,
  generate: GenerateOptions,
): Promise<Float32Array> {
  const pipe = await StableDiffusionPipeline.fromPretrained(model, { ...options, backend: nodeBackend });
  try {
    const { images } = await pipe.generate({ ...generate, outputType: 'tensor' });
    return (images as Tensor).data;
  } finally {
    await pipe.dispose();
  }
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}

const same = (a: Float32Array, b: Float32Array) => Buffer.from(a.buffer).equals(Buffer.from(b.buffer));

describe('staticShapes on onnxruntime-node', () => {
  it('sd1 fixture, 64×32, guidance, 2 images per prompt: bit-identical at extended (main and worker), ≤ 1e-5 at all', async () => {
    const generate: GenerateOptions = {
      prompt: 'a cat',
      negativePrompt: 'a dog',
      seed: 11,
      numInferenceSteps: 3,
      width: 64,
      height: 32,
      numImagesPerPrompt: 2,
    };
    const staticShapes = { width: 64, height: 32, numImagesPerPrompt: 2 };
    const extended = { graphOptimizationLevel: 'extended' } as const;
    const dynamic = await pixels(fixture('sd1'), extended, generate);
    const fixed = await pixels(fixture('sd1'), { ...extended, staticShapes }, generate);
    const worker = await pixels(
      fixture('sd1'),
      { ...extended, staticShapes, sessionThread: 'worker' },
      generate,
    );
    expect(dynamic.length).toBe(2 * 3 * 32 * 64);
    expect(same(fixed, dynamic)).toBe(true);
    expect(same(worker, dynamic)).toBe(true);
    // default level 'all': the layout optimiser's choices differ with known shapes, within 1e-5
    const allDynamic = await pixels(fixture('sd1'), {}, generate);
    const allFixed = await pixels(fixture('sd1'), { staticShapes }, generate);
    const diff = maxAbsDiff(allFixed, allDynamic);
    expect(diff).toBeLessThanOrEqual(1e-5);
    expect(maxAbsDiff(allDynamic, dynamic)).toBeLessThanOrEqual(1e-5);
  });

  it('shipped shapes model and sdxl-tiny without guidance (batch not doubled): bit-identical at basic', async () => {
    const shapes: GenerateOptions = { prompt: 'a red circle', seed: 5, numInferenceSteps: 4 };
    const basic = { graphOptimizationLevel: 'basic' } as const;
    const dynamic = await pixels(shapesModelPath, basic, shapes);
    const fixed = await pixels(
      shapesModelPath,
      { ...basic, staticShapes: { width: 32, height: 32 } },
      shapes,
    );
    expect(same(fixed, dynamic)).toBe(true);
    const allDynamic = await pixels(shapesModelPath, {}, shapes);
    const allFixed = await pixels(shapesModelPath, { staticShapes: { width: 32, height: 32 } }, shapes);
    expect(maxAbsDiff(allFixed, allDynamic)).toBeLessThanOrEqual(1e-5);

    const { StableDiffusionXLPipeline } = await import('@latentkit/core');
    const xl = async (options: NodeBackendOptions) => {
      const pipe = await StableDiffusionXLPipeline.fromPretrained(fixture('sdxl-tiny'), {
        ...options,
        backend: nodeBackend,
      });
      try {
        const out = await pipe.generate({
          prompt: 'a fox',
          seed: 2,
          numInferenceSteps: 2,
          guidanceScale: 1,
          width: 32,
          height: 32,
          outputType: 'tensor',
        });
        return (out.images as Tensor).data;
      } finally {
        await pipe.dispose();
      }
    };
    const xlDynamic = await xl(basic);
    const xlFixed = await xl({
      ...basic,
      staticShapes: { width: 32, height: 32, classifierFreeGuidance: false },
    });
    expect(same(xlFixed, xlDynamic)).toBe(true);
  });

  it('the shape is fixed in onnxruntime itself: the raw UNet session refuses another size', async () => {
    const factory = new NodeSessionFactory({ staticShapes: { width: 64, height: 64 } });
    const source = new FileModelSource(fixture('sd1'));
    try {
      const unet = await factory.create({ component: 'unet', modelPath: 'unet/model.onnx', source });
      expect(unet).toBeInstanceOf(StaticShapeSession);
      const inner = (unet as StaticShapeSession).session;
      const sample = inner.inputMetadata.find((m) => m.name === 'sample');
      expect(sample?.isTensor && sample.shape).toEqual([2, 4, 8, 8]);
      const feeds = (h: number) => ({
        sample: new OrtTensor('float32', new Float32Array(2 * 4 * h * h), [2, 4, h, h]),
        timestep: new OrtTensor('float32', new Float32Array([1, 1]), [2]),
        encoder_hidden_states: new OrtTensor('float32', new Float32Array(2 * 77 * 32), [2, 77, 32]),
      });
      await expect(inner.run(feeds(8))).resolves.toBeDefined();
      // onnxruntime's own check (what a user would meet without the wrapper)
      await expect(inner.run(feeds(4))).rejects.toThrow(/invalid dimensions/i);
      // through the wrapper: a typed error naming both shapes, before onnxruntime runs
      const error = await unet.run(feeds(4)).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ShapeMismatchError);
      expect((error as Error).message).toContain('[2, 4, 4, 4]');
      expect((error as Error).message).toContain('[2, 4, 8, 8]');
      // the text encoder stays dynamic
      const text = await factory.create({
        component: 'text_encoder',
        modelPath: 'text_encoder/model.onnx',
        source,
      });
      expect(text).not.toBeInstanceOf(StaticShapeSession);
    } finally {
      await factory.releaseAll();
    }
  });
});
