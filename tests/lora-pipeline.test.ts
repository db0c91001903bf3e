/**
 * The LoRA API of the pipelines on real onnxruntime-node sessions (issue 17 item 2):
 *
 * - against torch: OnnxModelAdapters over the UNet and text encoder of tests/fixtures/lora (diffusers' module
 *   names, exported as Optimum does) gives the outputs torch computes with the LoRA weights MERGED
 *   (tools/fixtures/make_lora_fixture.py), at one scale, at a per-call scale (withScales) and with two
 *   adapters at once (setAdapters), within 1e-4;
 * - on the shipped shapes model with the two random adapters of tests/fixtures/lora-shapes
 *   (tools/fixtures/make_shapes_lora.py): scale 0 and unload give the model's own images exactly, a
 *   `<lora:name:w>` tag gives exactly what loading at w gives, setAdapters switches adapters, the model files
 *   are never rewritten.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FileModelSource, NodeSessionFactory, nodeBackend } from '@latentkit/backend-node';
import { StableDiffusionPipeline, Tensor } from '@latentkit/core';
import { shapesModelPath } from '@latentkit/model-shapes';
import {
  type ModelSource,
  OnnxModelAdapters,
  OnnxTextEncoder,
  type SessionRequest,
  UnetDenoiser,
} from '@latentkit/onnx';
import { createScheduler } from '@latentkit/schedulers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const loraDir = fileURLToPath(new URL('./fixtures/lora', import.meta.url));
const shapesLoras = fileURLToPath(new URL('./fixtures/lora-shapes', import.meta.url));
const red = join(shapesLoras, 'red.safetensors');
const blue = join(shapesLoras, 'blue.safetensors');

interface Stored {
  shape: number[];
  data: number[];
}
const reference = JSON.parse(readFileSync(join(loraDir, 'reference.json'), 'utf8')) as {
  inputs: Record<'sample' | 'timestep' | 'encoder_hidden_states' | 'input_ids', Stored>;
  outputs: Record<string, { unet: Stored; text_encoder: Stored }>;
};
const tensor = (s: Stored) => new Tensor(Float32Array.from(s.data), s.shape);

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/** The torch tolerance: float32 merges and kernels, summed in another order. */
const TORCH_TOLERANCE = 1e-4;

