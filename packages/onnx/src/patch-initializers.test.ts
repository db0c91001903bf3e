import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FileModelSource, NodeSessionFactory } from '@latentkit/backend-node';
import { InferenceFailedError, Tensor } from '@latentkit/core';
import { shapesModelPath } from '@latentkit/model-shapes';
import type { InferenceSession } from 'onnxruntime-common';
import { describe, expect, it } from 'vitest';
import type { InitializerOverride, InitializerOverrides } from './initializer-overrides.js';
import { loadOnnxPipeline } from './load-onnx-pipeline.js';
import { readOnnxGraph } from './onnx-graph.js';
import { readOnnxWeights } from './onnx-initializers.js';
import { OnnxTextEncoder } from './onnx-text-encoder.js';
import { patchInitializers } from './patch-initializers.js';
import { readPatchedModel } from './read-patched-model.js';
import type { SessionRequest } from './session-factory.js';
import { UnetDenoiser } from './unet-denoiser.js';

// Real onnxruntime-node on the fixture models (tests/fixtures/models, tools/fixtures/README.md), the
// storage-form fixtures of tools/fixtures/make_initializer_storage_fixtures.py and the shipped model.
const fixtures = fileURLToPath(new URL('../../../tests/fixtures/', import.meta.url));
const models = join(fixtures, 'models');
const storage = join(fixtures, 'initializer-storage');

/** Every file of a folder → its SHA-256, to show that nothing on disk changes. */
function hashFolder(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!e.isFile()) continue;
    const path = join(e.parentPath, e.name);
    out[path] = createHash('sha256').update(readFileSync(path)).digest('hex');
  }
  return out;
}

const wave = (n: number, phase: number, scale = 1) =>
  Float32Array.from({ length: n }, (_, i) => Math.sin(0.37 * i + phase) * scale);

async function loadUnet(dir: string, factory = new NodeSessionFactory()) {
  const source = new FileModelSource(dir);
  const request: SessionRequest = { component: 'unet', modelPath: 'unet/model.onnx', source };
  const unet = new UnetDenoiser(await factory.create(request), factory, { request });
  const d = unet.crossAttentionDim!;
  const input = {
    sample: new Tensor(wave(2 * 4 * 8 * 8, 0.1), [2, 4, 8, 8]),
    timestep: 500,
    conditioning: { encoderHiddenStates: new Tensor(wave(2 * 77 * d, 0.7, 0.5), [2, 77, d]) },
  };
  return { unet, source, predict: () => unet.predict(input) };
}

async function loadTextEncoder(dir: string, modelPath: string, factory = new NodeSessionFactory()) {
  const source = new FileModelSource(dir);
  const request: SessionRequest = { component: 'text_encoder', modelPath, source };
  return new OnnxTextEncoder(await factory.create(request), factory, { request });
}

/** Initializers of a model whose names pass `test`, as overrides with their own values. */
async function own(source: FileModelSource, modelPath: string, test: (name: string) => boolean) {
  const weights = await readOnnxWeights(source, modelPath, test);
  return new Map<string, InitializerOverride>(weights.map((w) => [w.name, { dims: w.dims, data: w.data }]));
}

function mapValues(o: InitializerOverrides, f: (data: Float32Array) => Float32Array): InitializerOverrides {
  return new Map([...o].map(([name, v]) => [name, { dims: v.dims, data: f(v.data) }]));
}

const UNETS = [
  { name: 'sd1 (inline raw_data)', dir: join(models, 'sd1'), convOut: /^conv_out\./ },
  { name: 'sd1-external (model.onnx_data)', dir: join(models, 'sd1-external'), convOut: /^conv_out\./ },
  { name: 'sd1-legacy (weights.pb)', dir: join(models, 'sd1-legacy'), convOut: /^conv_out\./ },
  {
    name: 'sd1-fp16 (float16 weights)',
    dir: join(models, 'sd1-fp16'),
    convOut: /^conv_out\.(weight|bias)_fp16$/,
  },
  { name: 'the shipped shapes model', dir: shapesModelPath, convOut: /^m\.conv_out\./ },
];

