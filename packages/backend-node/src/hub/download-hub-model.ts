import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { listFiles, modelInfo } from '@huggingface/hub';
import { checkKnownKeys, ModelInvalidError, ModelNotFoundError, NotImplementedError } from '@latentkit/core';
import {
  type OnnxComponentName,
  type OnnxPipelineOptions,
  parseHubModelId,
  readModelIndex,
  readOnnxModelInfo,
} from '@latentkit/onnx';
import { FileModelSource } from '../file-model-source.js';
import {
  blobExists,
  checkRevision,
  type HubRepoCache,
  hubRepoCache,
  linkSnapshotFile,
  readCommit,
  snapshotHas,
  writeRef,
} from './hub-cache.js';
import { hubError } from './hub-errors.js';
import { downloadBlob, etagOf, type HubFileEntry } from './hub-file-download.js';
import { HUB_OPTION_KEYS, type HubOptions } from './hub-options.js';
import { type HubSettings, hubSettings } from './hub-settings.js';
import { chooseModelFiles, configFiles, missingInRepo, type SdxlFileChoice } from './model-files.js';

/** Options of {@link downloadHubModel}: the hub options and the loader's choice of components and files. */
export interface DownloadHubModelOptions
  extends HubOptions,
    Pick<OnnxPipelineOptions, 'components' | 'modelFiles'> {
  /**
   * Ask the hub for the revision's current commit even when the cache holds a complete snapshot of the
   * commit it last pointed to (`latentkit download` does; `fromPretrained` does not, so a cached model
   * loads without the network). Files already in the cache are never fetched again.
   */
  checkForUpdates?: boolean;
}

/** A model revision in the cache, ready to load. */
export interface HubModelSnapshot {
  /** `org/name`. */
  readonly repo: string;
  /** The revision asked for (`main` by default). */
  readonly revision: string;
  /** The commit it resolved to. */
  readonly commit: string;
  /** The snapshot folder, `<cacheDir>/models--org--name/snapshots/<commit>`: a diffusers ONNX folder. */
  readonly folder: string;
  /** Component → model file, where it is not `<component>/model.onnx` (a variant): pass to the loader. */
  readonly modelFiles: Partial<Record<OnnxComponentName, string>>;
  /** Files fetched by this call (empty on a cache hit). */
  readonly downloaded: readonly string[];
  /** Bytes fetched by this call. */
  readonly downloadedBytes: number;
  /** Whether the hub was asked at all (false on a cache hit and offline). */
  readonly requested: boolean;
}

// Above this size a cached .onnx file is not parsed for external-weight references on a cache hit (a graph
// that keeps its weights outside is small; reading a multi-GB self-contained one on every load is not).
const MAX_PARSED_CACHED_ONNX = 256 * 1024 * 1024;

const OPTION_KEYS = [...Object.keys(HUB_OPTION_KEYS), 'components', 'modelFiles', 'checkForUpdates'];

/** A folder's files, through the snapshot's links (they lead to ../../blobs, by design). */
function snapshotSource(folder: string): FileModelSource {
  return new FileModelSource(folder, { allowSymlinksOutside: true });
}

/**
 * Whether `commit`'s snapshot already holds every file a load with `options` reads: `model_index.json`,
 * the configs that are there, each chosen model file and the external weight files each one names. Makes
 * no request.
 */
async function completeSnapshot(
  cache: HubRepoCache,
  commit: string,
  options: DownloadHubModelOptions,
  where: string,
): Promise<Partial<Record<OnnxComponentName, string>> | undefined> {
  const folder = cache.snapshot(commit);
  if (!(await snapshotHas(cache, commit, 'model_index.json'))) return undefined;
  const source = snapshotSource(folder);
  let index: Awaited<ReturnType<typeof readModelIndex>>;
  try {
    index = await readModelIndex(source);
  } catch {
    return undefined; // let the load report it
  }
  const choice = await chooseModelFiles(
    options,
    (p) => snapshotHas(cache, commit, p),
    index.kind === 'upscale',
    where,
    sdxlChoice(index),
  ).catch(() => undefined);
  if (!choice) return undefined;
  for (const path of [...choice.required, ...choice.optional]) {
    const present = await snapshotHas(cache, commit, path);
    if (!present) {
      if (choice.required.includes(path)) return undefined;
      continue;
    }
    const full = join(folder, ...path.split('/'));
    if ((await stat(full)).size > MAX_PARSED_CACHED_ONNX) continue;
    let external: readonly { path: string }[];
    try {
      external = readOnnxModelInfo(new Uint8Array(await readFile(full)), path).externalData;
    } catch {
      return undefined;
    }
    for (const e of external) if (!(await snapshotHas(cache, commit, e.path))) return undefined;
  }
  for (const path of [
    'scheduler/scheduler_config.json',
    'tokenizer/vocab.json',
    'tokenizer/merges.txt',
    'tokenizer_2/vocab.json',
    'tokenizer_2/merges.txt',
  ]) {
    const encoder = path.startsWith('tokenizer_2/') ? 'text_encoder_2/' : 'text_encoder/';
    const needed =
      path === 'scheduler/scheduler_config.json' || choice.required.some((p) => p.startsWith(encoder));
    if (needed && !(await snapshotHas(cache, commit, path))) return undefined;
  }
  return choice.modelFiles;
}

