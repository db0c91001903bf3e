import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { kohyaLayer, type TestTensor, writeSafetensors } from '../test-support/safetensors-writer.js';
import { readLoraFile } from './lora-file.js';
import { parseSafetensors } from './safetensors.js';

const fixture = (name: string) =>
  parseSafetensors(
    readFileSync(fileURLToPath(new URL(`../../../../tests/fixtures/lora/${name}`, import.meta.url))),
    name,
  );
const read = (tensors: Record<string, TestTensor>) =>
  readLoraFile(parseSafetensors(writeSafetensors(tensors), 'test.safetensors'), 'test.safetensors');
const t = (shape: number[]): TestTensor => ({
  shape,
  values: Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => i / 10),
});

const BLOCK = 'down_blocks.0.attentions.0.transformer_blocks.0';

describe('readLoraFile: kohya / A1111', () => {
  const lora = readLoraFile(fixture('kohya.safetensors'), 'kohya.safetensors');

  it('reads every layer with its component, underscored name, tensors and alpha', () => {
    expect(lora.format).toBe('kohya');
    expect(lora.layers.length).toBe(19);
    expect(lora.ignoredKeys).toEqual([]);
    const q = lora.layers.find(
      (l) => l.flatName === 'down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q',
    )!;
    expect(q).toMatchObject({
      component: 'unet',
      key: 'lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q.lora_down.weight',
      alpha: 2,
    });
    expect(q.module).toBeUndefined();
    expect(q.down.shape).toEqual([4, 8]);
    expect(q.up.shape).toEqual([8, 4]);
    const te = lora.layers.filter((l) => l.component === 'text_encoder').map((l) => l.flatName);
    expect(te).toEqual([
      'text_model_encoder_layers_0_self_attn_q_proj',
      'text_model_encoder_layers_0_self_attn_v_proj',
      'text_model_encoder_layers_0_self_attn_out_proj',
      'text_model_encoder_layers_1_mlp_fc1',
      'text_model_encoder_layers_1_mlp_fc2',
    ]);
  });

  it('leaves alpha out where the file has none (alpha = rank), and reads LoCon conv layers', () => {
    const v = lora.layers.find((l) => l.flatName?.endsWith('attn1_to_v'))!;
    expect(v.alpha).toBeUndefined();
    const conv = lora.layers.find((l) => l.flatName === 'down_blocks_0_resnets_0_conv1')!;
    expect(conv.down.shape).toEqual([2, 8, 3, 3]);
    expect(conv.up.shape).toEqual([8, 2, 1, 1]);
    expect(conv.alpha).toBe(1);
    const projIn = lora.layers.find((l) => l.flatName === 'down_blocks_0_attentions_0_proj_in')!;
    expect(projIn.down.shape).toEqual([4, 8, 1, 1]);
    expect(lora.layers.find((l) => l.flatName === 'time_embedding_linear_1')!.alpha).toBe(8);
  });

  it('takes lora_te1_ / lora_te2_ as SDXL’s two text encoders, and skips bundled embeddings', () => {
    const file = read({
      ...kohyaLayer('lora_te1_text_model_encoder_layers_0_mlp_fc1', { shape: [2, 4] }, { shape: [6, 2] }, 1),
      ...kohyaLayer('lora_te2_text_model_encoder_layers_0_mlp_fc1', { shape: [2, 4] }, { shape: [6, 2] }, 1),
      'bundle_emb.pink.string_to_param.*': t([1, 4]),
    });
    expect(file.layers.map((l) => [l.component, l.flatName])).toEqual([
      ['text_encoder', 'text_model_encoder_layers_0_mlp_fc1'],
      ['text_encoder_2', 'text_model_encoder_layers_0_mlp_fc1'],
    ]);
    expect(file.ignoredKeys).toEqual(['bundle_emb.pink.string_to_param.*']);
  });
});