describe.each(UNETS)('UNet $name: initializer overrides on onnxruntime-node', ({ dir, convOut }) => {
  it("its own values give bit-identical outputs, and the patched bytes are the file's", async () => {
    const { unet, source, predict } = await loadUnet(dir);
    const before = await predict();
    const overrides = await own(source, 'unet/model.onnx', (n) => convOut.test(n));
    expect(overrides.size).toBe(2);
    const patched = await readPatchedModel({ ...unet.request, overrides });
    const file = await readPatchedModel(unet.request);
    if (file.externalData.length === 0) {
      // inline weights of the same size are overwritten in place: the very bytes of the file
      expect(Buffer.from(patched.model).equals(Buffer.from(file.model))).toBe(true);
    } else {
      // external weights move into the model; the external file is handed over as read
      const graph = readOnnxGraph(patched.model, 'unet/model.onnx');
      for (const name of overrides.keys()) expect(graph.initializers.get(name)?.external).toBe(false);
      expect(patched.externalData.map((f) => f.path)).toEqual(file.externalData.map((f) => f.path));
    }
    await unet.setInitializerOverrides(overrides);
    expect(Array.from((await predict()).data)).toEqual(Array.from(before.data));
    await unet.release();
  });

  it('conv_out weight and bias ×2 give exactly twice the output; zeroed, exactly 0; undefined restores the file', async () => {
    const hashes = hashFolder(dir);
    const { unet, source, predict } = await loadUnet(dir);
    const before = await predict();
    const base = await own(source, 'unet/model.onnx', (n) => convOut.test(n));
    await unet.setInitializerOverrides(mapValues(base, (d) => d.map((v) => 2 * v)));
    const doubled = await predict();
    expect(doubled.data.some((v, i) => v !== before.data[i])).toBe(true);
    expect(Array.from(doubled.data)).toEqual(Array.from(before.data, (v) => 2 * v));
    await unet.setInitializerOverrides(mapValues(base, (d) => new Float32Array(d.length)));
    const zero = await predict();
    expect(zero.data.length).toBe(before.data.length);
    expect(zero.data.every((v) => v === 0)).toBe(true);
    expect(unet.initializerOverrides?.size).toBe(2);
    await unet.setInitializerOverrides(undefined);
    expect(unet.initializerOverrides).toBeUndefined();
    expect(Array.from((await predict()).data)).toEqual(Array.from(before.data));
    await unet.release();
    expect(hashFolder(dir)).toEqual(hashes);
  });
});

const ENCODERS = [
  {
    name: 'sd1 (inline)',
    dir: join(models, 'sd1'),
    path: 'text_encoder/model.onnx',
    embedding: 'text_model.token_embedding.weight',
    bos: 575,
    eos: 576,
  },
  {
    name: 'external data (every weight in model.onnx_data)',
    dir: storage,
    path: 'text-encoder-external/model.onnx',
    embedding: 'text_model.token_embedding.weight',
    bos: 575,
    eos: 576,
  },
  {
    name: 'sd1-fp16',
    dir: join(models, 'sd1-fp16'),
    path: 'text_encoder/model.onnx',
    embedding: 'text_model.token_embedding.weight_fp16',
    bos: 575,
    eos: 576,
  },
  {
    name: 'the shipped shapes model',
    dir: shapesModelPath,
    path: 'text_encoder/model.onnx',
    embedding: 'm.tok.weight',
    bos: 601,
    eos: 602,
  },
];

