import { ModelMismatchError } from '@latentkit/core';
import { type ConfigFile, type ConfigRange, rangedConfigList, rangedConfigNumber } from './config-ranges.js';
import type { ConfigObject } from './model-configs.js';

/** The component configs of a model folder as read from disk, each absent when the folder has none. */
export interface RawModelConfigs {
  /** `unet/config.json`. */
  readonly unet?: ConfigObject | undefined;
  /** `text_encoder/config.json` (only read when the text encoder is loaded). */
  readonly textEncoder?: ConfigObject | undefined;
  /** `vae_decoder/config.json`. */
  readonly vaeDecoder?: ConfigObject | undefined;
  /** `vae_encoder/config.json`. */
  readonly vaeEncoder?: ConfigObject | undefined;
  /** `vae/config.json` (older exports). */
  readonly vae?: ConfigObject | undefined;
}

/** The config values latentkit uses, each checked against its range; undefined where a config leaves it open. */
export interface CheckedModelConfigs {
  /** `text_encoder/config.json` `hidden_size`. */
  readonly textHiddenSize: number | undefined;
  /** `text_encoder/config.json` `vocab_size`: the token ids of `vocab.json` must be below it. */
  readonly textVocabSize: number | undefined;
  /** `text_encoder/config.json` `layer_norm_eps`. */
  readonly layerNormEps: number | undefined;
  /** `unet/config.json` `in_channels` (4, or 9 for inpainting). */
  readonly unetInChannels: number | undefined;
  /** `unet/config.json` `out_channels`. */
  readonly unetOutChannels: number | undefined;
  /** `unet/config.json` `cross_attention_dim` when it is one number (a per-block list is left open). */
  readonly unetCrossAttentionDim: number | undefined;
  /** `unet/config.json` `sample_size`: the latent size the model was trained at. */
  readonly unetSampleSize: number | undefined;
  /**
   * `unet/config.json` `num_class_embeds`: the size of the UNet's class embedding (1000 for the x4 upscaler,
   * whose class labels are the noise level); class labels must be below it.
   */
  readonly unetNumClassEmbeds: number | undefined;
  /** `unet/config.json` `block_out_channels`: the UNet halves the latents `length − 1` times. */
  readonly unetBlockOutChannels: readonly number[] | undefined;
  /** The VAE's `scaling_factor` (default 0.18215). */
  readonly scalingFactor: number;
  /** The VAE's `shift_factor` (default 0). */
  readonly shiftFactor: number;
  /** The VAE's `latent_channels`. */
  readonly latentChannels: number | undefined;
  /** Image pixels per latent pixel: `2^(len(block_out_channels) − 1)` of the VAE (default 8). */
  readonly downscale: number;
}

// The ranges. Generous: every released SD-family model lies well inside them; what lies outside makes NaN
// images, huge allocations or a crash inside onnxruntime.
const CHANNELS: ConfigRange = { integer: true, min: 1, max: 256, usual: '4 (9 for an inpainting UNet)' };
const HIDDEN: ConfigRange = {
  integer: true,
  min: 1,
  max: 65_536,
  usual: '768 for Stable Diffusion 1.x, 1024 for 2.x',
};
const BLOCK_CHANNELS: ConfigRange = {
  integer: true,
  min: 1,
  max: 65_536,
  usual: '[320, 640, 1280, 1280] for the UNet and [128, 256, 512, 512] for the VAE',
};
/** The most entries `block_out_channels` may have (8: a VAE downscale of at most 128). */
export const MAX_BLOCKS = 8;
/** The largest UNet `sample_size` (latent pixels): 1024, i.e. 8192 image pixels with the usual VAE. */
export const MAX_SAMPLE_SIZE = 1024;
const SAMPLE_SIZE: ConfigRange = {
  integer: true,
  min: 1,
  max: MAX_SAMPLE_SIZE,
  usual: '64 for Stable Diffusion 1.x (512 px), 96 for 2.x at 768 px',
};
const SCALING_FACTOR: ConfigRange = {
  min: 0.001,
  max: 1000,
  usual: '0.18215 for Stable Diffusion 1.x/2.x',
};
const SHIFT_FACTOR: ConfigRange = { min: -1000, max: 1000, usual: '0 (none) for Stable Diffusion 1.x/2.x' };
const CLASS_EMBEDS: ConfigRange = {
  integer: true,
  min: 1,
  max: 1_000_000,
  usual: '1000 for the x4 upscaler, whose class labels are its noise levels',
};
const VOCAB_SIZE: ConfigRange = { integer: true, min: 1, max: 10_000_000, usual: '49408 (CLIP)' };
const LAYER_NORM_EPS: ConfigRange = { min: 0, minExclusive: true, max: 1, usual: '1e-5' };

