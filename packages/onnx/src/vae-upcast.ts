import type { InferenceSession } from 'onnxruntime-common';
import { configValueError } from './config-ranges.js';
import type { ConfigObject } from './model-configs.js';
import { findInput } from './ort-io.js';

/**
 * SDXL's VAE overflows in float16 (its config says `force_upcast: true`; diffusers runs it in float32):
 * a float16 VAE decodes most SDXL latents to NaN, i.e. black images. madebyollin/sdxl-vae-fp16-fix is a
 * VAE fine-tuned not to overflow, whose config says `force_upcast: false`.
 */
export const FP16_FIX_VAE = 'madebyollin/sdxl-vae-fp16-fix';

/**
 * Whether any of the VAE configs says `force_upcast: true` (SDXL's VAE); false when none says it.
 *
 * @throws {@link @latentkit/core!ModelInvalidError} for a `force_upcast` that is not a boolean.
 */
export function vaeForceUpcast(
  configs: readonly { file: string; config: ConfigObject | undefined }[],
  location: string,
): boolean {
  let upcast = false;
  for (const { file, config } of configs) {
    const value = config?.['force_upcast'];
    if (value === undefined || value === null) continue;
    if (typeof value !== 'boolean') {
      throw configValueError(
        { file, location },
        'force_upcast',
        value,
        'true or false',
        "correct the file (SDXL's VAE has true; the fp16-fix VAE false)",
      );
    }
    upcast ||= value;
  }
  return upcast;
}

/** Whether a VAE session takes float16 (its `latent_sample` or `sample` input). */
export function isFloat16Vae(session: InferenceSession, input: 'latent_sample' | 'sample'): boolean {
  return findInput(session, input)?.type === 'float16';
}

/** The float32 file to use instead of a float16 VAE file, when there is one: `<folder>/model.onnx`. */
export function float32VaeFile(file: string): string | undefined {
  const slash = file.lastIndexOf('/');
  if (slash < 0) return undefined;
  const fallback = `${file.slice(0, slash)}/model.onnx`;
  return fallback === file ? undefined : fallback;
}

/**
 * The one warning of a load that keeps a float16 VAE although its config says `force_upcast: true`.
 *
 * @param files - The float16 VAE files kept.
 * @param location - The model folder.
 */
export function float16VaeWarning(files: readonly string[], location: string): string {
  return (
    `latentkit: warning: ${files.join(' and ')} in ${location} ${files.length > 1 ? 'are' : 'is'} float16, but the VAE config says force_upcast: true: ` +
    "SDXL's VAE overflows in float16 and most images decode to NaN (black). Fix: put the float32 VAE export beside it as " +
    `${files.map((f) => float32VaeFile(f) ?? f).join(' / ')} (it is then taken automatically), or use the fp16-fix VAE ${FP16_FIX_VAE} exported to ONNX (its config says force_upcast: false).`
  );
}

/** The hint a NaN decode of a float16 SDXL VAE adds to its error. */
export function float16VaeNanHint(file: string): string {
  return `${file} is a float16 VAE whose config says force_upcast: true: SDXL's VAE overflows in float16. Use the float32 VAE (vae_decoder/model.onnx) or the fp16-fix VAE ${FP16_FIX_VAE} exported to ONNX`;
}
