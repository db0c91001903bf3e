import { InvalidArgumentError, ModelNotFoundError } from '@latentkit/core';
import type { OnnxComponentName, OnnxPipelineOptions } from '@latentkit/onnx';

/**
 * Which files of a diffusers ONNX folder a latentkit pipeline reads, so that a hub download fetches those
 * and nothing else (a repo may also hold PyTorch weights, a safety checker, images, …).
 */

/** The folders whose small files (configs, tokenizer files) the ONNX loader reads. */
export const CONFIG_FOLDERS: readonly string[] = [
  'scheduler',
  'low_res_scheduler',
  'tokenizer',
  'tokenizer_2',
  'text_encoder',
  'text_encoder_2',
  'unet',
  'vae_decoder',
  'vae_encoder',
  'vae',
];

/**
 * The configuration files among `paths`: `model_index.json`, and the `.json` / `.txt` files directly in
 * {@link CONFIG_FOLDERS} (scheduler and component configs, the tokenizer's vocab, merges and settings).
 */
export function configFiles(paths: Iterable<string>): string[] {
  const out: string[] = [];
  for (const path of paths) {
    const parts = path.split('/');
    if (path === 'model_index.json') out.push(path);
    else if (parts.length === 2 && CONFIG_FOLDERS.includes(parts[0]!) && /\.(json|txt)$/.test(parts[1]!)) {
      out.push(path);
    }
  }
  return out.sort();
}

/** The ONNX model files a load needs, and the `modelFiles` the loader must be given to use them. */
export interface ModelFileChoice {
  /** Files the load cannot do without (UNet, VAE decoder, text encoder unless left out). */
  readonly required: readonly string[];
  /** Files used when present (the VAE encoder). */
  readonly optional: readonly string[];
  /** Component → file, for the choices that differ from `<component>/model.onnx` (variants, `vae/`). */
  readonly modelFiles: Partial<Record<OnnxComponentName, string>>;
}

const ALL: readonly OnnxComponentName[] = [
  'text_encoder',
  'text_encoder_2',
  'unet',
  'vae_decoder',
  'vae_encoder',
];

/** What an SDXL folder changes in the choice: `text_encoder_2`, and no `text_encoder` in the refiner. */
export interface SdxlFileChoice {
  /** Whether `model_index.json` lists `text_encoder` (the refiner's is null). */
  readonly hasTextEncoder: boolean;
}

/**
 * Chooses each component's model file as `loadOnnxPipeline` would, plus `variant`: the `modelFiles`
 * option wins, then `<component>/model.<variant>.onnx` or `<component>/model_<variant>.onnx`, then
 * `<component>/model.onnx` (the x4 upscaler's decoder may be `vae/model.onnx`).
 *
 * @param options - The loader's `components` and `modelFiles`, and the variant.
 * @param has - Whether the folder (or the repo revision) has a file.
 * @param upscale - Whether `model_index.json` names the x4 upscaler (no VAE encoder).
 * @param where - The folder or `org/name@revision`, for messages.
 * @param sdxl - For an SDXL folder (`readModelIndex(…).sdxl`): whether it has `text_encoder`; SDXL folders
 *   also need `text_encoder_2`.
 * @throws {@link @latentkit/core!InvalidArgumentError} for a malformed variant name, or when a needed
 *   component has no file of the variant (the optional VAE encoder keeps its `model.onnx`).
 */
export async function chooseModelFiles(
  options: Pick<OnnxPipelineOptions, 'components' | 'modelFiles'> & { variant?: string | undefined },
  has: (path: string) => boolean | Promise<boolean>,
  upscale: boolean,
  where: string,
  sdxl?: SdxlFileChoice,
): Promise<ModelFileChoice> {
  const wanted = new Set(options.components ?? ALL);
  const required: string[] = [];
  const optional: string[] = [];
  const modelFiles: Partial<Record<OnnxComponentName, string>> = {};
  const variant = options.variant;
  if (variant !== undefined && (typeof variant !== 'string' || !/^[A-Za-z0-9_-]{1,32}$/.test(variant))) {
    throw new InvalidArgumentError({
      name: 'variant',
      value: variant,
      expected: 'a variant name of letters, digits, "_" or "-", such as "fp16"',
      fix: "leave variant out for each component's model.onnx",
    });
  }
  for (const component of ALL) {
    if (!wanted.has(component)) continue;
    if (component === 'text_encoder_2' && !sdxl) continue;
    if (component === 'text_encoder' && sdxl && !sdxl.hasTextEncoder && !options.components) continue;
    if (component === 'vae_encoder' && upscale) continue;
    const isOptional = component === 'vae_encoder' && options.components === undefined;
    const explicit = options.modelFiles?.[component];
    let file: string | undefined = explicit;
    if (file === undefined && variant !== undefined) {
      const folders = component === 'vae_decoder' && upscale ? [component, 'vae'] : [component];
      const candidates = folders.flatMap((f) => [`${f}/model.${variant}.onnx`, `${f}/model_${variant}.onnx`]);
      for (const candidate of candidates) {
        if (await has(candidate)) {
          file = candidate;
          break;
        }
      }
      // the optional VAE encoder keeps its model.onnx (its dtype is handled per session)
      if (file === undefined && !isOptional) {
        throw new InvalidArgumentError({
          name: 'variant',
          value: variant,
          expected: `a variant that ${where} has for ${component}: ${candidates.join(' or ')}`,
          fix: `leave variant out for ${component}/model.onnx; many repos keep fp16 ONNX weights on a branch (revision: "fp16") or in a repo of their own`,
        });
      }
    }
    if (file === undefined) {
      file = `${component}/model.onnx`;
      if (component === 'vae_decoder' && upscale && !(await has(file)) && (await has('vae/model.onnx'))) {
        file = 'vae/model.onnx';
      }
    }
    if (file !== `${component}/model.onnx` && explicit === undefined) modelFiles[component] = file;
    (isOptional ? optional : required).push(file);
  }
  return { required, optional, modelFiles };
}

/** A {@link ModelNotFoundError} for a model file a hub revision lacks, listing what it has. */
export function missingInRepo(path: string, where: string, present: Iterable<string>): ModelNotFoundError {
  const onnx = [...present].filter((p) => p.endsWith('.onnx'));
  const has = onnx.length > 0 ? `its ONNX files: ${onnx.slice(0, 12).join(', ')}` : 'it has no ONNX files';
  return new ModelNotFoundError(
    `${path} not found in ${where} (${has}). Fix: use a repository (or a revision, e.g. revision: "onnx") that holds a diffusers ONNX export: model_index.json, unet/model.onnx, vae_decoder/model.onnx, text_encoder/model.onnx, tokenizer/.`,
  );
}
