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