describe.each(ENCODERS)('text encoder $name: a token embedding grown by 2 rows (textual inversion)', (m) => {
  it('new row V+j = row k gives the outputs of id k exactly; the old ids are unchanged; the file is unchanged', async () => {
    const hashes = hashFolder(m.dir);
    const encoder = await loadTextEncoder(m.dir, m.path);
    const [table] = await readOnnxWeights(encoder.request.source, m.path, (n) => n === m.embedding);
    const [vocab, width] = table!.dims as [number, number];
    const k = [300, 17];
    const grown = new Float32Array((vocab + 2) * width);
    grown.set(table!.data);
    for (const [j, row] of k.entries()) {
      grown.set(table!.data.subarray(row * width, (row + 1) * width), (vocab + j) * width);
    }
    const ids = (a: number, b: number) => {
      const row = new Array<number>(77).fill(m.eos);
      row.splice(0, 5, m.bos, 40, a, b, m.eos);
      return row;
    };
    const original = await encoder.encode(ids(k[0]!, k[1]!), 1);
    await encoder.setInitializerOverrides(
      new Map([[m.embedding, { dims: [vocab + 2, width], data: grown }]]),
    );
    const graph = readOnnxGraph(
      (await readPatchedModel({ ...encoder.request, overrides: encoder.initializerOverrides! })).model,
      m.path,
    );
    expect(graph.initializers.get(m.embedding)).toMatchObject({ dims: [vocab + 2, width], external: false });
    const same = await encoder.encode(ids(k[0]!, k[1]!), 1);
    const added = await encoder.encode(ids(vocab, vocab + 1), 1);
    // last_hidden_state only: pooler_output picks the position of the highest id (the new ids outrank
    // <|endoftext|>), as the exported argmax does.
    expect(Array.from(same.hiddenStates.data)).toEqual(Array.from(original.hiddenStates.data));
    expect(Array.from(added.hiddenStates.data)).toEqual(Array.from(original.hiddenStates.data));
    const other = await encoder.encode(ids(k[1]!, k[0]!), 1);
    expect(Array.from(other.hiddenStates.data)).not.toEqual(Array.from(original.hiddenStates.data));
    await encoder.release();
    expect(hashFolder(m.dir)).toEqual(hashes);
  });
});

describe('text encoder: clip skip reads the overridden final layer norm', () => {
  it('final_layer_norm weight 0 and bias c: last_hidden_state and clip skip 2 are c in every row', async () => {
    const encoder = await loadTextEncoder(join(models, 'sd1'), 'text_encoder/model.onnx');
    const ids = [575, 40, 41, 576, ...new Array<number>(73).fill(576)];
    const before = await encoder.encode(ids, 1, 2);
    const c = Float32Array.from({ length: 32 }, (_, i) => (i - 16) / 8);
    await encoder.setInitializerOverrides(
      new Map([
        ['text_model.final_layer_norm.weight', { dims: [32], data: new Float32Array(32) }],
        ['text_model.final_layer_norm.bias', { dims: [32], data: c }],
      ]),
    );
    const expected = Array.from({ length: 77 }, () => Array.from(c)).flat();
    expect(Array.from(before.hiddenStates.data)).not.toEqual(expected);
    expect(Array.from((await encoder.encode(ids, 1, 1)).hiddenStates.data)).toEqual(expected);
    expect(Array.from((await encoder.encode(ids, 1, 2)).hiddenStates.data)).toEqual(expected);
    await encoder.setInitializerOverrides(undefined);
    expect(Array.from((await encoder.encode(ids, 1, 2)).hiddenStates.data)).toEqual(
      Array.from(before.hiddenStates.data),
    );
    await encoder.release();
  });
});

describe('storage forms other than raw_data (float-data.onnx: y = x·w + float(b), z = w[idx])', () => {
  const source = new FileModelSource(storage);
  const request: SessionRequest = { component: 'test', modelPath: 'float-data.onnx', source };
  const x = Float32Array.from([1, 2, 3, -1, -2, -4]);

  async function run(overrides?: InitializerOverrides) {
    const factory = new NodeSessionFactory();
    const session = await factory.create(overrides ? { ...request, overrides } : request);
    const out = await session.run({ x: factory.createTensor({ type: 'float32', data: x }, [2, 3]) });
    await factory.releaseAll();
    return { y: Array.from(out['y']!.data as Float32Array), z: Array.from(out['z']!.data as Float32Array) };
  }

  it('the file as written: float_data w, float16 b in int32_data', async () => {
    const w = [0.5, -1, 1.5, 2, -2.5, 3];
    const b = [0.25, -0.75, 4];
    expect(await run()).toEqual({ y: Array.from(x, (v, i) => v * w[i]! + b[i % 3]!), z: w.slice(3) });
  });

  it('overridden w (float_data) and b (float16 int32_data) are rebuilt as raw_data of their own type', async () => {
    const w = Float32Array.from([1, 2, 3, 4, 5, 6]);
    const b = Float32Array.from([0.5, 1.5, -8]);
    const overrides = new Map([
      ['w', { dims: [2, 3], data: w }],
      ['b', { dims: [3], data: b }],
    ]);
    expect(await run(overrides)).toEqual({ y: Array.from(x, (v, i) => v * w[i]! + b[i % 3]!), z: [4, 5, 6] });
    const graph = readOnnxGraph((await readPatchedModel({ ...request, overrides })).model, 'float-data.onnx');
    expect(graph.initializers.get('b')).toMatchObject({ dims: [3], dataType: 10 });
    expect(graph.initializers.get('idx')).toMatchObject({ dims: [1], dataType: 7 });
  });
});

