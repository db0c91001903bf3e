import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { type OnnxGraph, readOnnxGraph } from '../onnx-graph.js';
import { type TestTensor, writeSafetensors } from '../test-support/safetensors-writer.js';
import { type LoraLayer, readLoraFile } from './lora-file.js';
import { findLoraTargets, type LoraGraph } from './lora-targets.js';
import { parseSafetensors } from './safetensors.js';

const repo = (path: string) => fileURLToPath(new URL(`../../../../${path}`, import.meta.url));
const graphOf = (path: string, modelPath: string): LoraGraph => ({
  graph: readOnnxGraph(readFileSync(repo(path)), modelPath),
  modelPath,
});
const loraOf = (name: string) =>
  readLoraFile(parseSafetensors(readFileSync(repo(`tests/fixtures/lora/${name}`)), name), name);
const loraFrom = (tensors: Record<string, TestTensor>) =>
  readLoraFile(parseSafetensors(writeSafetensors(tensors), 'test.safetensors'), 'test.safetensors');
const zeros = (shape: number[]): TestTensor => ({
  shape,
  values: Array(shape.reduce((a, b) => a * b, 1)).fill(0),
});
/** A diffusers-format layer of the given shapes. */
const peft = (component: string, module: string, down: number[], up: number[]) => ({
  [`${component}.${module}.lora_A.weight`]: zeros(down),
  [`${component}.${module}.lora_B.weight`]: zeros(up),
});

/** The weight input of the node with this name, read from the graph itself. */
function weightOf(graph: OnnxGraph, nodeName: string): string {
  const node = graph.nodes.find((n) => n.name === nodeName);
  expect(node, nodeName).toBeDefined();
  return node!.inputs[1]!;
}

const fixtureGraphs = {
  unet: graphOf('tests/fixtures/lora/unet.onnx', 'unet.onnx'),
  text_encoder: graphOf('tests/fixtures/lora/text_encoder.onnx', 'text_encoder.onnx'),
};
const BLOCK = 'down_blocks.0.attentions.0.transformer_blocks.0';

describe('findLoraTargets on an Optimum-style export (constant folding)', () => {
  const kohya = loraOf('kohya.safetensors');
  const { matched, unmatched } = findLoraTargets(kohya.layers, fixtureGraphs, 'kohya.safetensors');
  const byName = new Map(matched.map((m) => [m.layer.flatName!, m.target]));

  it('finds every layer of the kohya LoRA', () => {
    expect(unmatched).toEqual([]);
    expect(matched.length).toBe(kohya.layers.length);
  });

  it('a folded Linear: the MatMul named after the module (or whose output gets `<module>.bias`), its onnx::MatMul_N weight [in, out]', () => {
    const unet = fixtureGraphs.unet.graph;
    for (const [flat, node, dims] of [
      [`${BLOCK}_attn1_to_q`, `/down_blocks.0/attentions.0/transformer_blocks.0/attn1/to_q/MatMul`, [8, 8]],
      [`${BLOCK}_attn2_to_k`, `/down_blocks.0/attentions.0/transformer_blocks.0/attn2/to_k/MatMul`, [12, 8]],
      [
        `${BLOCK}_attn1_to_out_0`,
        `/down_blocks.0/attentions.0/transformer_blocks.0/attn1/to_out.0/MatMul`,
        [8, 8],
      ],
      ['down_blocks_0_attentions_0_proj_out', '/down_blocks.0/attentions.0/proj_out/MatMul', [8, 8]],
    ] as const) {
      const target = byName.get(flat.replaceAll('.', '_'))!;
      expect(target, flat).toEqual({ initializer: weightOf(unet, node), layout: 'matmul', dims });
      expect(target.initializer).toMatch(/^onnx::MatMul_\d+$/);
    }
    // ff's forward was bypassed: its nodes are /…/transformer_blocks.0/net.0/proj/MatMul (no `ff`); the
    // MatMul whose output gets the bias `….ff.net.0.proj.bias` added is the one
    for (const [flat, node, dims] of [
      [
        `${BLOCK}_ff_net_0_proj`,
        '/down_blocks.0/attentions.0/transformer_blocks.0/net.0/proj/MatMul',
        [8, 16],
      ],
      [`${BLOCK}_ff_net_2`, '/down_blocks.0/attentions.0/transformer_blocks.0/net.2/MatMul', [16, 8]],
    ] as const) {
      expect(byName.get(flat.replaceAll('.', '_')), flat).toEqual({
        initializer: weightOf(unet, node),
        layout: 'matmul',
        dims,
      });
    }
    const te = fixtureGraphs.text_encoder.graph;
    expect(byName.get('text_model_encoder_layers_1_mlp_fc1')).toEqual({
      initializer: weightOf(te, '/text_model/encoder/layers.1/mlp/fc1/MatMul'),
      layout: 'matmul',
      dims: [16, 32],
    });
  });

  it('Conv and Gemm weights by their initializer names: conv [out, in, kh, kw], Gemm transB=1 [out, in]', () => {
    expect(byName.get('down_blocks_0_resnets_0_conv1')).toEqual({
      initializer: 'down_blocks.0.resnets.0.conv1.weight',
      layout: 'conv',
      dims: [8, 8, 3, 3],
    });
    expect(byName.get('down_blocks_0_attentions_0_proj_in')).toEqual({
      initializer: 'down_blocks.0.attentions.0.proj_in.weight',
      layout: 'conv',
      dims: [8, 8, 1, 1],
    });
    expect(byName.get('down_blocks_0_resnets_0_time_emb_proj')).toEqual({
      initializer: 'down_blocks.0.resnets.0.time_emb_proj.weight',
      layout: 'linear',
      dims: [8, 16],
    });
    expect(byName.get('time_embedding_linear_1')).toEqual({
      initializer: 'time_embedding.linear_1.weight',
      layout: 'linear',
      dims: [16, 8],
    });
  });

  it('a PEFT LoRA finds the same weights as the kohya one for the same modules', () => {
    const p = findLoraTargets(loraOf('peft.safetensors').layers, fixtureGraphs, 'peft.safetensors');
    expect(p.unmatched).toEqual([]);
    const q = p.matched.find((m) => m.layer.module === `${BLOCK}.attn1.to_q`)!;
    expect(q.target).toEqual(byName.get(`${BLOCK}_attn1_to_q`.replaceAll('.', '_')));
    const conv2 = p.matched.find((m) => m.layer.module === 'down_blocks.0.resnets.0.conv2')!;
    expect(conv2.target).toEqual({
      initializer: 'down_blocks.0.resnets.0.conv2.weight',
      layout: 'conv',
      dims: [8, 8, 3, 3],
    });
  });
});

