import {
  type GroundingSpec,
  ModelInvalidError,
  ModelMismatchError,
  NotImplementedError,
} from '@latentkit/core';
import type { ConfigObject } from './model-configs.js';

/** What a model folder says about grounding, from `model_index.json` and `unet/config.json` (no session needed). */
export interface GroundingDeclared {
  /** `model_index.json` names `StableDiffusionGLIGENPipeline`. */
  readonly pipeline: boolean;
  /** `unet/config.json` has `"attention_type": "gated"` (diffusers' GLIGEN UNet). */
  readonly config: boolean;
}

/**
 * Reads and checks what the folder declares about grounding before any session is made: `attention_type`
 * of `unet/config.json` is a string when present; `"gated-text-image"` (GLIGEN grounded on images) is not
 * supported; a `StableDiffusionGLIGENPipeline` folder needs a UNet config that says `"gated"` when it says
 * anything.
 *
 * @param className - `_class_name` of `model_index.json`.
 * @param grounded - Whether that class is the GLIGEN pipeline.
 * @param unetConfig - `unet/config.json`, if the folder has one.
 * @param location - The model folder, for messages.
 * @throws {@link @latentkit/core!ModelInvalidError} for an `attention_type` that is not a string;
 *   {@link @latentkit/core!NotImplementedError} for `"gated-text-image"`;
 *   {@link @latentkit/core!ModelMismatchError} for a GLIGEN pipeline whose UNet config is not gated.
 */
export function declaredGrounding(
  className: string,
  grounded: boolean,
  unetConfig: ConfigObject | undefined,
  location: string,
): GroundingDeclared {
  const attention = unetConfig?.['attention_type'];
  if (attention !== undefined && attention !== null && typeof attention !== 'string') {
    throw new ModelInvalidError(
      `unet/config.json in ${location}: "attention_type" is ${JSON.stringify(attention)}; expected a string ("default", or "gated" for a GLIGEN UNet). Fix: correct the file.`,
    );
  }
  if (attention === 'gated-text-image') {
    throw new NotImplementedError(
      `unet/config.json in ${location} has "attention_type": "gated-text-image" (GLIGEN grounded on reference images); only text-box grounding ("gated") is supported. Use a text-box GLIGEN export such as masterful/gligen-1-4-generation-text-box.`,
    );
  }
  const config = attention === 'gated';
  if (grounded && attention !== undefined && attention !== null && !config) {
    throw new ModelMismatchError(
      `The components of ${location} do not fit together: model_index.json names ${className}, but unet/config.json has "attention_type": ${JSON.stringify(attention)} (a GLIGEN UNet has "gated"). Fix: use the UNet of the GLIGEN export, or a model_index.json naming StableDiffusionPipeline.`,
    );
  }
  return { pipeline: grounded, config };
}

/** What the loaded sessions say, for {@link checkGroundedSessions}. */
export interface GroundingFound {
  /** The UNet file, for messages. */
  readonly unetFile: string;
  /** The grounded UNet's slots and embedding width, or undefined for a UNet without the gligen_* inputs. */
  readonly grounding: GroundingSpec | undefined;
  /** Whether a text encoder was loaded. */
  readonly textEncoderLoaded: boolean;
  /** The text encoder file, for messages. */
  readonly textEncoderFile: string;
  /** Whether the text encoder has `pooler_output`. */
  readonly hasPooledOutput: boolean;
  /** The pooled width: `pooler_output` dim 1, else `text_encoder/config.json` `hidden_size`. */
  readonly pooledSize: number | undefined;
  /** Where `pooledSize` came from. */
  readonly pooledFrom: string;
}

/**
 * Checks, once the sessions are made, that a folder that declares grounding has a grounded UNet, and that
 * a grounded UNet's phrase embedding width is the text encoder's pooled width (GLIGEN encodes phrases with
 * the model's own text encoder). A GLIGEN pipeline folder's text encoder must have `pooler_output`.
 *
 * @throws {@link @latentkit/core!ModelMismatchError} naming both values and the fix.
 */
export function checkGroundedSessions(
  declared: GroundingDeclared,
  found: GroundingFound,
  location: string,
): void {
  const fix =
    'Fix: export the UNet with the inputs gligen_boxes, gligen_positive_embeddings, gligen_masks and gligen_enabled (docs/layout-to-image.md, "ONNX convention"), or use a plain model folder (model_index.json StableDiffusionPipeline, no "attention_type": "gated").';
  if (!found.grounding && (declared.pipeline || declared.config)) {
    const why = declared.pipeline
      ? 'model_index.json names StableDiffusionGLIGENPipeline'
      : 'unet/config.json has "attention_type": "gated"';
    throw new ModelMismatchError(
      `The components of ${location} do not fit together: ${why}, but ${found.unetFile} has no grounding inputs (gligen_*). ${fix}`,
    );
  }
  if (!found.grounding || !found.textEncoderLoaded) return;
  if (declared.pipeline && !found.hasPooledOutput) {
    throw new ModelMismatchError(
      `The components of ${location} do not fit together: a GLIGEN model encodes its phrases to the text encoder's pooled output, but ${found.textEncoderFile} has no "pooler_output" output. Fix: re-export the text encoder with pooler_output (Optimum and diffusers exports of CLIPTextModel have it).`,
    );
  }
  const d = found.grounding.embeddingDim;
  if (found.pooledSize !== undefined && found.pooledSize !== d) {
    throw new ModelMismatchError(
      `The components of ${location} do not fit together: ${found.unetFile} takes phrase embeddings of width ${d} (gligen_positive_embeddings), but the text encoder's pooled output is ${found.pooledSize} wide (${found.pooledFrom}). Fix: use the text encoder and UNet of one export.`,
    );
  }
}