describe('patchInitializers never modifies what it is given', () => {
  it('model bytes and override data are the same after a patch; an external weight moves into the model', async () => {
    const source = new FileModelSource(join(models, 'sd1-external'));
    const model = await source.readBytes('unet/model.onnx');
    const [weight] = await readOnnxWeights(source, 'unet/model.onnx', (n) => n === 'conv_out.weight');
    const data = weight!.data.map((v) => v + 1);
    const copies = [model.slice(), data.slice()];
    const patched = patchInitializers(
      model,
      'unet/model.onnx',
      new Map([['conv_out.weight', { dims: weight!.dims, data }]]),
    );
    expect(patched).not.toBe(model);
    expect([model, data]).toEqual(copies);
    const graph = readOnnxGraph(patched, 'unet/model.onnx');
    expect(graph.initializers.get('conv_out.weight')).toMatchObject({ dims: [4, 8, 3, 3], external: false });
    expect(graph.initializers.get('conv_out.bias')).toMatchObject({ external: true });
    const [moved] = await readOnnxWeights(
      {
        location: 'memory',
        exists: async () => true,
        readText: async () => '',
        readBytes: async (p) => (p === 'unet/model.onnx' ? patched : source.readBytes(p)),
      },
      'unet/model.onnx',
      (n) => n === 'conv_out.weight',
    );
    expect(moved!.data).toEqual(data);
  });
});

/** A folder on disk that counts the files read through it. */
class CountingFolder extends FileModelSource {
  readonly reads: string[] = [];

  override readBytes(path: string): Promise<Uint8Array> {
    this.reads.push(path);
    return super.readBytes(path);
  }
}

describe('onnxruntime-node with overrides on external data', () => {
  const input = {
    sample: new Tensor(wave(256, 0.3), [1, 4, 8, 8]),
    timestep: 250,
    conditioning: { encoderHiddenStates: new Tensor(wave(77 * 32, 0.9), [1, 77, 32]) },
  };

  it('a folder: onnxruntime reads model.onnx_data itself (never into JavaScript); another source: read through it', async () => {
    const dir = join(models, 'sd1-external');
    const folder = new CountingFolder(dir);
    const factory = new NodeSessionFactory();
    const request: SessionRequest = { component: 'unet', modelPath: 'unet/model.onnx', source: folder };
    const unet = new UnetDenoiser(await factory.create(request), factory, { request });
    const base = await own(folder, 'unet/model.onnx', (n) => n === 'conv_out.bias');
    folder.reads.length = 0;
    const shifted = mapValues(base, (d) => d.map((v) => v + 0.5));
    await unet.setInitializerOverrides(shifted);
    expect(folder.reads).toEqual(['unet/model.onnx']);
    const fromFolder = await unet.predict(input);
    await unet.release();

    // the same through a source that is not a FileModelSource: bytes and external data read through it
    const reads: string[] = [];
    const other = {
      location: 'memory',
      exists: (p: string) => folder.exists(p),
      readText: (p: string) => folder.readText(p),
      readBytes: (p: string) => {
        reads.push(p);
        return folder.readBytes(p);
      },
    };
    const viaSource = new UnetDenoiser(
      await factory.create({ ...request, source: other, overrides: shifted }),
      factory,
      { request: { ...request, source: other } },
    );
    expect(reads).toEqual(['unet/model.onnx', 'unet/model.onnx_data']);
    expect(Array.from((await viaSource.predict(input)).data)).toEqual(Array.from(fromFolder.data));
    await viaSource.release();
  });
});