describe('findLoraTargets on other exports', () => {
  it('a float16 export: weights and biases read through Cast, the same targets as the float32 export', () => {
    const fp16 = graphOf('tests/fixtures/lora/unet_fp16.onnx', 'unet/model.onnx');
    const layers = loraOf('kohya.safetensors').layers.filter((l) => l.component === 'unet');
    const half = findLoraTargets(layers, { unet: fp16 }, 'kohya.safetensors');
    const full = findLoraTargets(layers, { unet: fixtureGraphs.unet }, 'kohya.safetensors');
    expect(half.unmatched).toEqual([]);
    expect(half.matched.map((m) => m.target)).toEqual(full.matched.map((m) => m.target));
    for (const { target } of half.matched)
      expect(fp16.graph.initializers.get(target.initializer)!.dataType).toBe(10);
  });

  it('an unfolded export: the named weight [out, in] through Transpose → MatMul', () => {
    const unfolded = graphOf('tests/fixtures/lora/text_encoder_unfolded.onnx', 'text_encoder/model.onnx');
    const { matched, unmatched } = findLoraTargets(
      loraOf('kohya.safetensors').layers.filter((l) => l.component === 'text_encoder'),
      { text_encoder: unfolded },
      'kohya.safetensors',
    );
    expect(unmatched).toEqual([]);
    expect(matched.map((m) => m.target)).toEqual([
      {
        initializer: 'text_model.encoder.layers.0.self_attn.q_proj.weight',
        layout: 'linear',
        dims: [16, 16],
      },
      {
        initializer: 'text_model.encoder.layers.0.self_attn.v_proj.weight',
        layout: 'linear',
        dims: [16, 16],
      },
      {
        initializer: 'text_model.encoder.layers.0.self_attn.out_proj.weight',
        layout: 'linear',
        dims: [16, 16],
      },
      { initializer: 'text_model.encoder.layers.1.mlp.fc1.weight', layout: 'linear', dims: [32, 16] },
      { initializer: 'text_model.encoder.layers.1.mlp.fc2.weight', layout: 'linear', dims: [16, 32] },
    ]);
  });

  it('a wrapped model (the shipped shapes model, names under m.): matched after dropping the first segment', () => {
    // the shipped model is exported without constant folding: named weights [out, in] through Transpose
    const te = graphOf('packages/model-shapes/model/text_encoder/model.onnx', 'text_encoder/model.onnx');
    const unet = graphOf('packages/model-shapes/model/unet/model.onnx', 'unet/model.onnx');
    const lora = loraFrom({
      ...peft('text_encoder', 'layers.0.q', [2, 64], [64, 2]),
      ...peft('unet', 'down.0.res.0.conv1', [2, 32, 3, 3], [32, 2, 1, 1]),
      ...peft('unet', 'down.0.att.0.attn2.k', [2, 64], [32, 2]),
      ...peft('unet', 'time_mlp.0', [2, 32], [128, 2]), // Gemm
    });
    const { matched, unmatched } = findLoraTargets(
      lora.layers,
      { text_encoder: te, unet },
      'test.safetensors',
    );
    expect(unmatched).toEqual([]);
    expect(matched.map((m) => m.target)).toEqual([
      { initializer: 'm.layers.0.q.weight', layout: 'linear', dims: [64, 64] },
      { initializer: 'm.down.0.res.0.conv1.weight', layout: 'conv', dims: [32, 32, 3, 3] },
      { initializer: 'm.down.0.att.0.attn2.k.weight', layout: 'linear', dims: [32, 64] },
      { initializer: 'm.time_mlp.0.weight', layout: 'linear', dims: [128, 32] },
    ]);
    // kohya's underscored names too
    const kohya = loraFrom({
      'lora_te_layers_0_fc1.lora_down.weight': zeros([2, 64]),
      'lora_te_layers_0_fc1.lora_up.weight': zeros([256, 2]),
    });
    const k = findLoraTargets(kohya.layers, { text_encoder: te }, 'test.safetensors');
    expect(k.matched[0]!.target).toEqual({
      initializer: 'm.layers.0.fc1.weight',
      layout: 'linear',
      dims: [256, 64],
    });
  });

  it('kohya SDXL-style names (input_blocks_…, time_embed_…) find the same weights as diffusers names', () => {
    const kohya = loraOf('kohya.safetensors').layers.filter((l) => l.component === 'unet');
    const sgmName = (flat: string) =>
      flat
        .replace('down_blocks_0_resnets_0_conv1', 'input_blocks_1_0_in_layers_2')
        .replace('down_blocks_0_resnets_0_time_emb_proj', 'input_blocks_1_0_emb_layers_1')
        .replace('down_blocks_0_attentions_0_', 'input_blocks_1_1_')
        .replace('time_embedding_linear_1', 'time_embed_0');
    const renamed = kohya.map((l) => ({ ...l, flatName: sgmName(l.flatName!) }));
    expect(renamed.filter((l) => l.flatName.startsWith('input_blocks_1_')).length).toBe(13);
    // the fixture UNet has one layer per block
    const sgm = findLoraTargets(renamed, { unet: fixtureGraphs.unet }, 'sgm.safetensors', {
      layersPerBlock: 1,
    });
    const diffusers = findLoraTargets(kohya, { unet: fixtureGraphs.unet }, 'kohya.safetensors');
    expect(sgm.unmatched).toEqual([]);
    expect(sgm.matched.map((m) => m.target)).toEqual(diffusers.matched.map((m) => m.target));
  });

  it('returns the keys of layers not in the model (another component, an unknown module) when others match', () => {
    const lora = loraFrom({
      ...peft('unet', 'conv_in', [2, 4, 3, 3], [8, 2, 1, 1]),
      ...peft('unet', 'mid_block.attentions.0.proj_in', [2, 8], [8, 2]),
      ...peft('text_encoder_2', 'text_model.encoder.layers.0.mlp.fc1', [2, 16], [32, 2]),
    });
    const { matched, unmatched } = findLoraTargets(lora.layers, fixtureGraphs, 'test.safetensors');
    expect(matched.map((m) => m.target.initializer)).toEqual(['conv_in.weight']);
    expect(unmatched).toEqual([
      'unet.mid_block.attentions.0.proj_in.lora_A.weight',
      'text_encoder_2.text_model.encoder.layers.0.mlp.fc1.lora_A.weight',
    ]);
  });

  it('an empty list of layers matches nothing without an error', () => {
    expect(findLoraTargets([] as LoraLayer[], fixtureGraphs, 'x')).toEqual({ matched: [], unmatched: [] });
  });
});