interface VaeValues {
  where: ConfigFile;
  scalingFactor: number | undefined;
  shiftFactor: number | undefined;
  latentChannels: number | undefined;
  blocks: readonly number[] | undefined;
}

function vaeValues(config: ConfigObject | undefined, file: string, location: string): VaeValues | undefined {
  if (config === undefined) return undefined;
  const where = { file, location };
  return {
    where,
    scalingFactor: rangedConfigNumber(config, 'scaling_factor', where, SCALING_FACTOR),
    shiftFactor: rangedConfigNumber(config, 'shift_factor', where, SHIFT_FACTOR),
    latentChannels: rangedConfigNumber(config, 'latent_channels', where, CHANNELS),
    blocks: rangedConfigList(config, 'block_out_channels', where, BLOCK_CHANNELS, MAX_BLOCKS),
  };
}

/**
 * Checks every number latentkit reads from a model folder's component configs against a sane range, before
 * anything is allocated or a session created: the VAE's `scaling_factor` (0 made NaN images), `shift_factor`,
 * `latent_channels` and `block_out_channels`; the UNet's `in_channels`, `out_channels`, `cross_attention_dim`,
 * `sample_size` (1e6 made a RangeError), `num_class_embeds` and `block_out_channels`; the text encoder's `hidden_size` and
 * `vocab_size` and `layer_norm_eps`. Every VAE config present (`vae_decoder/`, `vae_encoder/`, `vae/`) is checked, and the
 * decoder's and encoder's scaling factors must agree. Scheduler configs are checked by the scheduler classes.
 *
 * @param configs - The configs as read.
 * @param location - The model folder or URL, for messages.
 * @returns The values, with the VAE's defaults filled in.
 * @throws {@link @latentkit/core!ModelInvalidError} naming the file, key, value, the expected range and the fix;
 *   {@link @latentkit/core!ModelMismatchError} when the VAE configs disagree on a factor.
 */
export function checkModelConfigs(configs: RawModelConfigs, location: string): CheckedModelConfigs {
  const unet = { file: 'unet/config.json', location };
  const text = { file: 'text_encoder/config.json', location };
  const vaes = [
    vaeValues(configs.vaeDecoder, 'vae_decoder/config.json', location),
    vaeValues(configs.vaeEncoder, 'vae_encoder/config.json', location),
    vaeValues(configs.vae, 'vae/config.json', location),
  ].filter((v): v is VaeValues => v !== undefined);
  for (const key of ['scalingFactor', 'shiftFactor'] as const) {
    const stated = vaes.filter((v) => v[key] !== undefined);
    if (stated.some((v) => v[key] !== stated[0]![key])) {
      const name = key === 'scalingFactor' ? 'scaling_factor' : 'shift_factor';
      throw new ModelMismatchError(
        `The VAE configs of ${location} disagree on "${name}" (${stated.map((v) => `${v.where.file}: ${v[key]}`).join(', ')}). Fix: use the value of the VAE the model was trained with in every VAE config.json.`,
      );
    }
  }
  const vae = vaes[0];
  const crossDim = configs.unet?.['cross_attention_dim'];
  return {
    textHiddenSize: rangedConfigNumber(configs.textEncoder, 'hidden_size', text, HIDDEN),
    textVocabSize: rangedConfigNumber(configs.textEncoder, 'vocab_size', text, VOCAB_SIZE),
    layerNormEps: rangedConfigNumber(configs.textEncoder, 'layer_norm_eps', text, LAYER_NORM_EPS),
    unetInChannels: rangedConfigNumber(configs.unet, 'in_channels', unet, CHANNELS),
    unetOutChannels: rangedConfigNumber(configs.unet, 'out_channels', unet, CHANNELS),
    unetCrossAttentionDim: Array.isArray(crossDim)
      ? undefined
      : rangedConfigNumber(configs.unet, 'cross_attention_dim', unet, HIDDEN),
    unetSampleSize: rangedConfigNumber(configs.unet, 'sample_size', unet, SAMPLE_SIZE),
    unetNumClassEmbeds: rangedConfigNumber(configs.unet, 'num_class_embeds', unet, CLASS_EMBEDS),
    unetBlockOutChannels: rangedConfigList(
      configs.unet,
      'block_out_channels',
      unet,
      BLOCK_CHANNELS,
      MAX_BLOCKS,
    ),
    scalingFactor: vaes.find((v) => v.scalingFactor !== undefined)?.scalingFactor ?? 0.18215,
    shiftFactor: vaes.find((v) => v.shiftFactor !== undefined)?.shiftFactor ?? 0,
    latentChannels: vae?.latentChannels,
    downscale: vae?.blocks ? 2 ** (vae.blocks.length - 1) : 8,
  };
}
