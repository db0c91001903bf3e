import { StableDiffusionPipeline, type Tensor } from '@latentkit/core';
import { afterAll, describe, expect, it } from 'vitest';
import { loadOnnxPipeline } from './load-onnx-pipeline.js';
import {
  CountingSessionFactory,
  copyShippedModel,
  editJson,
  folderSource,
} from './test-support/model-copy.js';

const model = copyShippedModel();
afterAll(() => model.remove());

describe('loadOnnxPipeline on the shipped model (real onnxruntime-node)', () => {
  it('(a red circle:1e39) is text, as in A1111, and makes a finite image (issue 14 §2)', async () => {
    const pipe = new StableDiffusionPipeline(
      await loadOnnxPipeline(folderSource(model.dir), new CountingSessionFactory()),
    );
    try {
      const { images } = await pipe.generate({
        prompt: '(a red circle:1e39)',
        numInferenceSteps: 2,
        seed: 1,
        outputType: 'tensor',
      });
      const data = (images as Tensor).data;
      expect(data.length).toBe(3 * 32 * 32);
      expect(data.every(Number.isFinite)).toBe(true);
    } finally {
      await pipe.dispose();
    }
  });

  it('maxPromptChunks raises the chunk limit: 40 BREAK-separated chunks run 40 text-encoder batches', async () => {
    const sessions = new CountingSessionFactory();
    const parts = await loadOnnxPipeline(folderSource(model.dir), sessions, { maxPromptChunks: 40 });
    try {
      const out = await parts.promptEncoder!.encode([`${'red BREAK '.repeat(39)}red`]);
      expect(out.encoderHiddenStates.shape).toEqual([1, 40 * 77, 64]);
      expect(sessions.runs['text_encoder']).toBe(40);
    } finally {
      await parts.dispose();
    }
  });

  it('config values at the edges of their ranges load (sample_size 1024, scaling_factor 0.001)', async () => {
    const edge = copyShippedModel();
    try {
      editJson(edge.dir, 'unet/config.json', { sample_size: 1024 });
      for (const vae of ['vae_decoder/config.json', 'vae_encoder/config.json'])
        editJson(edge.dir, vae, { scaling_factor: 0.001 });
      const parts = await loadOnnxPipeline(folderSource(edge.dir), new CountingSessionFactory());
      expect(parts.denoiser.sampleSize).toBe(1024);
      expect((parts.codec as unknown as { scalingFactor: number }).scalingFactor).toBe(0.001);
      await parts.dispose();
    } finally {
      edge.remove();
    }
  });
});
