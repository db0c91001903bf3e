import { describe, expect, it } from 'vitest';
import { sgmToDiffusersName } from './sgm-lora-names.js';

// SDXL (layers_per_block 2): input_blocks 1-2 = down_blocks.0 (no attention), 3 = its downsampler,
// 4-5 = down_blocks.1, 6 = downsampler, 7-8 = down_blocks.2; output_blocks 0-2 = up_blocks.0 (2 has the
// upsampler at index 2), 3-5 = up_blocks.1, 6-8 = up_blocks.2.
const sdxl: [string, string][] = [
  ['input_blocks_1_0_in_layers_2', 'down_blocks_0_resnets_0_conv1'],
  ['input_blocks_2_0_out_layers_3', 'down_blocks_0_resnets_1_conv2'],
  ['input_blocks_2_0_emb_layers_1', 'down_blocks_0_resnets_1_time_emb_proj'],
  ['input_blocks_3_0_op', 'down_blocks_0_downsamplers_0_conv'],
  ['input_blocks_4_0_skip_connection', 'down_blocks_1_resnets_0_conv_shortcut'],
  [
    'input_blocks_4_1_transformer_blocks_0_attn1_to_q',
    'down_blocks_1_attentions_0_transformer_blocks_0_attn1_to_q',
  ],
  ['input_blocks_5_1_proj_in', 'down_blocks_1_attentions_1_proj_in'],
  [
    'input_blocks_8_1_transformer_blocks_9_ff_net_0_proj',
    'down_blocks_2_attentions_1_transformer_blocks_9_ff_net_0_proj',
  ],
  ['middle_block_0_in_layers_2', 'mid_block_resnets_0_conv1'],
  [
    'middle_block_1_transformer_blocks_3_attn2_to_k',
    'mid_block_attentions_0_transformer_blocks_3_attn2_to_k',
  ],
  ['middle_block_2_emb_layers_1', 'mid_block_resnets_1_time_emb_proj'],
  [
    'output_blocks_0_1_transformer_blocks_0_attn1_to_out_0',
    'up_blocks_0_attentions_0_transformer_blocks_0_attn1_to_out_0',
  ],
  ['output_blocks_2_2_conv', 'up_blocks_0_upsamplers_0_conv'],
  ['output_blocks_3_0_skip_connection', 'up_blocks_1_resnets_0_conv_shortcut'],
  ['output_blocks_5_1_proj_out', 'up_blocks_1_attentions_2_proj_out'],
  ['output_blocks_8_0_out_layers_3', 'up_blocks_2_resnets_2_conv2'],
  ['time_embed_0', 'time_embedding_linear_1'],
  ['time_embed_2', 'time_embedding_linear_2'],
  ['label_emb_0_0', 'add_embedding_linear_1'],
  ['input_blocks_0_0', 'conv_in'],
  ['out_2', 'conv_out'],
];

describe('sgmToDiffusersName', () => {
  it.each(sdxl)('SDXL %s → %s', (sgm, diffusers) => {
    expect(sgmToDiffusersName(sgm, 2)).toBe(diffusers);
  });

  it('follows layers_per_block (1: input_blocks 1 = down_blocks.0, 2 = its downsampler, 3 = down_blocks.1)', () => {
    expect(sgmToDiffusersName('input_blocks_1_1_proj_in', 1)).toBe('down_blocks_0_attentions_0_proj_in');
    expect(sgmToDiffusersName('input_blocks_2_0_op', 1)).toBe('down_blocks_0_downsamplers_0_conv');
    expect(sgmToDiffusersName('input_blocks_3_0_in_layers_2', 1)).toBe('down_blocks_1_resnets_0_conv1');
    expect(sgmToDiffusersName('output_blocks_3_1_proj_in', 1)).toBe('up_blocks_1_attentions_1_proj_in');
  });

  it('an upsampler at index 1 (a block without attention, as SD 1.x’s first up block)', () => {
    expect(sgmToDiffusersName('output_blocks_2_1_conv', 2)).toBe('up_blocks_0_upsamplers_0_conv');
  });

  it('leaves diffusers names and unknown layouts alone', () => {
    expect(sgmToDiffusersName('down_blocks_0_attentions_0_proj_in', 2)).toBeUndefined();
    expect(sgmToDiffusersName('text_model_encoder_layers_0_mlp_fc1', 2)).toBeUndefined();
    expect(sgmToDiffusersName('middle_block_3_in_layers_2', 2)).toBeUndefined();
    expect(sgmToDiffusersName('input_blocks_4_2_proj_in', 2)).toBeUndefined();
  });
});
