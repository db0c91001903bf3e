import { ModelMismatchError } from '@latentkit/core';

/** One reading of a size: where it comes from (a config key or a model input/output) and its value. */
export interface SizeReading {
  /** E.g. `text_encoder/config.json hidden_size` or `unet/model.onnx input encoder_hidden_states`. */
  readonly from: string;
  /** The value, or undefined where that source does not fix it (no config, symbolic dimension). */
  readonly value: number | undefined;
}

/** The sizes of a model's components, from configs and from session metadata. */
export interface ComponentSizes {
  /** The text encoder's hidden size: config `hidden_size`, output `last_hidden_state` dim 2. */
  readonly textHiddenSize: readonly SizeReading[];
  /** What the UNet attends to: config `cross_attention_dim`, input `encoder_hidden_states` dim 2. */
  readonly unetCrossAttentionDim: readonly SizeReading[];
  /** Latent channels: VAE config `latent_channels`, decoder input, encoder output, UNet `out_channels`/output. */
  readonly latentChannels: readonly SizeReading[];
  /** UNet input channels: config `in_channels`, input `sample` dim 1. */
  readonly unetInChannels: readonly SizeReading[];
  /**
   * What the folder is: `'upscale'` (the x4 upscaler: the UNet takes latents ‖ the noised low-res RGB image,
   * latent channels + 3) or `'text-to-image'` (default: latent channels, or 2 · latent + 1 for inpainting).
   */
  readonly kind?: 'text-to-image' | 'upscale';
}

function known(readings: readonly SizeReading[]): { from: string; value: number }[] {
  return readings.filter((r): r is { from: string; value: number } => r.value !== undefined);
}

function disagreement(readings: readonly SizeReading[]): string | undefined {
  const k = known(readings);
  if (k.length < 2 || k.every((r) => r.value === k[0]!.value)) return undefined;
  return k.map((r) => `${r.from} = ${r.value}`).join(', ');
}

/**
 * Checks that a model's components fit together, so a folder mixing parts of different models fails at load
 * rather than in the middle of a run: the text hidden size equals the UNet's cross-attention size, the latent
 * channels agree between the UNet and the VAE, and the UNet takes 4 latent channels (or 9 for inpainting:
 * latents ‖ mask ‖ masked-image latents; 7 for the x4 upscaler: latents ‖ noised low-res RGB). Sizes a config or a symbolic dimension leaves open are skipped.
 *
 * @returns The agreed values (undefined where nothing fixes them).
 * @throws {@link @latentkit/core!ModelMismatchError} listing every disagreement and where each value came from.
 */
export function checkComponentSizes(
  sizes: ComponentSizes,
  location: string,
): { hiddenSize?: number; latentChannels?: number; inChannels?: number } {
  const problems: string[] = [];
  const hidden = disagreement([...sizes.textHiddenSize, ...sizes.unetCrossAttentionDim]);
  if (hidden)
    problems.push(`the text encoder's hidden size must equal the UNet's cross-attention size (${hidden})`);
  const latent = disagreement(sizes.latentChannels);
  if (latent) problems.push(`the latent channels of the UNet and the VAE must agree (${latent})`);
  const inConflict = disagreement(sizes.unetInChannels);
  if (inConflict) problems.push(`the UNet's input channels disagree (${inConflict})`);

  const latentChannels = known(sizes.latentChannels)[0]?.value;
  const inChannels = known(sizes.unetInChannels)[0]?.value;
  if (!inConflict && inChannels !== undefined && latentChannels !== undefined && sizes.kind === 'upscale') {
    if (inChannels !== latentChannels + 3) {
      problems.push(
        `the UNet takes ${inChannels} input channels, but the VAE has ${latentChannels} latent channels: an x4 upscaler's UNet takes ${latentChannels + 3} (latents ‖ the noised low-res RGB image)`,
      );
    }
  } else if (!inConflict && inChannels !== undefined && latentChannels !== undefined) {
    if (inChannels !== latentChannels && inChannels !== 2 * latentChannels + 1) {
      problems.push(
        `the UNet takes ${inChannels} input channels, but the VAE has ${latentChannels} latent channels: expected ${latentChannels} (text-to-image) or ${2 * latentChannels + 1} (inpainting)`,
      );
    }
  }
  if (problems.length > 0) {
    throw new ModelMismatchError(
      `The components of ${location} do not fit together: ${problems.join('; ')}. Fix: use a model folder whose components come from one export.`,
    );
  }
  const out: { hiddenSize?: number; latentChannels?: number; inChannels?: number } = {};
  const hiddenSize = known([...sizes.textHiddenSize, ...sizes.unetCrossAttentionDim])[0]?.value;
  if (hiddenSize !== undefined) out.hiddenSize = hiddenSize;
  if (latentChannels !== undefined) out.latentChannels = latentChannels;
  if (inChannels !== undefined) out.inChannels = inChannels;
  return out;
}
