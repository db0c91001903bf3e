import { ModelMismatchError } from '@latentkit/core';
import type { OnnxTextEncoder } from './onnx-text-encoder.js';
import type { SdxlSizes } from './sdxl-config-checks.js';
import type { UnetDenoiser } from './unet-denoiser.js';

/** What {@link checkSdxlSessions} compares. */
export interface SdxlSessions {
  /** `model_index.json`'s pipeline class. */
  readonly className: string;
  /** The sizes the configs fixed, when `model_index.json` names an SDXL pipeline; else undefined. */
  readonly sdxl: SdxlSizes | undefined;
  /** The UNet. */
  readonly denoiser: UnetDenoiser;
  /** The UNet's model file. */
  readonly unetFile: string;
  /** The first text encoder, when loaded. */
  readonly textEncoder: OnnxTextEncoder | undefined;
  /** The second text encoder, when loaded. */
  readonly textEncoder2: OnnxTextEncoder | undefined;
}

/**
 * Checks that the sessions of an SDXL folder are SDXL's, once they are made: the pipeline class and the UNet
 * agree on being SDXL (inputs `text_embeds` and `time_ids`), the UNet's `text_embeds` and `time_ids` widths
 * equal text_encoder_2's `projection_dim` / `text_embeds` output and the time-id count of the configs, and
 * both text encoders have the `hidden_states.N` outputs SDXL reads.
 *
 * @throws {@link @latentkit/core!ModelMismatchError} naming the files and values that disagree, and the fix.
 */
export function checkSdxlSessions(s: SdxlSessions, location: string): void {
  const micro = s.denoiser.microConditioning;
  if (!s.sdxl) {
    if (micro) {
      throw new ModelMismatchError(
        `The components of ${location} do not fit together: ${s.unetFile} takes "text_embeds" and "time_ids" (an SDXL UNet), but model_index.json names ${s.className}, which is not an SDXL pipeline. Fix: use the model_index.json of the SDXL export ("_class_name": "StableDiffusionXLPipeline", with text_encoder_2 and tokenizer_2).`,
      );
    }
    return;
  }
  if (!micro) {
    throw new ModelMismatchError(
      `The components of ${location} do not fit together: model_index.json names ${s.className} (SDXL), but ${s.unetFile} has no "text_embeds" / "time_ids" inputs (an SD 1.x/2.x UNet). Fix: use the UNet of the SDXL export, or an SD 1.x/2.x model_index.json.`,
    );
  }
  const p = s.sdxl.textEmbedsDim;
  const fromGraph = s.textEncoder2?.textEmbedsSize;
  const widths = [
    { from: 'text_encoder_2/config.json projection_dim', value: p },
    { from: `${s.textEncoder2?.request.modelPath ?? 'text_encoder_2'} output text_embeds`, value: fromGraph },
    { from: `${s.unetFile} input text_embeds`, value: micro.textEmbedsDim },
  ].filter((r): r is { from: string; value: number } => r.value !== undefined);
  if (widths.some((r) => r.value !== widths[0]!.value)) {
    throw new ModelMismatchError(
      `The components of ${location} do not fit together: the pooled text embedding's width disagrees (${widths.map((r) => `${r.from} = ${r.value}`).join(', ')}). Fix: use the UNet and text_encoder_2 of one SDXL export.`,
    );
  }
  if (micro.timeIdCount !== s.sdxl.timeIdCount) {
    throw new ModelMismatchError(
      `The components of ${location} do not fit together: ${s.unetFile} takes time_ids of ${micro.timeIdCount} values, but the configs say ${s.sdxl.timeIdCount} (model_index.json requires_aesthetics_score, unet/config.json projection_class_embeddings_input_dim). Fix: use the UNet and configs of one export (the refiner takes 5, the base and Turbo 6).`,
    );
  }
  for (const encoder of [s.textEncoder, s.textEncoder2]) {
    if (encoder && encoder.hiddenStateCount < 2) {
      throw new ModelMismatchError(
        `${encoder.request.modelPath} in ${location} has no hidden_states.N outputs, but SDXL takes each text encoder's penultimate hidden state. Fix: export the text encoders with output_hidden_states (optimum-cli export onnx does this for SDXL models).`,
      );
    }
  }
}