/** The revision's files from the hub's tree listing (one request, paged by the client). */
async function listRevision(
  repo: string,
  revision: string,
  commit: string,
  settings: HubSettings,
): Promise<Map<string, HubFileEntry>> {
  const files = new Map<string, HubFileEntry>();
  try {
    for await (const e of listFiles({
      repo,
      revision: commit,
      recursive: true,
      hubUrl: settings.hubUrl,
      ...(settings.token !== undefined ? { accessToken: settings.token } : {}),
    })) {
      if (e.type !== 'file') continue;
      files.set(e.path, { path: e.path, size: e.size, oid: e.oid, sha256: e.lfs?.oid });
    }
  } catch (error) {
    throw hubError(error, { repo, revision }, settings);
  }
  return files;
}

/**
 * Downloads what a latentkit pipeline needs of a Hugging Face Hub model repository into the cache that
 * Python's `huggingface_hub` uses, and returns the snapshot folder. The official `@huggingface/hub`
 * client makes the requests.
 *
 * - A revision whose snapshot already holds every needed file is used without any request (a branch's
 *   commit is read from `refs/<branch>`; a model Python downloaded is found too).
 * - Offline (`localFilesOnly` or `HF_HUB_OFFLINE`): never a request; a `ModelNotFoundError` when the
 *   snapshot is missing or incomplete.
 * - Otherwise: the revision's commit and file listing are read, then `model_index.json` (its pipeline class
 *   is checked before anything large is fetched), the configs and tokenizer files, each component's ONNX
 *   file (the `variant` one if asked) and the external weight files that graph names — nothing else (no
 *   PyTorch weights, no safety checker). Each file is verified (size, and sha256 / git sha1 against the
 *   listing) before it is renamed into `blobs/` and linked from `snapshots/<commit>/`; `refs/<revision>`
 *   is written last. A download that breaks off leaves only `*.incomplete` files, which nothing reads.
 *
 * @param source - `org/name`, or a hub URL `https://huggingface.co/org/name[/tree/<revision>]`.
 * @throws {@link @latentkit/core!InvalidArgumentError} for a bad id, revision, token or option;
 *   {@link @latentkit/core!ModelNotFoundError} for a repo, revision or file the hub does not have, and an
 *   offline cache miss; {@link @latentkit/core!DownloadFailedError} for 401/403 (with the token fix), other
 *   statuses, network errors, truncated or corrupt transfers; `NotImplementedError` / `ModelInvalidError`
 *   for a repo whose `model_index.json` names a pipeline latentkit does not load.
 */
