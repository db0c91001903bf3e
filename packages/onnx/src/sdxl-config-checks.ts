import { ModelMismatchError, type SdxlPipelineConfig } from '@latentkit/core';
import { type ConfigRange, configValueError, rangedConfigNumber } from './config-ranges.js';
import type { ConfigObject } from './model-configs.js';

/** The configs an SDXL folder's checks read; each absent when the folder has none. */
export interface SdxlConfigs {
  /** `unet/config.json`. */
  readonly unet: ConfigObject | undefined;
  /** `text_encoder/config.json` (CLIP ViT-L; the refiner has none). */
  readonly textEncoder: ConfigObject | undefined;
  /** `text_encoder_2/config.json` (OpenCLIP bigG with projection). */
  readonly textEncoder2: ConfigObject | undefined;
  /** Whether the folder has the first text encoder (`model_index.json` lists `text_encoder`). */
  readonly hasTextEncoder: boolean;
  /** `model_index.json`'s SDXL settings. */
  readonly pipeline: SdxlPipelineConfig;
}

/** What the SDXL configs fix; undefined where they leave it open. */
export interface SdxlSizes {
  /** `text_encoder_2/config.json` `projection_dim`: the width P of `text_embeds` (1280). */
  readonly textEmbedsDim: number | undefined;
  /**
   * Values per `time_ids` row, `(projection_class_embeddings_input_dim − P) / addition_time_embed_dim` of
   * the UNet config: 6 (base) or 5 (refiner); else from `requires_aesthetics_score`.
   */
  readonly timeIdCount: number;
  /** `text_encoder_2/config.json` `hidden_size` (1280). */
  readonly text2HiddenSize: number | undefined;
  /** `text_encoder_2/config.json` `vocab_size`. */
  readonly text2VocabSize: number | undefined;
  /** `text_encoder_2/config.json` `layer_norm_eps`. */
  readonly text2LayerNormEps: number | undefined;
}

const HIDDEN: ConfigRange = {
  integer: true,
  min: 1,
  max: 65_536,
  usual: '1280 for SDXL (768 for text_encoder)',
};
const TIME_EMBED: ConfigRange = { integer: true, min: 1, max: 65_536, usual: '256 for SDXL' };
const PROJECTION_INPUT: ConfigRange = {
  integer: true,
  min: 1,
  max: 1_000_000,
  usual: '2816 for SDXL base (6 × 256 + 1280), 2560 for the refiner (5 × 256 + 1280)',
};
const VOCAB_SIZE: ConfigRange = { integer: true, min: 1, max: 10_000_000, usual: '49408 (CLIP)' };
const LAYER_NORM_EPS: ConfigRange = { min: 0, minExclusive: true, max: 1, usual: '1e-5' };

/**
 * Checks that an SDXL folder's configs fit together, before any session is made:
 *
 * - `unet/config.json` `addition_embed_type` is `"text_time"` (when given);
 * - `cross_attention_dim` = text_encoder `hidden_size` + text_encoder_2 `hidden_size` (the refiner, without
 *   text_encoder: text_encoder_2's alone);
 * - `projection_class_embeddings_input_dim` = K · `addition_time_embed_dim` + text_encoder_2 `projection_dim`
 *   with K = 5 or 6 time ids, and K = 5 exactly when `model_index.json` says `requires_aesthetics_score`.
 *
 * @returns The sizes the configs fix (K from `requires_aesthetics_score` when the UNet config leaves it open).
 * @throws {@link @latentkit/core!ModelInvalidError} for a value out of range or a UNet that is not SDXL's
 *   kind; {@link @latentkit/core!ModelMismatchError} naming both files when the configs disagree.
 */
