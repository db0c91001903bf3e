import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { FileModelSource, NodeSessionFactory } from '@latentkit/backend-node';
import {
  findLoraTargets,
  type InitializerOverride,
  type LoraGraph,
  loraDelta,
  mergeDeltas,
  parseSafetensors,
  readLoraFile,
  readOnnxGraph,
  readOnnxWeights,
  type ScaledDelta,
} from '@latentkit/onnx';
import { afterAll, describe, expect, it } from 'vitest';

// LoRA files → targets → deltas → merge → initializer overrides → a real onnxruntime-node session, against
// torch's outputs of the same modules with the LoRAs merged into their weights
// (tools/fixtures/make_lora_fixture.py; tests/fixtures/lora/README.md).

const dir = fileURLToPath(new URL('./fixtures/lora/', import.meta.url));
interface Stored {
  shape: number[];
  data: number[];
}
const reference = JSON.parse(readFileSync(`${dir}reference.json`, 'utf8')) as {
  inputs: Record<'sample' | 'timestep' | 'encoder_hidden_states' | 'input_ids', Stored>;
  cases: Record<string, { file: string; scale: number }[]>;
  outputs: Record<string, Record<'unet' | 'unet_fp16' | 'text_encoder', Stored>>;
};
const source = new FileModelSource(dir);
const factory = new NodeSessionFactory();
afterAll(() => factory.releaseAll());

const TOLERANCE = 1e-4;

/** Max |a − b|. */
function maxError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}

async function graphOf(modelPath: string): Promise<LoraGraph> {
  return { graph: readOnnxGraph(await source.readBytes(modelPath), modelPath), modelPath };
}

/** The overrides of each component for a list of (LoRA file, scale), computed with the LoRA API. */
async function overridesFor(
  adapters: readonly { file: string; scale: number }[],
  models: { unet: string; text_encoder: string },
): Promise<Record<'unet' | 'text_encoder', Map<string, InitializerOverride>>> {
  const graphs = { unet: await graphOf(models.unet), text_encoder: await graphOf(models.text_encoder) };
  const perComponent = {
    unet: new Map<string, ScaledDelta[]>(),
    text_encoder: new Map<string, ScaledDelta[]>(),
  };
  for (const { file, scale } of adapters) {
    const lora = readLoraFile(parseSafetensors(readFileSync(`${dir}${file}`), file), file);
    const { matched, unmatched } = findLoraTargets(lora.layers, graphs, file);
    expect(unmatched).toEqual([]);
    expect(matched.length).toBe(lora.layers.length);
    for (const { layer, target } of matched) {
      const component = layer.component as 'unet' | 'text_encoder';
      const list = perComponent[component].get(target.initializer) ?? [];
      list.push({ delta: loraDelta(layer, target), scale });
      perComponent[component].set(target.initializer, list);
    }
  }
  const result = {
    unet: new Map<string, InitializerOverride>(),
    text_encoder: new Map<string, InitializerOverride>(),
  };
  for (const component of ['unet', 'text_encoder'] as const) {
    const wanted = perComponent[component];
    const weights = await readOnnxWeights(source, models[component], (name) => wanted.has(name));
    expect(weights.length).toBe(wanted.size);
    for (const w of weights) {
      result[component].set(w.name, { dims: w.dims, data: mergeDeltas(w.data, wanted.get(w.name)!, w.name) });
    }
  }
  return result;
}

function stored(s: Stored): Float32Array {
  return Float32Array.from(s.data);
}

async function runUnet(
  modelPath: string,
  overrides: Map<string, InitializerOverride>,
): Promise<Float32Array> {
  const session = await factory.create({ component: 'unet', modelPath, source, overrides });
  const i = reference.inputs;
  const out = await session.run({
    sample: factory.createTensor({ type: 'float32', data: stored(i.sample) }, i.sample.shape),
    timestep: factory.createTensor({ type: 'float32', data: stored(i.timestep) }, i.timestep.shape),
    encoder_hidden_states: factory.createTensor(
      { type: 'float32', data: stored(i.encoder_hidden_states) },
      i.encoder_hidden_states.shape,
    ),
  });
  await session.release();
  return out['out_sample']!.data as Float32Array;
}

