/**
 * The grounded-UNet ONNX convention on the tiny random-weight fixture tests/fixtures/models/sd-gligen-tiny
 * (tools/shapes-layout/make_fixture.py): onnxruntime-node against torch's outputs in its expected.json, with
 * the gate on (≤ 1e-4) and off (= the plain UNet without the gated layers), directly on the graph and
 * through loadOnnxPipeline → UnetDenoiser; and the loaded folder in the pipelines.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { nodeBackend } from '@latentkit/backend-node';
import {
  ModelMismatchError,
  StableDiffusionGLIGENPipeline,
  StableDiffusionPipeline,
  Tensor,
} from '@latentkit/core';
import { loadOnnxPipeline } from '@latentkit/onnx';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CountingSessionFactory, folderSource } from '../packages/onnx/src/test-support/model-copy.js';

const folder = fileURLToPath(new URL('./fixtures/models/sd-gligen-tiny', import.meta.url));

type Wave = { wave: { shape: number[]; phase: number; scale: number } };
type Values = { dims: number[]; data: number[] };
interface FixtureCase {
  name: string;
  inputs: Record<
    | 'sample'
    | 'encoder_hidden_states'
    | 'timestep'
    | 'gligen_boxes'
    | 'gligen_positive_embeddings'
    | 'gligen_masks',
    Wave | Values
  >;
  outputs: Record<'gate_on' | 'gate_off' | 'plain', Values>;
}
const expected = JSON.parse(readFileSync(`${folder}/expected.json`, 'utf8')) as {
  max_objects: number;
  embedding_dim: number;
  cases: FixtureCase[];
};

/** An input as expected.json gives it: `Math.fround(sin(0.37·i + phase) · scale)` or the values. */
function tensor(spec: Wave | Values): Tensor {
  if ('wave' in spec) {
    const { shape, phase, scale } = spec.wave;
    const n = shape.reduce((a, b) => a * b, 1);
    return new Tensor(
      Float32Array.from({ length: n }, (_, i) => Math.fround(Math.sin(0.37 * i + phase) * scale)),
      shape,
    );
  }
  return new Tensor(Float32Array.from(spec.data), spec.dims);
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

const TOLERANCE = 1e-4;

describe('sd-gligen-tiny: the grounded UNet graph on onnxruntime-node vs torch', () => {
  let session: ort.InferenceSession;
  beforeAll(async () => {
    session = await ort.InferenceSession.create(`${folder}/unet/model.onnx`);
  });
  afterAll(async () => {
    await session.release();
  });

  it('has the convention’s inputs: gligen_boxes [B,30,4], gligen_positive_embeddings [B,30,32], gligen_masks [B,30], gligen_enabled []', () => {
    const shapes = Object.fromEntries(
      session.inputMetadata.map((m) => [m.name, m.isTensor ? [m.type, m.shape] : undefined]),
    );
    expect(shapes['gligen_boxes']).toEqual(['float32', ['batch', 30, 4]]);
    expect(shapes['gligen_positive_embeddings']).toEqual(['float32', ['batch', 30, 32]]);
    expect(shapes['gligen_masks']).toEqual(['float32', ['batch', 30]]);
    expect(shapes['gligen_enabled']).toEqual(['float32', []]);
  });

  for (const c of expected.cases) {
    it(`${c.name}: gate on ≤ 1e-4 of torch; gate off = torch's plain UNet`, async () => {
      const feed = (name: keyof FixtureCase['inputs']) => {
        const t = tensor(c.inputs[name]);
        return new ort.Tensor('float32', t.data, t.shape);
      };
      const feeds = {
        sample: feed('sample'),
        timestep: feed('timestep'),
        encoder_hidden_states: feed('encoder_hidden_states'),
        gligen_boxes: feed('gligen_boxes'),
        gligen_positive_embeddings: feed('gligen_positive_embeddings'),
        gligen_masks: feed('gligen_masks'),
      };
      const run = async (gate: number) =>
        (
          await session.run({
            ...feeds,
            gligen_enabled: new ort.Tensor('float32', Float32Array.of(gate), []),
          })
        )['out_sample']!.data as Float32Array;
      const on = await run(1);
      const off = await run(0);
      expect(maxAbsDiff(on, c.outputs.gate_on.data)).toBeLessThanOrEqual(TOLERANCE);
      expect(maxAbsDiff(off, c.outputs.gate_off.data)).toBeLessThanOrEqual(TOLERANCE);
      expect(maxAbsDiff(off, c.outputs.plain.data)).toBeLessThanOrEqual(TOLERANCE);
      // the gate matters: on and off differ by far more than the tolerance
      expect(maxAbsDiff(on, off)).toBeGreaterThan(0.05);
    });
  }
});

describe('sd-gligen-tiny through loadOnnxPipeline and UnetDenoiser', () => {
  let parts: Awaited<ReturnType<typeof loadOnnxPipeline>>;
  beforeAll(async () => {
    parts = await loadOnnxPipeline(folderSource(folder), new CountingSessionFactory());
  });
  afterAll(async () => {
    await parts.dispose();
  });

  it('the denoiser is grounded: { maxObjects 30, embeddingDim 32 } (= the text encoder’s pooled width)', async () => {
    expect(parts.denoiser.grounding).toEqual({
      maxObjects: expected.max_objects,
      embeddingDim: expected.embedding_dim,
    });
    const pooled = await parts.promptEncoder!.encodePooled!(['a red circle', 'a blue square']);
    expect(pooled.shape).toEqual([2, expected.embedding_dim]);
  });

  for (const c of expected.cases) {
    it(`${c.name}: predict with gligen enabled ≤ 1e-4 of torch; disabled and without gligen = the plain UNet`, async () => {
      const timestep = tensor(c.inputs.timestep).data[0]!;
      const base = {
        sample: tensor(c.inputs.sample),
        timestep,
        conditioning: { encoderHiddenStates: tensor(c.inputs.encoder_hidden_states) },
      };
      const gligen = {
        boxes: tensor(c.inputs.gligen_boxes),
        positiveEmbeddings: tensor(c.inputs.gligen_positive_embeddings),
        masks: tensor(c.inputs.gligen_masks),
      };
      const on = await parts.denoiser.predict({ ...base, gligen: { ...gligen, enabled: true } });
      const off = await parts.denoiser.predict({ ...base, gligen: { ...gligen, enabled: false } });
      const none = await parts.denoiser.predict(base);
      expect(on.shape).toEqual(c.outputs.gate_on.dims);
      expect(maxAbsDiff(on.data, c.outputs.gate_on.data)).toBeLessThanOrEqual(TOLERANCE);
      expect(maxAbsDiff(off.data, c.outputs.plain.data)).toBeLessThanOrEqual(TOLERANCE);
      expect(maxAbsDiff(none.data, c.outputs.plain.data)).toBeLessThanOrEqual(TOLERANCE);
    });
  }
});

describe('sd-gligen-tiny in the pipelines', () => {
  const layout = [
    { phrase: 'a red circle', box: [0.05, 0.05, 0.45, 0.45] as [number, number, number, number] },
    { phrase: 'a blue square', box: [0.55, 0.55, 0.95, 0.95] as [number, number, number, number] },
  ];
  const common = { prompt: 'a photo', numInferenceSteps: 3, seed: 7, width: 64, height: 64 } as const;

  it('StableDiffusionPipeline runs it as the plain model: the same as GLIGEN with beta 0 (never grounded)', async () => {
    const plain = await StableDiffusionPipeline.fromPretrained(folder, { backend: nodeBackend });
    const gligen = await StableDiffusionGLIGENPipeline.fromPretrained(folder, { backend: nodeBackend });
    try {
      const a = (await plain.generate({ ...common, outputType: 'latent' })).images;
      const b = (
        await gligen.generate({ ...common, layout, gligenScheduledSamplingBeta: 0, outputType: 'latent' })
      ).images;
      const c = (
        await gligen.generate({ ...common, layout, gligenScheduledSamplingBeta: 1, outputType: 'latent' })
      ).images;
      expect(a.data.every(Number.isFinite)).toBe(true);
      expect(maxAbsDiff(a.data, b.data)).toBeLessThanOrEqual(1e-6);
      // grounded on every call, the latents move away from the plain model's
      expect(maxAbsDiff(a.data, c.data)).toBeGreaterThan(1e-3);
    } finally {
      await plain.dispose();
      await gligen.dispose();
    }
  });

  it('StableDiffusionGLIGENPipeline refuses the plain sd1 fixture at load (no gligen_* inputs)', async () => {
    const sd1 = fileURLToPath(new URL('./fixtures/models/sd1', import.meta.url));
    await expect(StableDiffusionGLIGENPipeline.fromPretrained(sd1, { backend: nodeBackend })).rejects.toThrow(
      ModelMismatchError,
    );
  });
});