/** onnxruntime-node's factory, remembering the sessions it made, per component. */
class RecordingFactory extends NodeSessionFactory {
  readonly made: { component: string; session: InferenceSession }[] = [];

  override async create(request: SessionRequest): Promise<InferenceSession> {
    const session = await super.create(request);
    this.made.push({ component: request.component, session });
    return session;
  }
}

/** A released session refuses a second release: the probe that it was released. */
const runFails = (session: InferenceSession) => expect(session.release()).rejects.toThrow(/already disposed/);

describe('swapping sessions', () => {
  it('a prediction running during a swap keeps the old weights; the old session is released after it', async () => {
    const factory = new RecordingFactory();
    const { unet, source, predict } = await loadUnet(join(models, 'sd1'), factory);
    const before = await predict();
    const zero = mapValues(
      await own(source, 'unet/model.onnx', (n) => n.startsWith('conv_out.')),
      (d) => new Float32Array(d.length),
    );
    const running = predict();
    const swap = unet.setInitializerOverrides(zero);
    expect(Array.from((await running).data)).toEqual(Array.from(before.data));
    await swap;
    expect((await predict()).data.every((v) => v === 0)).toBe(true);
    expect(factory.made).toHaveLength(2);
    await runFails(factory.made[0]!.session);
    await unet.release();
    await runFails(factory.made[1]!.session);
  });

  it('swaps requested at once take effect in call order; a failed one does not stop the next', async () => {
    const factory = new RecordingFactory();
    const { unet, source, predict } = await loadUnet(join(models, 'sd1'), factory);
    const before = await predict();
    const base = await own(source, 'unet/model.onnx', (n) => n.startsWith('conv_out.'));
    const zero = mapValues(base, (d) => new Float32Array(d.length));
    const nan = mapValues(base, (d) => new Float32Array(d.length).fill(Number.NaN));
    const results = await Promise.allSettled([
      unet.setInitializerOverrides(zero),
      unet.setInitializerOverrides(nan),
      unet.setInitializerOverrides(undefined),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(unet.initializerOverrides).toBeUndefined();
    expect(Array.from((await predict()).data)).toEqual(Array.from(before.data));
    await unet.setInitializerOverrides(zero);
    expect((await predict()).data.every((v) => v === 0)).toBe(true);
    expect(factory.made).toHaveLength(4);
    for (const { session } of factory.made.slice(0, 3)) await runFails(session);
    await unet.release();
  });

  it("loadOnnxPipeline's dispose releases the swapped-in UNet session and every other; later runs fail", async () => {
    const factory = new RecordingFactory();
    const parts = await loadOnnxPipeline(new FileModelSource(join(models, 'sd1')), factory);
    const unet = parts.denoiser as UnetDenoiser;
    const source = unet.request.source as FileModelSource;
    await unet.setInitializerOverrides(await own(source, 'unet/model.onnx', (n) => n === 'conv_out.bias'));
    expect(factory.made.map((m) => m.component).sort()).toEqual([
      'text_encoder',
      'unet',
      'unet',
      'vae_decoder',
      'vae_encoder',
    ]);
    await runFails(factory.made.find((m) => m.component === 'unet')!.session);
    await parts.dispose();
    for (const { session } of factory.made) await runFails(session);
    const input = {
      sample: new Tensor(wave(256, 0), [1, 4, 8, 8]),
      timestep: 1,
      conditioning: { encoderHiddenStates: new Tensor(wave(77 * 32, 1), [1, 77, 32]) },
    };
    await expect(parts.denoiser.predict(input)).rejects.toThrow(InferenceFailedError);
    await expect(parts.denoiser.predict(input)).rejects.toThrow(/disposed/);
    await expect(unet.setInitializerOverrides(undefined)).rejects.toThrow(InferenceFailedError);
  });
});
