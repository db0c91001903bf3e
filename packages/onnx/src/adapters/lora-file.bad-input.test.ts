import { type LatentkitError, ModelInvalidError, NotImplementedError } from '@latentkit/core';
import { describe, expect, it } from 'vitest';
import { kohyaLayer, type TestTensor, writeSafetensors } from '../test-support/safetensors-writer.js';
import { readLoraFile } from './lora-file.js';
import { parseSafetensors } from './safetensors.js';

const t = (shape: number[], value = 0.1): TestTensor => ({
  shape,
  values: Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => value),
});
const Q = 'lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q';
const good = kohyaLayer(Q, { shape: [2, 8] }, { shape: [8, 2] }, 1);

/** Any of latentkit's error classes. */
type ErrorClass = new (...args: never[]) => LatentkitError;

// Each row: the tensors of a bad file, the error class, and words its message must contain.
const cases: [string, Record<string, TestTensor>, ErrorClass, RegExp][] = [
  ['no tensors', {}, ModelInvalidError, /is not a LoRA file: none of its keys .* \(its keys: none\)/],
  [
    'a textual-inversion embedding',
    { emb_params: t([2, 768]) },
    ModelInvalidError,
    /is not a LoRA file: .*"emb_params".*loadTextualInversion/,
  ],
  [
    'a full model checkpoint (its first keys are named)',
    {
      'model.diffusion_model.input_blocks.0.0.weight': t([1]),
      'model.diffusion_model.input_blocks.0.0.bias': t([1]),
      a: t([1]),
      b: t([1]),
      c: t([1]),
      d: t([1]),
    },
    ModelInvalidError,
    /its keys: "model\.diffusion_model\.input_blocks\.0\.0\.weight", .*… \(6 keys\)/,
  ],
  ['only alphas', { [`${Q}.alpha`]: t([]) }, ModelInvalidError, /is not a LoRA file/],
  [
    'a down without its up',
    { [`${Q}.lora_down.weight`]: t([2, 8]), [`${Q}.alpha`]: t([]) },
    ModelInvalidError,
    /"lora_unet_.*_to_q\.lora_down\.weight" has no matching up \(lora_up \/ lora_B\) tensor/,
  ],
  [
    'an up without its down (PEFT)',
    {
      'unet.conv_in.lora_B.weight': t([8, 2]),
      'unet.conv_out.lora_A.weight': t([2, 8]),
      'unet.conv_out.lora_B.weight': t([4, 2]),
    },
    ModelInvalidError,
    /"unet\.conv_in\.lora_B\.weight" has no matching down \(lora_down \/ lora_A\) tensor/,
  ],
  [
    'an alpha for a layer that is not there',
    { ...good, 'lora_unet_conv_in.alpha': t([]) },
    ModelInvalidError,
    /"lora_unet_conv_in\.alpha" has no matching down/,
  ],
  [
    'ranks that differ',
    kohyaLayer(Q, { shape: [4, 8] }, { shape: [8, 2] }),
    ModelInvalidError,
    /ranks differ: .*lora_down\.weight" is \[4, 8\] \(rank 4\) but .*lora_up\.weight" is \[8, 2\] \(rank 2\)/,
  ],
  [
    'a 3-D down weight',
    kohyaLayer(Q, { shape: [2, 8, 3] }, { shape: [8, 2] }),
    ModelInvalidError,
    /lora_down\.weight" has shape \[2, 8, 3\]; a LoRA down weight is \[rank, in\] or \[rank, in, kh, kw\]/,
  ],
  [
    'an up weight with a 3×3 kernel',
    kohyaLayer(Q, { shape: [2, 8, 3, 3] }, { shape: [8, 2, 3, 3] }),
    ModelInvalidError,
    /lora_up\.weight" has shape \[8, 2, 3, 3\]; a LoRA up weight is \[out, rank\] or \[out, rank, 1, 1\]/,
  ],
  [
    'a rank of 0',
    kohyaLayer(Q, { shape: [0, 8] }, { shape: [8, 0] }),
    ModelInvalidError,
    /has shape \[0, 8\]/,
  ],
  [
    'NaN in a down weight',
    {
      ...good,
      [`${Q}.lora_down.weight`]: {
        shape: [2, 8],
        values: [0, 0, 0, Number.NaN, 0, 0, 0, 0, ...Array(8).fill(0)],
      },
    },
    ModelInvalidError,
    /"lora_unet_.*lora_down\.weight" holds NaN at index 3; a LoRA weight must be finite/,
  ],
  [
    'Infinity in an up weight',
    {
      ...good,
      [`${Q}.lora_up.weight`]: { shape: [8, 2], values: [...Array(15).fill(0), Number.POSITIVE_INFINITY] },
    },
    ModelInvalidError,
    /lora_up\.weight" holds Infinity at index 15/,
  ],
  [
    'an alpha with two values',
    { ...good, [`${Q}.alpha`]: t([2]) },
    ModelInvalidError,
    /\.alpha" is a tensor of shape \[2\]; an alpha is one finite number/,
  ],
  [
    'a NaN alpha',
    { ...good, [`${Q}.alpha`]: { shape: [], values: [Number.NaN] } },
    ModelInvalidError,
    /\.alpha" is NaN; an alpha is one finite number/,
  ],
  [
    'an unknown kohya entry',
    { ...good, [`${Q}.lora_down.bias`]: t([2]) },
    ModelInvalidError,
    /keys that are not LoRA weights of its kohya format: ".*lora_down\.bias"/,
  ],
  [
    'a key that is not a LoRA weight in a diffusers file',
    {
      'unet.conv_in.lora_A.weight': t([2, 4]),
      'unet.conv_in.lora_B.weight': t([8, 2]),
      'unet.conv_in.weight': t([8, 4]),
    },
    ModelInvalidError,
    /not LoRA weights of its diffusers format: "unet\.conv_in\.weight"/,
  ],
  [
    'two down tensors for one layer (lora_A and lora.down)',
    {
      'unet.conv_in.lora_A.weight': t([2, 4]),
      'unet.conv_in.lora.down.weight': t([2, 4]),
      'unet.conv_in.lora_B.weight': t([8, 2]),
    },
    ModelInvalidError,
    /two down tensors for the same layer: "unet\.conv_in\.lora_A\.weight" and "unet\.conv_in\.lora\.down\.weight"/,
  ],
  [
    'LyCORIS LoHa',
    { ...good, 'lora_unet_conv_in.hada_w1_a': t([2, 2]), 'lora_unet_conv_in.hada_w1_b': t([2, 2]) },
    NotImplementedError,
    /holds LyCORIS LoHa \(hada_\*\) weights \(e\.g\. "lora_unet_conv_in\.hada_w1_a"\); latentkit applies plain LoRA only/,
  ],
  [
    'LyCORIS LoKr',
    { 'lora_unet_conv_in.lokr_w1': t([2, 2]), 'lora_unet_conv_in.lokr_w2': t([2, 2]) },
    NotImplementedError,
    /LyCORIS LoKr \(lokr_\*\) weights \(e\.g\. "lora_unet_conv_in\.lokr_w1"\)/,
  ],
  [
    'LyCORIS IA3',
    { 'lora_unet_conv_in.weight': t([8]), 'lora_unet_conv_in.on_input': t([]) },
    NotImplementedError,
    /LyCORIS IA3 \(on_input\) weights \(e\.g\. "lora_unet_conv_in\.on_input"\)/,
  ],
  [
    'LoCon with a Tucker middle weight',
    { ...good, [`${Q}.lora_mid.weight`]: t([2, 2, 3, 3]) },
    NotImplementedError,
    /Tucker middle weight \(lora_mid\)/,
  ],
  ['DoRA', { ...good, [`${Q}.dora_scale`]: t([1, 8]) }, NotImplementedError, /DoRA \(dora_scale\) weights/],
  [
    'a full weight difference',
    { 'lora_unet_conv_in.diff': t([8, 4, 3, 3]) },
    NotImplementedError,
    /a full weight difference \(diff\)/,
  ],
];

describe('readLoraFile: bad files fail with a typed error naming the file, the key and the fix', () => {
  it.each(cases)('%s', (_label, tensors, kind, words) => {
    const file = parseSafetensors(writeSafetensors(tensors), 'bad.safetensors');
    let error: unknown;
    try {
      readLoraFile(file, 'bad.safetensors');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(kind);
    const message = (error as Error).message;
    expect(message).toMatch(/^bad\.safetensors/);
    expect(message).toMatch(words);
    expect(message).toMatch(/Fix: /);
  });
});
