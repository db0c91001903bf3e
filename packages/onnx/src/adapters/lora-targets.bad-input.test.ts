import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  InvalidArgumentError,
  type LatentkitError,
  ModelMismatchError,
  NonFiniteOutputError,
  ShapeMismatchError,
} from '@latentkit/core';
import { describe, expect, it } from 'vitest';
import type { OnnxGraph } from '../onnx-graph.js';
import { readOnnxGraph } from '../onnx-graph.js';
import { type TestTensor, writeSafetensors } from '../test-support/safetensors-writer.js';
import { mergeDeltas } from './lora-delta.js';
import { readLoraFile } from './lora-file.js';
import { findLoraTargets, type LoraGraph } from './lora-targets.js';
import { parseSafetensors } from './safetensors.js';

const repo = (path: string) => fileURLToPath(new URL(`../../../../${path}`, import.meta.url));
const graphOf = (path: string, modelPath: string): LoraGraph => ({
  graph: readOnnxGraph(readFileSync(repo(path)), modelPath),
  modelPath,
});
const graphs = {
  unet: graphOf('tests/fixtures/lora/unet.onnx', 'unet/model.onnx'),
  text_encoder: graphOf('tests/fixtures/lora/text_encoder.onnx', 'text_encoder/model.onnx'),
};
const zeros = (shape: number[]): TestTensor => ({
  shape,
  values: Array(shape.reduce((a, b) => a * b, 1)).fill(0),
});
const layers = (tensors: Record<string, TestTensor>) =>
  readLoraFile(parseSafetensors(writeSafetensors(tensors), 'bad.safetensors'), 'bad.safetensors').layers;
const kohya = (name: string, down: number[], up: number[]) => ({
  [`${name}.lora_down.weight`]: zeros(down),
  [`${name}.lora_up.weight`]: zeros(up),
});
const Q = 'lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q';

/** Two MatMuls whose node names give the same module, with different weights. */
const ambiguous: OnnxGraph = {
  nodes: [
    {
      name: '/blocks.0/proj/MatMul',
      opType: 'MatMul',
      inputs: ['x', 'w1'],
      outputs: ['y1'],
      intAttributes: {},
    },
    {
      name: '/blocks.0/proj/MatMul_1',
      opType: 'MatMul',
      inputs: ['x', 'w2'],
      outputs: ['y2'],
      intAttributes: {},
    },
  ],
  initializers: new Map([
    ['w1', { name: 'w1', dims: [4, 4], dataType: 1, external: false }],
    ['w2', { name: 'w2', dims: [4, 4], dataType: 1, external: false }],
  ]),
};

/** Any of latentkit's error classes. */
type ErrorClass = new (...args: never[]) => LatentkitError;