export function checkSdxlConfigs(configs: SdxlConfigs, location: string): SdxlSizes {
  const unetFile = { file: 'unet/config.json', location };
  const text1 = { file: 'text_encoder/config.json', location };
  const text2 = { file: 'text_encoder_2/config.json', location };
  const embedType = configs.unet?.['addition_embed_type'];
  if (embedType !== undefined && embedType !== null && embedType !== 'text_time') {
    throw configValueError(
      unetFile,
      'addition_embed_type',
      embedType,
      '"text_time" (an SDXL UNet takes the pooled text embedding and the time ids)',
      'use the UNet of the SDXL export, or an SD 1.x/2.x model_index.json for an SD 1.x/2.x UNet',
    );
  }
  const d1 = configs.hasTextEncoder
    ? rangedConfigNumber(configs.textEncoder, 'hidden_size', text1, HIDDEN)
    : 0;
  const d2 = rangedConfigNumber(configs.textEncoder2, 'hidden_size', text2, HIDDEN);
  const p = rangedConfigNumber(configs.textEncoder2, 'projection_dim', text2, HIDDEN);
  const crossDim = configs.unet?.['cross_attention_dim'];
  const cross = Array.isArray(crossDim)
    ? undefined
    : rangedConfigNumber(configs.unet, 'cross_attention_dim', unetFile, HIDDEN);
  if (cross !== undefined && d1 !== undefined && d2 !== undefined && cross !== d1 + d2) {
    const texts = configs.hasTextEncoder
      ? `text_encoder/config.json hidden_size ${d1} + text_encoder_2/config.json hidden_size ${d2} = ${d1 + d2}`
      : `text_encoder_2/config.json hidden_size ${d2} (the folder has no text_encoder, as the refiner)`;
    throw new ModelMismatchError(
      `The components of ${location} do not fit together: unet/config.json cross_attention_dim = ${cross}, but SDXL's UNet attends to both text encoders' hidden states concatenated: ${texts}. Fix: use the UNet and text encoders of one export (a refiner folder has no text_encoder, and its UNet's cross_attention_dim is text_encoder_2's hidden_size).`,
    );
  }
  const timeEmbed = rangedConfigNumber(configs.unet, 'addition_time_embed_dim', unetFile, TIME_EMBED);
  const projectionInput = rangedConfigNumber(
    configs.unet,
    'projection_class_embeddings_input_dim',
    unetFile,
    PROJECTION_INPUT,
  );
  const wanted = configs.pipeline.requiresAestheticsScore ? 5 : 6;
  let timeIdCount = wanted;
  if (timeEmbed !== undefined && projectionInput !== undefined && p !== undefined) {
    const k = (projectionInput - p) / timeEmbed;
    if (k !== 5 && k !== 6) {
      throw new ModelMismatchError(
        `The components of ${location} do not fit together: unet/config.json projection_class_embeddings_input_dim = ${projectionInput} should be K × addition_time_embed_dim (${timeEmbed}) + text_encoder_2/config.json projection_dim (${p}) with K = 6 time ids (SDXL base) or 5 (the refiner), but it gives K = ${k}. Fix: use the UNet and text_encoder_2 of one SDXL export.`,
      );
    }
    if (k !== wanted) {
      throw new ModelMismatchError(
        `The components of ${location} do not fit together: model_index.json requires_aesthetics_score = ${configs.pipeline.requiresAestheticsScore} means ${wanted} time ids, but unet/config.json (projection_class_embeddings_input_dim ${projectionInput} = ${k} × ${timeEmbed} + ${p}) takes ${k}. Fix: set requires_aesthetics_score to ${k === 5} in model_index.json (true for the refiner, false for the base and Turbo), or use the UNet of this export.`,
      );
    }
    timeIdCount = k;
  }
  return {
    textEmbedsDim: p,
    timeIdCount,
    text2HiddenSize: d2,
    text2VocabSize: rangedConfigNumber(configs.textEncoder2, 'vocab_size', text2, VOCAB_SIZE),
    text2LayerNormEps: rangedConfigNumber(configs.textEncoder2, 'layer_norm_eps', text2, LAYER_NORM_EPS),
  };
}