describe('readLoraFile: diffusers / PEFT', () => {
  it('reads lora_A / lora_B with dotted module paths and the alpha where present', () => {
    const lora = readLoraFile(fixture('peft.safetensors'), 'peft.safetensors');
    expect(lora.format).toBe('diffusers');
    expect(lora.layers.length).toBe(9);
    const k = lora.layers.find((l) => l.module === `${BLOCK}.attn1.to_k`)!;
    expect(k).toMatchObject({
      component: 'unet',
      key: `unet.${BLOCK}.attn1.to_k.lora_A.weight`,
      alpha: 1,
    });
    expect(k.flatName).toBeUndefined();
    expect(lora.layers.find((l) => l.module === `${BLOCK}.attn1.to_q`)!.alpha).toBeUndefined();
    expect(lora.layers.filter((l) => l.component === 'text_encoder').map((l) => l.module)).toEqual([
      'text_model.encoder.layers.0.self_attn.q_proj',
      'text_model.encoder.layers.0.self_attn.k_proj',
      'text_model.encoder.layers.1.mlp.fc2',
    ]);
  });

  it('reads the older diffusers keys: lora.down/up, lora_linear_layer, attention processors, no prefix', () => {
    const lora = read({
      [`unet.${BLOCK}.ff.net.2.lora.down.weight`]: t([2, 16]),
      [`unet.${BLOCK}.ff.net.2.lora.up.weight`]: t([8, 2]),
      'text_encoder.text_model.encoder.layers.0.mlp.fc1.lora_linear_layer.down.weight': t([2, 16]),
      'text_encoder.text_model.encoder.layers.0.mlp.fc1.lora_linear_layer.up.weight': t([32, 2]),
      [`unet.${BLOCK}.attn1.processor.to_out_lora.down.weight`]: t([2, 8]),
      [`unet.${BLOCK}.attn1.processor.to_out_lora.up.weight`]: t([8, 2]),
      'text_encoder.text_model.encoder.layers.0.self_attn.to_q_lora.down.weight': t([2, 16]),
      'text_encoder.text_model.encoder.layers.0.self_attn.to_q_lora.up.weight': t([16, 2]),
      [`${BLOCK}.attn2.processor.to_k_lora.down.weight`]: t([2, 12]),
      [`${BLOCK}.attn2.processor.to_k_lora.up.weight`]: t([8, 2]),
      'text_encoder_2.text_model.encoder.layers.1.self_attn.out_proj.lora_A.weight': t([2, 16]),
      'text_encoder_2.text_model.encoder.layers.1.self_attn.out_proj.lora_B.weight': t([16, 2]),
      'text_encoder_2.text_model.encoder.layers.1.self_attn.out_proj.alpha': t([]),
    });
    expect(lora.format).toBe('diffusers');
    expect(lora.layers.map((l) => [l.component, l.module])).toEqual([
      ['unet', `${BLOCK}.ff.net.2`],
      ['text_encoder', 'text_model.encoder.layers.0.mlp.fc1'],
      ['unet', `${BLOCK}.attn1.to_out.0`],
      ['text_encoder', 'text_model.encoder.layers.0.self_attn.q_proj'],
      ['unet', `${BLOCK}.attn2.to_k`],
      ['text_encoder_2', 'text_model.encoder.layers.1.self_attn.out_proj'],
    ]);
    expect(lora.layers[5]!.alpha).toBe(0);
  });

  it('reads PEFT keys with an adapter name and the base_model.model. prefix', () => {
    const lora = read({
      [`base_model.model.${BLOCK}.attn1.to_q.lora_A.default.weight`]: t([2, 8]),
      [`base_model.model.${BLOCK}.attn1.to_q.lora_B.default.weight`]: t([8, 2]),
    });
    expect(lora.layers.map((l) => [l.component, l.module, l.down.shape, l.up.shape])).toEqual([
      ['unet', `${BLOCK}.attn1.to_q`, [2, 8], [8, 2]],
    ]);
  });

  it('keeps the values as stored', () => {
    const lora = read({
      'unet.conv_in.lora_A.weight': { shape: [1, 2], values: [0.5, -1.5] },
      'unet.conv_in.lora_B.weight': { shape: [3, 1], values: [2, 0, -4] },
    });
    expect([...lora.layers[0]!.down.data]).toEqual([0.5, -1.5]);
    expect([...lora.layers[0]!.up.data]).toEqual([2, 0, -4]);
  });
});