// Each row: what to run, the error class, and words its message must contain.
const cases: [string, () => unknown, ErrorClass, RegExp][] = [
  [
    'a LoRA for another model (SDXL-style names): none match',
    () =>
      findLoraTargets(
        layers({
          ...kohya('lora_unet_input_blocks_4_1_transformer_blocks_0_attn1_to_q', [2, 640], [640, 2]),
          ...kohya('lora_unet_input_blocks_4_1_proj_in', [2, 640], [640, 2]),
        }),
        graphs,
        'sdxl.safetensors',
      ),
    ModelMismatchError,
    /sdxl\.safetensors: none of its 2 LoRA layers is in this model\. The LoRA changes "input_blocks_4_1_transformer_blocks_0_attn1_to_q", "input_blocks_4_1_proj_in"; the model's modules are e\.g\. unet\/model\.onnx: "time_embedding\.linear_1"/,
  ],
  [
    'a LoRA only for a component the model lacks',
    () =>
      findLoraTargets(
        layers(kohya('lora_te2_text_model_encoder_layers_0_mlp_fc1', [2, 16], [32, 2])),
        graphs,
        'te2.safetensors',
      ),
    ModelMismatchError,
    /none of its 1 LoRA layers is in this model.*text_encoder_2: not in this model/,
  ],
  [
    'a Linear LoRA whose out differs (folded MatMul [in, out])',
    () => findLoraTargets(layers(kohya(Q, [2, 8], [16, 2])), graphs, 'bad.safetensors'),
    ModelMismatchError,
    /layer ".*attn1_to_q\.lora_down\.weight" \(rank 2\) changes a weight of \[out 16, in 8\], but its target "onnx::MatMul_\d+" in unet\/model\.onnx is \[out 8, in 8\] \(matmul layout, dims \[8, 8\]\)/,
  ],
  [
    'a Linear LoRA whose in differs (attn2.to_k takes the 12-wide text states)',
    () =>
      findLoraTargets(
        layers(kohya('lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k', [2, 8], [8, 2])),
        graphs,
        'bad.safetensors',
      ),
    ModelMismatchError,
    /changes a weight of \[out 8, in 8\], but its target .* is \[out 8, in 12\]/,
  ],
  [
    'a Gemm (transB = 1) LoRA of the wrong size',
    () =>
      findLoraTargets(
        layers(kohya('lora_unet_time_embedding_linear_1', [2, 4], [16, 2])),
        graphs,
        'bad.safetensors',
      ),
    ModelMismatchError,
    /\[out 16, in 4\], but its target "time_embedding\.linear_1\.weight" .* is \[out 16, in 8\] \(linear layout/,
  ],
  [
    'a LoCon kernel that differs from the conv (5×5 on a 3×3)',
    () =>
      findLoraTargets(
        layers(kohya('lora_unet_down_blocks_0_resnets_0_conv1', [2, 8, 5, 5], [8, 2, 1, 1])),
        graphs,
        'bad.safetensors',
      ),
    ModelMismatchError,
    /\[out 8, in 8, kh 5, kw 5\], but its target "down_blocks\.0\.resnets\.0\.conv1\.weight" .* is \[out 8, in 8, kh 3, kw 3\]/,
  ],
  [
    'a Linear-shaped LoRA on a 3×3 conv',
    () =>
      findLoraTargets(
        layers(kohya('lora_unet_down_blocks_0_resnets_0_conv1', [2, 8], [8, 2])),
        graphs,
        'bad.safetensors',
      ),
    ModelMismatchError,
    /\[out 8, in 8\], but its target .*conv1\.weight.* is \[out 8, in 8, kh 3, kw 3\]/,
  ],
  [
    'a 3×3 conv LoRA on a Linear',
    () => findLoraTargets(layers(kohya(Q, [2, 8, 3, 3], [8, 2, 1, 1])), graphs, 'bad.safetensors'),
    ModelMismatchError,
    /\[out 8, in 8, kh 3, kw 3\], but its target "onnx::MatMul_\d+" .* is \[out 8, in 8\]/,
  ],
  [
    'a module name that matches two different weights',
    () =>
      findLoraTargets(
        layers({
          'unet.blocks.0.proj.lora_A.weight': zeros([2, 4]),
          'unet.blocks.0.proj.lora_B.weight': zeros([4, 2]),
        }),
        { unet: { graph: ambiguous, modelPath: 'unet/model.onnx' } },
        'bad.safetensors',
      ),
    ModelMismatchError,
    /"unet\.blocks\.0\.proj\.lora_A\.weight" names module "blocks\.0\.proj", which matches more than one weight in unet\/model\.onnx/,
  ],
  [
    'a NaN scale',
    () => mergeDeltas(Float32Array.from([1]), [{ delta: Float32Array.from([1]), scale: Number.NaN }], 'w'),
    InvalidArgumentError,
    /LoRA scale for w = NaN is invalid: expected a finite number.*Fix: pass a number such as 0\.8/,
  ],
  [
    'an infinite scale',
    () =>
      mergeDeltas(
        Float32Array.from([1]),
        [{ delta: Float32Array.from([1]), scale: Number.POSITIVE_INFINITY }],
        'w',
      ),
    InvalidArgumentError,
    /LoRA scale for w = Infinity is invalid/,
  ],
  [
    'a scale that is not a number',
    () =>
      mergeDeltas(
        Float32Array.from([1]),
        [{ delta: Float32Array.from([1]), scale: '0.5' as unknown as number }],
        'w',
      ),
    InvalidArgumentError,
    /LoRA scale for w = "0\.5" is invalid/,
  ],
  [
    'a delta of another length',
    () => mergeDeltas(Float32Array.from([1, 2]), [{ delta: Float32Array.from([1]), scale: 1 }], 'w'),
    ShapeMismatchError,
    /LoRA delta 0 for w has 1 values but the weight has 2/,
  ],
  [
    'a merge that overflows float32',
    () => mergeDeltas(Float32Array.from([1, 2]), [{ delta: Float32Array.from([0, 1e30]), scale: 1e9 }], 'w'),
    NonFiniteOutputError,
    /Merging LoRA into w gives Infinity at index 1 .*Fix: use smaller LoRA scales/,
  ],
];

describe('LoRA targets and merges: bad input fails with a typed error naming the value and the fix', () => {
  it.each(cases)('%s', (_label, run, kind, words) => {
    let error: unknown;
    try {
      run();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(kind);
    expect((error as Error).message).toMatch(words);
    expect((error as Error).message).toMatch(/Fix: /);
  });
});
