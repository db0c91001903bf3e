import { type HubSourceOptions, resolveModelSource } from './hub-source.js';

/** The Cache Storage cache latentkit keeps model files in, unless told another name. */
export const DEFAULT_MODEL_CACHE = 'latentkit-models';

// Each cached model has a manifest beside its files, under this name in the model's base URL. It lists
// the files cached and the files known to be missing, so a second load needs no request at all — not
// even to learn that an optional config is absent.
const MANIFEST_NAME = '.latentkit-manifest.json';

/** What the manifest of one cached model holds. */
export interface ModelManifest {
  /** The model's base URL (ends in `/`). */
  url: string;
  /** Cached files: relative path → size in bytes. */
  files: Record<string, number>;
  /** Files the server said do not exist (404). */
  missing: string[];
  /** When the manifest was last written (ISO 8601). */
  updated: string;
  /**
   * For a hub repository: the commit its cached files came from (`X-Repo-Commit`), so that files of two
   * commits of one revision (a branch that moved) are never mixed.
   */
  commit?: string;
}

/** One model in the cache, as {@link listCachedModels} reports it. */
export interface CachedModel {
  /** The model's base URL. */
  readonly url: string;
  /** The cached files, relative to `url`. */
  readonly files: readonly string[];
  /** Their total size in bytes. */
  readonly totalBytes: number;
  /** When a file was last added (ISO 8601). */
  readonly updated: string;
}

/** Cache Storage, or undefined where there is none (Node, insecure http pages). */
export function cacheStorage(): CacheStorage | undefined {
  const storage = (globalThis as { caches?: CacheStorage }).caches;
  return storage && typeof storage.open === 'function' ? storage : undefined;
}

/** The URL the manifest of the model at `baseUrl` is stored under. */
export function manifestUrl(baseUrl: string): string {
  return new URL(MANIFEST_NAME, baseUrl).href;
}

/** Reads a model's manifest from a cache; undefined when it has none. */
export async function readManifest(cache: Cache, baseUrl: string): Promise<ModelManifest | undefined> {
  const response = await cache.match(manifestUrl(baseUrl));
  if (!response) return undefined;
  try {
    const value = (await response.json()) as ModelManifest;
    return typeof value?.files === 'object' && Array.isArray(value.missing) ? value : undefined;
  } catch {
    return undefined; // a damaged manifest: start afresh
  }
}

/** Writes a model's manifest. */
export async function writeManifest(cache: Cache, manifest: ModelManifest): Promise<void> {
  await cache.put(
    manifestUrl(manifest.url),
    new Response(JSON.stringify(manifest), { headers: { 'content-type': 'application/json' } }),
  );
}

/**
 * Lists the models in the cache, with their files and sizes.
 *
 * @param cacheName - The Cache Storage cache (default {@link DEFAULT_MODEL_CACHE}).
 */
export async function listCachedModels(cacheName = DEFAULT_MODEL_CACHE): Promise<CachedModel[]> {
  const storage = cacheStorage();
  if (!storage || !(await storage.has(cacheName))) return [];
  const cache = await storage.open(cacheName);
  const models: CachedModel[] = [];
  for (const request of await cache.keys()) {
    if (!request.url.endsWith(`/${MANIFEST_NAME}`)) continue;
    const manifest = await readManifest(cache, new URL('./', request.url).href);
    if (!manifest) continue;
    const files = Object.keys(manifest.files).sort();
    models.push({
      url: manifest.url,
      files,
      totalBytes: files.reduce((sum, f) => sum + (manifest.files[f] ?? 0), 0),
      updated: manifest.updated,
    });
  }
  return models.sort((a, b) => a.url.localeCompare(b.url));
}

/**
 * Removes one model's files (and its manifest) from the cache; the next load downloads them again.
 *
 * @param url - The model URL or hub repository id, as given to `fromPretrained` (it is normalised the same way).
 * @param cacheName - The Cache Storage cache (default {@link DEFAULT_MODEL_CACHE}).
 * @param options - For a hub id: its `revision` (default `main`; each revision is cached apart) and `hubUrl`.
 * @returns How many entries were removed.
 */
export async function clearCachedModel(
  url: string,
  cacheName = DEFAULT_MODEL_CACHE,
  options: HubSourceOptions = {},
): Promise<number> {
  const storage = cacheStorage();
  if (!storage || !(await storage.has(cacheName))) return 0;
  const base = resolveModelSource(url, options).base;
  const cache = await storage.open(cacheName);
  let removed = 0;
  for (const request of await cache.keys()) {
    if (request.url.startsWith(base) && (await cache.delete(request))) removed++;
  }
  return removed;
}

/**
 * Deletes the whole model cache.
 *
 * @param cacheName - The Cache Storage cache (default {@link DEFAULT_MODEL_CACHE}).
 * @returns Whether there was a cache to delete.
 */
export async function clearModelCache(cacheName = DEFAULT_MODEL_CACHE): Promise<boolean> {
  return (await cacheStorage()?.delete(cacheName)) ?? false;
}