export async function downloadHubModel(
  source: string,
  options: DownloadHubModelOptions = {},
): Promise<HubModelSnapshot> {
  checkKnownKeys('hub download options', options, OPTION_KEYS);
  const settings = hubSettings(options);
  const id = typeof source === 'string' ? parseHubModelId(source, settings.hubUrl) : undefined;
  if (!id) {
    throw new ModelNotFoundError(
      `${JSON.stringify(source)} is not a Hugging Face Hub model id: expected "org/name" (letters, digits, "-", "_", "."), or a URL ${settings.hubUrl}/org/name. Fix: pass an id such as "latentkit/shapes", or the path of a local model folder.`,
    );
  }
  if (id.subfolder !== undefined) {
    throw new NotImplementedError(
      `${source} names the folder "${id.subfolder}" inside ${id.repo}; in Node latentkit loads a model from the root of a repository only (the browser backend takes such URLs). Fix: pass "${id.repo}" with the revision option, or download the folder and pass its path.`,
    );
  }
  const repo = id.repo;
  const revision = checkRevision(options.revision ?? id.revision ?? 'main');
  const cache = hubRepoCache(settings.cacheDir, repo);
  const where = `${repo} (revision "${revision}")`;

  // 1. The cache: a complete snapshot needs no request.
  const cachedCommit = await readCommit(cache, revision);
  const askHub = options.checkForUpdates === true && !settings.offline;
  if (cachedCommit !== undefined && !askHub) {
    const modelFiles = await completeSnapshot(cache, cachedCommit, options, where);
    if (modelFiles) {
      return {
        repo,
        revision,
        commit: cachedCommit,
        folder: cache.snapshot(cachedCommit),
        modelFiles,
        downloaded: [],
        downloadedBytes: 0,
        requested: false,
      };
    }
  }
  if (settings.offline) {
    const why =
      cachedCommit === undefined
        ? `the cache ${cache.folder} has no snapshot of it${/^[0-9a-f]{40}$/.test(revision) ? '' : ` (no refs/${revision})`}`
        : `its snapshot ${cache.snapshot(cachedCommit)} lacks files the pipeline needs`;
    throw new ModelNotFoundError(
      `${where} is not in the cache and downloads are off (${options.localFilesOnly ? 'localFilesOnly: true' : 'HF_HUB_OFFLINE'}): ${why}. Fix: download it once online (latentkit download ${repo}${revision === 'main' ? '' : ` --revision ${revision}`}), or point cacheDir / HF_HUB_CACHE at the cache that holds it.`,
    );
  }

  // 2. The hub: the revision's commit, then its listing.
  let commit: string;
  try {
    const info = await modelInfo({
      name: repo,
      revision,
      hubUrl: settings.hubUrl,
      additionalFields: ['sha'],
      ...(settings.token !== undefined ? { accessToken: settings.token } : {}),
    });
    commit = info.sha;
  } catch (error) {
    throw hubError(error, { repo, revision }, settings);
  }
  if (typeof commit !== 'string' || !/^[0-9a-f]{40}$/.test(commit)) {
    throw new ModelInvalidError(
      `The hub at ${settings.hubUrl} gave no commit for ${where} (sha = ${JSON.stringify(commit)}). Fix: use the Hugging Face Hub or a mirror that implements its API in full.`,
    );
  }
  const listing = await listRevision(repo, revision, commit, settings);
  const progress = { bytes: 0, total: 0, filesDone: 0, filesTotal: 0 };
  const downloaded: string[] = [];

  /** Puts files into the snapshot: linked from a blob already cached, else downloaded and verified. */
  const fetchFiles = async (paths: readonly string[]): Promise<void> => {
    const todo: HubFileEntry[] = [];
    for (const path of paths) {
      const entry = listing.get(path);
      if (!entry) throw missingInRepo(path, `${where} on ${settings.hubUrl}`, listing.keys());
      if (await snapshotHas(cache, commit, path)) continue;
      const etag = etagOf(entry);
      if (etag !== undefined && (await blobExists(cache, etag))) {
        await linkSnapshotFile(cache, commit, path, etag);
        continue;
      }
      todo.push(entry);
    }
    progress.total += todo.reduce((s, e) => s + e.size, 0);
    progress.filesTotal += todo.length;
    for (const entry of todo) {
      const before = progress.bytes;
      await downloadBlob(entry, {
        repo,
        revision,
        commit,
        cache,
        settings,
        onBytes: (received) => {
          progress.bytes = before + received;
          options.onProgress?.({
            file: entry.path,
            fileBytes: received,
            fileTotal: entry.size,
            bytes: progress.bytes,
            total: progress.total,
            filesDone: progress.filesDone,
            filesTotal: progress.filesTotal,
          });
        },
      });
      progress.bytes = before + entry.size;
      progress.filesDone += 1;
      downloaded.push(entry.path);
      await linkSnapshotFile(cache, commit, entry.path, etagOf(entry)!);
      options.onProgress?.({
        file: entry.path,
        fileBytes: entry.size,
        fileTotal: entry.size,
        bytes: progress.bytes,
        total: progress.total,
        filesDone: progress.filesDone,
        filesTotal: progress.filesTotal,
      });
    }
  };

  // 3. model_index.json first: a pipeline latentkit cannot load fails before anything large is fetched.
  if (!listing.has('model_index.json')) {
    throw new ModelNotFoundError(
      `${where} on ${settings.hubUrl} has no model_index.json: it is not a diffusers model repository. Fix: use the id of a diffusers ONNX export (it has model_index.json, unet/model.onnx, …), or a revision that holds one (e.g. revision: "onnx").`,
    );
  }
  await fetchFiles(['model_index.json']);
  const folder = cache.snapshot(commit);
  const index = await readModelIndex(snapshotSource(folder));
  const has = (path: string) => listing.has(path);
  const choice = await chooseModelFiles(options, has, index.kind === 'upscale', where, sdxlChoice(index));
  const modelPaths = [...choice.required, ...choice.optional.filter(has)];
  // 4. Configs and tokenizer files, then the graphs, then the external weights they name.
  await fetchFiles([...configFiles(listing.keys()), ...modelPaths]);
  const external = new Set<string>();
  for (const path of modelPaths) {
    const bytes = new Uint8Array(await readFile(join(folder, ...path.split('/'))));
    for (const e of readOnnxModelInfo(bytes, path).externalData) {
      if (!listing.has(e.path)) {
        throw new ModelNotFoundError(
          `${path} in ${where} on ${settings.hubUrl} keeps its weights in "${e.location}", but the repository has no ${e.path}. Fix: use a complete ONNX export (the .onnx file and its external data are uploaded together).`,
        );
      }
      external.add(e.path);
    }
  }
  await fetchFiles([...external]);
  // 5. Only now does the revision point to the commit: an interrupted download never looks complete.
  await writeRef(cache, revision, commit);
  return {
    repo,
    revision,
    commit,
    folder,
    modelFiles: choice.modelFiles,
    downloaded,
    downloadedBytes: progress.bytes,
    requested: true,
  };
}

/** What {@link chooseModelFiles} needs to know of an SDXL folder (undefined for others). */
function sdxlChoice(index: Awaited<ReturnType<typeof readModelIndex>>): SdxlFileChoice | undefined {
  return index.sdxl ? { hasTextEncoder: 'text_encoder' in index.components } : undefined;
}
