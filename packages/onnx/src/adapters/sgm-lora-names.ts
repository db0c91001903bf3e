/**
 * kohya's SDXL LoRAs name UNet modules as the original (Stability "SGM") model does —
 * `input_blocks_4_1_transformer_blocks_0_attn1_to_q`, `middle_block_2_emb_layers_1`,
 * `output_blocks_2_2_conv` — rather than as diffusers does. This maps such an underscored name to diffusers'
 * (`down_blocks_1_attentions_0_transformer_blocks_0_attn1_to_q`, `mid_block_resnets_1_time_emb_proj`,
 * `up_blocks_0_upsamplers_0_conv`) by diffusers' own rules (`_maybe_map_sgm_blocks_to_diffusers` and
 * `_convert_unet_lora_key`), which need the UNet's `layers_per_block`.
 */

const INNER = ['resnets', 'attentions', 'upsamplers'] as const;

// Inside an SGM ResBlock: in_layers = [norm, act, conv], out_layers = [norm, act, dropout, conv],
// emb_layers = [act, linear].
const RESNET_PARTS: readonly (readonly [string, string])[] = [
  ['in_layers_2', 'conv1'],
  ['out_layers_3', 'conv2'],
  ['emb_layers_1', 'time_emb_proj'],
  ['skip_connection', 'conv_shortcut'],
];

// Top-level modules outside the blocks.
const TOP_LEVEL: Readonly<Record<string, string>> = {
  time_embed_0: 'time_embedding_linear_1',
  time_embed_2: 'time_embedding_linear_2',
  label_emb_0_0: 'add_embedding_linear_1',
  label_emb_0_2: 'add_embedding_linear_2',
  input_blocks_0_0: 'conv_in',
  out_2: 'conv_out',
};

function renameResnetPart(rest: string): string {
  for (const [sgm, diffusers] of RESNET_PARTS) if (rest === sgm) return diffusers;
  return rest;
}

/**
 * The diffusers name of an SGM-style underscored UNet module name, or `undefined` when the name is not
 * SGM-style (or not a block layout this understands).
 *
 * @param flatName - The name without `lora_unet_`, e.g. `input_blocks_4_1_proj_in`.
 * @param layersPerBlock - The UNet's `layers_per_block` (2 for SDXL base and refiner).
 */
export function sgmToDiffusersName(flatName: string, layersPerBlock: number): string | undefined {
  const top = TOP_LEVEL[flatName];
  if (top !== undefined) return top;
  const per = layersPerBlock + 1;
  let m = /^input_blocks_(\d+)_(\d+)_(.+)$/.exec(flatName);
  if (m) {
    const i = Number(m[1]);
    const inner = Number(m[2]);
    const rest = m[3]!;
    if (i < 1) return undefined;
    const block = Math.floor((i - 1) / per);
    const layer = (i - 1) % per;
    if (rest === 'op') return `down_blocks_${block}_downsamplers_0_conv`;
    if (inner === 0) return `down_blocks_${block}_resnets_${layer}_${renameResnetPart(rest)}`;
    if (inner === 1) return `down_blocks_${block}_attentions_${layer}_${rest}`;
    return undefined;
  }
  m = /^middle_block_(\d+)_(.+)$/.exec(flatName);
  if (m) {
    const i = Number(m[1]);
    const rest = m[2]!;
    if (i === 1) return `mid_block_attentions_0_${rest}`;
    if (i === 0 || i === 2) return `mid_block_resnets_${i / 2}_${renameResnetPart(rest)}`;
    return undefined;
  }
  m = /^output_blocks_(\d+)_(\d+)_(.+)$/.exec(flatName);
  if (m) {
    const i = Number(m[1]);
    const inner = Number(m[2]);
    const rest = m[3]!;
    const block = Math.floor(i / per);
    const layer = i % per;
    // a block without attention has its upsampler at index 1 (diffusers' rule assumes index 2)
    const kind = rest === 'conv' && inner >= 1 ? 'upsamplers' : INNER[inner];
    if (kind === 'resnets') return `up_blocks_${block}_resnets_${layer}_${renameResnetPart(rest)}`;
    if (kind === 'attentions') return `up_blocks_${block}_attentions_${layer}_${rest}`;
    if (kind === 'upsamplers') return `up_blocks_${block}_upsamplers_0_${rest}`;
    return undefined;
  }
  return undefined;
}