async function runTextEncoder(
  modelPath: string,
  overrides: Map<string, InitializerOverride>,
): Promise<Float32Array> {
  const session = await factory.create({ component: 'text_encoder', modelPath, source, overrides });
  const ids = reference.inputs.input_ids;
  const out = await session.run({
    input_ids: factory.createTensor(
      { type: 'int64', data: BigInt64Array.from(ids.data.map((v) => BigInt(v))) },
      ids.shape,
    ),
  });
  await session.release();
  return out['last_hidden_state']!.data as Float32Array;
}

const errors: Record<string, number> = {};
afterAll(() => {
  // the measured figures, for the report and the fixture README
  console.log(`LoRA numerics, max |onnxruntime − torch| per case: ${JSON.stringify(errors)}`);
});

describe('LoRA numerics: merged by latentkit in ONNX = merged in torch', () => {
  for (const [textEncoder, label] of [
    ['text_encoder.onnx', 'folded export (onnx::MatMul_N [in, out] found by node name)'],
    ['text_encoder_unfolded.onnx', 'unfolded export (named weight through Transpose → MatMul)'],
  ] as const) {
    for (const [name, adapters] of Object.entries(reference.cases)) {
      it(`${name} — text encoder: ${label}`, async () => {
        const models = { unet: 'unet.onnx', text_encoder: textEncoder };
        const overrides = await overridesFor(adapters, models);
        const expected = reference.outputs[name]!;
        const te = await runTextEncoder(textEncoder, overrides.text_encoder);
        const teError = maxError(te, expected.text_encoder.data);
        errors[`${name} ${textEncoder}`] = teError;
        expect(teError).toBeLessThanOrEqual(TOLERANCE);
        if (textEncoder === 'text_encoder.onnx') {
          const unet = await runUnet('unet.onnx', overrides.unet);
          const unetError = maxError(unet, expected.unet.data);
          errors[`${name} unet.onnx`] = unetError;
          expect(unetError).toBeLessThanOrEqual(TOLERANCE);
        }
      });
    }
  }

  for (const [name, adapters] of Object.entries(reference.cases)) {
    it(`${name} — float16 UNet (weights read through Cast, merges written back as float16)`, async () => {
      const overrides = await overridesFor(adapters, {
        unet: 'unet_fp16.onnx',
        text_encoder: 'text_encoder.onnx',
      });
      const unet = await runUnet('unet_fp16.onnx', overrides.unet);
      const error = maxError(unet, reference.outputs[name]!.unet_fp16.data);
      errors[`${name} unet_fp16.onnx`] = error;
      expect(error).toBeLessThanOrEqual(TOLERANCE);
    });
  }

  it('the LoRAs change the outputs far beyond the tolerance (the comparison can fail)', () => {
    const base = reference.outputs['base']!;
    for (const name of Object.keys(reference.cases).filter((n) => n !== 'base')) {
      const o = reference.outputs[name]!;
      expect(maxError(o.unet.data, base.unet.data)).toBeGreaterThan(100 * TOLERANCE);
      expect(maxError(o.text_encoder.data, base.text_encoder.data)).toBeGreaterThan(100 * TOLERANCE);
    }
    // two scales of one LoRA differ too
    expect(
      maxError(reference.outputs['kohya@1']!.unet.data, reference.outputs['kohya@0.5']!.unet.data),
    ).toBeGreaterThan(100 * TOLERANCE);
  });

  it('a scale of 0 gives the model without the LoRA', async () => {
    const overrides = await overridesFor([{ file: 'kohya.safetensors', scale: 0 }], {
      unet: 'unet.onnx',
      text_encoder: 'text_encoder.onnx',
    });
    const unet = await runUnet('unet.onnx', overrides.unet);
    expect(maxError(unet, reference.outputs['base']!.unet.data)).toBeLessThanOrEqual(TOLERANCE);
  });
});