describe('OnnxModelAdapters against torch (merged weights, tests/fixtures/lora)', () => {
  const factory = new NodeSessionFactory({});
  const source = new FileModelSource(loraDir);
  let unet: UnetDenoiser;
  let text: OnnxTextEncoder;
  let adapters: OnnxModelAdapters;
  const bytes = (file: string) => new Uint8Array(readFileSync(join(loraDir, file)));

  beforeAll(async () => {
    const unetRequest: SessionRequest = { component: 'unet', modelPath: 'unet.onnx', source };
    const textRequest: SessionRequest = { component: 'text_encoder', modelPath: 'text_encoder.onnx', source };
    unet = new UnetDenoiser(await factory.create(unetRequest), factory, { request: unetRequest });
    text = new OnnxTextEncoder(await factory.create(textRequest), factory, { request: textRequest });
    adapters = new OnnxModelAdapters({ components: { unet, text_encoder: text } });
  });

  async function outputs(): Promise<{ unet: Float32Array; text: Float32Array }> {
    const { sample, timestep, encoder_hidden_states: hidden, input_ids: ids } = reference.inputs;
    const eps = await unet.predict({
      sample: tensor(sample),
      timestep: timestep.data[0]!,
      conditioning: { encoderHiddenStates: tensor(hidden) },
    });
    const encoded = await text.encode(ids.data, ids.shape[0]!);
    return { unet: eps.data, text: encoded.hiddenStates.data };
  }

  const measured: Record<string, number> = {};
  afterAll(async () => {
    console.log(`OnnxModelAdapters vs torch, max |diff| per case: ${JSON.stringify(measured)}`);
    await unet.release();
    await text.release();
  });

  async function expectCase(name: string): Promise<void> {
    const got = await outputs();
    const want = reference.outputs[name]!;
    measured[`${name} unet`] = Math.max(measured[`${name} unet`] ?? 0, maxDiff(got.unet, want.unet.data));
    measured[`${name} text_encoder`] = Math.max(
      measured[`${name} text_encoder`] ?? 0,
      maxDiff(got.text, want.text_encoder.data),
    );
    expect(maxDiff(got.unet, want.unet.data), `${name}: unet`).toBeLessThanOrEqual(TORCH_TOLERANCE);
    expect(maxDiff(got.text, want.text_encoder.data), `${name}: text encoder`).toBeLessThanOrEqual(
      TORCH_TOLERANCE,
    );
  }

  it('no adapter: the base outputs', async () => {
    await expectCase('base');
  });

  it('kohya at scale 1, then at 0.5 for one call (withScales), then peft alone and both (setAdapters)', async () => {
    const kohya = await adapters.loadLoraWeights(bytes('kohya.safetensors'), { adapterName: 'kohya' });
    expect(kohya).toMatchObject({ name: 'kohya', scale: 1, format: 'kohya' });
    expect(kohya.targets['unet']).toBeGreaterThan(0);
    expect(kohya.targets['text_encoder']).toBeGreaterThan(0);
    await expectCase('kohya@1');
    await adapters.withScales(new Map([['kohya', 0.5]]), () => expectCase('kohya@0.5'));
    // the per-call scale is not kept: the next call with the adapters' own scales merges them back
    await adapters.withScales(new Map(), () => expectCase('kohya@1'));

    const peft = await adapters.loadLoraWeights(bytes('peft.safetensors'), { adapterName: 'peft', scale: 0 });
    expect(peft.format).toBe('diffusers');
    await expectCase('kohya@1'); // peft at scale 0 changes nothing
    await adapters.setAdapters(['peft']);
    await expectCase('peft@1');
    await adapters.setAdapters(['kohya', 'peft'], [0.7, -0.4]);
    await expectCase('kohya@0.7+peft@-0.4');
    expect(adapters.loras.map((l) => [l.name, l.scale])).toEqual([
      ['kohya', 0.7],
      ['peft', -0.4],
    ]);
    await adapters.unloadLoraWeights();
    expect(adapters.loras).toEqual([]);
    await expectCase('base');
    expect(unet.initializerOverrides).toBeUndefined();
  });
});

describe('a model whose weights are in an external data file (tests/fixtures/models/sd1-external)', () => {
  const folder = fileURLToPath(new URL('./fixtures/models/sd1-external', import.meta.url));
  const lora = new Uint8Array(readFileSync(join(shapesLoras, 'sd1-external.safetensors')));
  const factory = new NodeSessionFactory({});
  const input = {
    sample: new Tensor(
      Float32Array.from({ length: 2 * 4 * 8 * 8 }, (_, i) => Math.sin(i)),
      [2, 4, 8, 8],
    ),
    timestep: 500,
    conditioning: {
      encoderHiddenStates: new Tensor(
        Float32Array.from({ length: 2 * 77 * 32 }, (_, i) => Math.cos(i)),
        [2, 77, 32],
      ),
    },
  };

  /** ε of the UNet with the LoRA at `scale`, its base weights read through `source`. */
  async function predictWith(source: ModelSource, scale: number): Promise<Float32Array> {
    const request: SessionRequest = { component: 'unet', modelPath: 'unet/model.onnx', source };
    const unet = new UnetDenoiser(await factory.create(request), factory, { request });
    try {
      const adapters = new OnnxModelAdapters({ components: { unet } });
      const info = await adapters.loadLoraWeights(lora, { adapterName: 'x', scale });
      expect(info.targets).toEqual({ unet: 3 });
      return (await unet.predict(input)).data;
    } finally {
      await unet.release();
    }
  }

  it('reads the base weights from model.onnx_data by range, as reading the whole file does; scale 0 = base', async () => {
    const files = new FileModelSource(folder);
    expect(files.readRange).toBeTypeOf('function');
    // the same folder through a source that can only read whole files
    const whole: ModelSource = {
      location: files.location,
      exists: (p) => files.exists(p),
      readText: (p) => files.readText(p),
      readBytes: (p) => files.readBytes(p),
    };
    const ranges: string[] = [];
    const counting: ModelSource = {
      ...whole,
      readRange: (p, offset, length) => {
        ranges.push(p);
        return files.readRange(p, offset, length);
      },
    };
    const ranged = await predictWith(counting, 1);
    // the 3 weights the LoRA changes, each read from the external file by range
    expect(ranges).toEqual(Array(3).fill('unet/model.onnx_data'));
    expect(Array.from(await predictWith(whole, 1))).toEqual(Array.from(ranged));
    const off = await predictWith(files, 0);
    const request: SessionRequest = { component: 'unet', modelPath: 'unet/model.onnx', source: files };
    const plain = new UnetDenoiser(await factory.create(request), factory, { request });
    const base = (await plain.predict(input)).data;
    await plain.release();
    expect(Array.from(off)).toEqual(Array.from(base));
    expect(maxDiff(ranged, base)).toBeGreaterThan(1e-3);
  });
});

