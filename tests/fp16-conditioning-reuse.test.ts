/**
 * The float16 conversion of the text embeddings is made once and reused across UNet calls
 * (packages/onnx ort-io.ts `reusedFloatFeed`), on real onnxruntime-node and the float16 fixture UNet
 * (tests/fixtures/models/sd1-fp16): reusing it changes no output, and embeddings changed in place between
 * calls are converted afresh (the UNet sees the new values, never the stale conversion).
 */
import { join } from 'node:path';
import { FileModelSource, NodeSessionFactory } from '@latentkit/backend-node';
import { type LoadedPipelineParts, Tensor, TorchGenerator } from '@latentkit/core';
import { loadOnnxPipeline } from '@latentkit/onnx';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const DIR = join(import.meta.dirname, 'fixtures', 'models', 'sd1-fp16');

let parts: LoadedPipelineParts;
beforeAll(async () => {
  parts = await loadOnnxPipeline(new FileModelSource(DIR), new NodeSessionFactory());
});
afterAll(async () => {
  await parts?.dispose?.();
});

const bits = (t: Tensor) => Array.from(new Uint32Array(t.data.buffer, t.data.byteOffset, t.size));

describe('float16 UNet: text embeddings converted once, reused while unchanged', () => {
  it('the same embeddings object on every call gives the outputs of fresh copies; in-place changes are seen', async () => {
    const cond = await parts.promptEncoder!.encode(['a photo of a cat', 'a red circle']);
    const hidden = cond.encoderHiddenStates;
    const sample = new TorchGenerator(3).randn([2, 4, 8, 8]);
    const predict = (encoderHiddenStates: Tensor, timestep: number) =>
      parts.denoiser.predict({ sample, timestep, conditioning: { encoderHiddenStates } });
    const copy = (t: Tensor) => new Tensor(Float32Array.from(t.data), t.shape);

    // Three calls with the one tensor (the second and third reuse the conversion) = calls with fresh copies.
    for (const t of [999, 500, 1]) {
      expect(bits(await predict(hidden, t)), `t=${t}`).toEqual(bits(await predict(copy(hidden), t)));
    }

    // Change the embeddings in place: the next call must see the new values.
    const before = bits(await predict(hidden, 500));
    for (let i = 0; i < hidden.size; i++) hidden.data[i] = -hidden.data[i]! * 0.5;
    const after = await predict(hidden, 500);
    expect(bits(after)).toEqual(bits(await predict(copy(hidden), 500)));
    expect(bits(after)).not.toEqual(before);
  });
});
