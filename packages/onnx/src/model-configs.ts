import { ModelInvalidError } from '@latentkit/core';
import type { ModelSource } from './model-source.js';
import { parsePythonJson } from './python-json.js';

/** A config file's values, as diffusers/transformers wrote them (snake_case). */
export type ConfigObject = Readonly<Record<string, unknown>>;

/** The component configs of an ONNX model folder; each is absent when the export has no config.json. */
export interface OnnxModelConfigs {
  /** `text_encoder/config.json` (CLIPTextConfig). */
  textEncoder?: ConfigObject;
  /** `unet/config.json` (UNet2DConditionModel). */
  unet?: ConfigObject;
  /** `vae_decoder/config.json`, else `vae_encoder/config.json`, else `vae/config.json` (AutoencoderKL). */
  vae?: ConfigObject;
  /** `scheduler/scheduler_config.json`. */
  scheduler: ConfigObject;
}

/** Reads a JSON config if it exists (Python's NaN/Infinity allowed). */
export async function readOptionalConfig(
  source: ModelSource,
  path: string,
): Promise<ConfigObject | undefined> {
  if (!(await source.exists(path))) return undefined;
  const value = parsePythonJson(await source.readText(path), path);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ModelInvalidError(`${path} in ${source.location} is not a JSON object.`);
  }
  return value as ConfigObject;
}

/** A number from a config, or undefined when absent; any other type is a {@link ModelInvalidError}. */
export function configNumber(
  config: ConfigObject | undefined,
  key: string,
  file: string,
): number | undefined {
  const value = config?.[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new ModelInvalidError(`${file}: "${key}" is ${JSON.stringify(value)}; expected a number.`);
  }
  return value;
}

/** The VAE's values the codec needs: `scaling_factor` (0.18215), `shift_factor` (0), latent channels, downscale. */
export function vaeSettings(vae: ConfigObject | undefined): {
  scalingFactor: number;
  shiftFactor: number;
  latentChannels: number | undefined;
  downscale: number;
} {
  const file = 'VAE config.json';
  const blocks = vae?.['block_out_channels'];
  const downscale = Array.isArray(blocks) && blocks.length > 0 ? 2 ** (blocks.length - 1) : 8;
  return {
    scalingFactor: configNumber(vae, 'scaling_factor', file) ?? 0.18215,
    shiftFactor: configNumber(vae, 'shift_factor', file) ?? 0,
    latentChannels: configNumber(vae, 'latent_channels', file),
    downscale,
  };
}
