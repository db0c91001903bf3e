import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { DownloadFailedError, InvalidArgumentError, ModelNotFoundError } from '@latentkit/core';
import {
  DEFAULT_HUB_URL,
  type OnnxComponentName,
  type OnnxPipelineOptions,
  parseHubModelId,
  readModelIndex,
} from '@latentkit/onnx';
import { FileModelSource, type FileModelSourceOptions } from '../file-model-source.js';
import {
  type DownloadHubModelOptions,
  downloadHubModel,
  type HubModelSnapshot,
} from './download-hub-model.js';
import type { HubOptions } from './hub-options.js';
import { chooseModelFiles } from './model-files.js';

/** Where `fromPretrained`'s source turned out to be. */
export interface ResolvedModelFolder {
  /** The model folder on disk (the source itself, or a hub snapshot in the cache). */
  readonly directory: string;
  /** The hub snapshot, when the source was a hub id. */
  readonly snapshot?: HubModelSnapshot;
  /** Component → model file where a variant chose another file than `<component>/model.onnx`. */
  readonly modelFiles: Partial<Record<OnnxComponentName, string>>;
}

async function isDirectory(path: string): Promise<boolean | undefined> {
  return stat(path).then(
    (s) => s.isDirectory(),
    () => undefined,
  );
}

/** With a note that no local folder of that name exists either (a typo'd path looks like an id). */
function withLocalNote(error: unknown, source: string): unknown {
  const note = ` (No local folder ${resolve(source)} exists either.)`;
  if (error instanceof ModelNotFoundError && /^Hub repository/.test(error.message)) {
    return new ModelNotFoundError(error.message + note, { cause: error.cause });
  }
  if (error instanceof DownloadFailedError && /401 Unauthorized/.test(error.message)) {
    return new DownloadFailedError(error.url, error.message + note, { cause: error.cause });
  }
  return error;
}

/**
 * Finds the model folder of a `fromPretrained` source, as diffusers does: an existing local folder wins;
 * else a Hugging Face Hub id (`org/name`, or a hub URL) is downloaded into the cache
 * ({@link downloadHubModel}) and its snapshot folder is used; anything else is a `ModelNotFoundError`
 * that says it is neither. `variant` picks each component's `model.<variant>.onnx` in both cases.
 *
 * @throws {@link @latentkit/core!ModelNotFoundError} for a source that is neither a folder nor a hub id, and
 *   the errors of {@link downloadHubModel}.
 */
export async function resolveModelFolder(
  source: string,
  options: HubOptions & Pick<OnnxPipelineOptions, 'components' | 'modelFiles'> & FileModelSourceOptions = {},
): Promise<ResolvedModelFolder> {
  if (typeof source !== 'string' || source === '') {
    throw new InvalidArgumentError({
      name: 'model source',
      value: source,
      expected: 'the path of a diffusers ONNX folder, or a Hugging Face Hub id such as "org/name"',
    });
  }
  const local = await isDirectory(source);
  if (local) {
    if (options.variant === undefined) return { directory: source, modelFiles: {} };
    const folder = new FileModelSource(source, {
      allowSymlinksOutside: options.allowSymlinksOutside ?? false,
    });
    const index = await readModelIndex(folder);
    const choice = await chooseModelFiles(
      { ...options, variant: options.variant },
      (p) => folder.exists(p),
      index.kind === 'upscale',
      resolve(source),
      index.sdxl ? { hasTextEncoder: 'text_encoder' in index.components } : undefined,
    );
    return { directory: source, modelFiles: choice.modelFiles };
  }
  const hubUrl = options.hubUrl ?? (process.env['HF_ENDPOINT'] || DEFAULT_HUB_URL);
  if (local === undefined && parseHubModelId(source, hubUrl)) {
    const hubOptions: DownloadHubModelOptions = {};
    for (const key of [
      'revision',
      'token',
      'cacheDir',
      'localFilesOnly',
      'onProgress',
      'hubUrl',
      'variant',
      'components',
      'modelFiles',
    ] as const) {
      if (options[key] !== undefined) (hubOptions as Record<string, unknown>)[key] = options[key];
    }
    try {
      const snapshot = await downloadHubModel(source, hubOptions);
      return { directory: snapshot.folder, snapshot, modelFiles: snapshot.modelFiles };
    } catch (error) {
      throw withLocalNote(error, source);
    }
  }
  if (local === false) {
    throw new ModelNotFoundError(
      `${resolve(source)} is a file, not a model folder. Fix: pass the folder of a diffusers ONNX export (it holds model_index.json), or a Hugging Face Hub id such as "org/name".`,
    );
  }
  throw new ModelNotFoundError(
    `Model folder ${resolve(source)} does not exist, and ${JSON.stringify(source)} is not a Hugging Face Hub id ("org/name") either. Fix: pass the folder of a diffusers ONNX export (it holds model_index.json), or a hub id such as "org/name".`,
  );
}