const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

describe('pipe.loadLoraWeights & co on the shipped shapes model', () => {
  let pipe: StableDiffusionPipeline;
  const files = ['unet/model.onnx', 'text_encoder/model.onnx'].map((f) => join(shapesModelPath, f));
  const hashes = files.map(sha256);
  const call = {
    prompt: 'a blue square on a white background',
    seed: 7,
    numInferenceSteps: 4,
    outputType: 'tensor',
  } as const;
  let base: Float32Array;

  const run = async (prompt: string = call.prompt): Promise<Float32Array> =>
    (await pipe.generate({ ...call, prompt })).images.data;

  beforeAll(async () => {
    pipe = await StableDiffusionPipeline.fromPretrained(shapesModelPath, { backend: nodeBackend });
    base = await run();
  });
  afterAll(async () => {
    await pipe?.dispose();
  });

  it('loads by path (name = file stem), changes the image; scale 0 and unload give the model exactly', async () => {
    const info = await pipe.loadLoraWeights(red);
    expect(info).toEqual({
      name: 'red',
      scale: 1,
      format: 'diffusers',
      targets: { unet: 2, text_encoder: 1 },
    });
    expect(pipe.loras).toEqual([info]);
    const withRed = await run();
    expect(maxDiff(withRed, base)).toBeGreaterThan(1e-3);
    await pipe.setAdapters('red', 0);
    expect(Array.from(await run())).toEqual(Array.from(base));
    await pipe.setAdapters(['red']); // scale 1 again
    expect(Array.from(await run())).toEqual(Array.from(withRed));
    await pipe.unloadLoraWeights();
    expect(pipe.loras).toEqual([]);
    expect(Array.from(await run())).toEqual(Array.from(base));
  });

  it('<lora:red:0.5> in the prompt = loading at 0.5; the tag is kept in the parameters, not encoded', async () => {
    await pipe.loadLoraWeights(red, { scale: 0.5 });
    const loadedAtHalf = await run();
    await pipe.setAdapters('red', 1);
    const tagged = await pipe.generate({ ...call, prompt: `${call.prompt} <lora:red:0.5>` });
    expect(Array.from(tagged.images.data)).toEqual(Array.from(loadedAtHalf));
    expect(tagged.parameters.images[0]!.prompt).toBe(`${call.prompt} <lora:red:0.5>`);
    expect(pipe.loras[0]!.scale).toBe(1); // the tag's scale is for that call only
    // <lora:red:0> = the model's own weights; <lora:red> = weight 1
    expect(Array.from(await run(`<lora:red:0>${call.prompt}`))).toEqual(Array.from(base));
    const atOne = await run();
    expect(Array.from(await run(`${call.prompt}<lora:red>`))).toEqual(Array.from(atOne));
    await pipe.unloadLoraWeights();
  });

  it('two adapters: kohya + diffusers files, setAdapters chooses, the others get 0', async () => {
    await pipe.loadLoraWeights(red);
    const redOnly = await run();
    const info = await pipe.loadLoraWeights(blue, { adapterName: 'b', scale: 0.8 });
    expect(info).toMatchObject({ name: 'b', format: 'kohya', scale: 0.8, targets: { unet: 2 } });
    const both = await run();
    expect(maxDiff(both, redOnly)).toBeGreaterThan(1e-4);
    await pipe.setAdapters(['red']); // b → 0
    expect(pipe.loras.map((l) => l.scale)).toEqual([1, 0]);
    expect(Array.from(await run())).toEqual(Array.from(redOnly));
    // a tag sets b for one call; red keeps its scale
    expect(Array.from(await run(`${call.prompt} <lora:b:0.8>`))).toEqual(Array.from(both));
    await pipe.setAdapters([], []);
    expect(Array.from(await run())).toEqual(Array.from(base));
    await pipe.unloadLoraWeights();
  });

  it('concurrent calls with different tags each get their own weights', async () => {
    await pipe.loadLoraWeights(red);
    const at1 = await run();
    await pipe.setAdapters('red', 0.3);
    const at03 = await run();
    await pipe.setAdapters('red', 1);
    const [a, b, c, d] = await Promise.all([
      run(`${call.prompt} <lora:red:0.3>`),
      run(),
      run(`${call.prompt} <lora:red:0.3>`),
      run(`${call.prompt} <lora:red:0>`),
    ]);
    expect(Array.from(a)).toEqual(Array.from(at03));
    expect(Array.from(b)).toEqual(Array.from(at1));
    expect(Array.from(c)).toEqual(Array.from(at03));
    expect(Array.from(d)).toEqual(Array.from(base));
    await pipe.unloadLoraWeights();
  });

  it('a change of adapters waits for the generate() already running, which keeps the weights it started with', async () => {
    await pipe.loadLoraWeights(red);
    const withRed = await run();
    const running = run(); // starts with red at 1
    const change = pipe.setAdapters('red', 0); // waits for it
    expect(Array.from(await running)).toEqual(Array.from(withRed));
    await change;
    expect(Array.from(await run())).toEqual(Array.from(base));
    await pipe.unloadLoraWeights();
  });

  it('loads from an http URL (a local server), named after the file', async () => {
    const server = createServer((req, res) => {
      if (req.url === '/loras/red.safetensors?download=1') res.end(readFileSync(red));
      else {
        res.statusCode = 404;
        res.end();
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/loras/red.safetensors?download=1`;
      const info = await pipe.loadLoraWeights(url);
      expect(info.name).toBe('red');
      const fromUrl = await run();
      await pipe.unloadLoraWeights();
      await pipe.loadLoraWeights(new Uint8Array(readFileSync(red)), { adapterName: 'red' });
      expect(Array.from(fromUrl)).toEqual(Array.from(await run()));
      await pipe.unloadLoraWeights();
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('a call waiting for its weights still runs with the scheduler set when it was called', async () => {
    await pipe.loadLoraWeights(red);
    const shipped = pipe.scheduler;
    const withRed = await run();
    pipe.scheduler = createScheduler('EulerDiscreteScheduler', shipped.config);
    const eulerBase = await run(`${call.prompt} <lora:red:0>`);
    pipe.scheduler = shipped;
    const first = run(); // red at 1, the shipped scheduler
    pipe.scheduler = createScheduler('EulerDiscreteScheduler', shipped.config);
    const second = run(`${call.prompt} <lora:red:0>`); // waits for `first`: other weights
    pipe.scheduler = shipped; // swapped back before `second` starts its loop
    expect(Array.from(await first)).toEqual(Array.from(withRed));
    expect(Array.from(await second)).toEqual(Array.from(eulerBase));
    expect(maxDiff(eulerBase, base)).toBeGreaterThan(1e-4);
    await pipe.unloadLoraWeights();
  });

  it('leaves the model files as they were', () => {
    expect(files.map(sha256)).toEqual(hashes);
  });
});
