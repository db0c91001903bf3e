import { ModelNotFoundError } from '@latentkit/core';
import { checkModelPath, type ModelSource } from '@latentkit/onnx';
import {
  cacheStorage,
  DEFAULT_MODEL_CACHE,
  type ModelManifest,
  readManifest,
  writeManifest,
} from './model-cache.js';
import { resolveModelUrl } from './model-url.js';

/** One download progress report. */
export interface DownloadProgress {
  /** The file, relative to the model URL (e.g. `unet/model.onnx`). */
  readonly file: string;
  /** Bytes of this file received so far. */
  readonly loaded: number;
  /** This file's size from `Content-Length`, or undefined when the server sent none. */
  readonly total: number | undefined;
  /** Bytes received so far across every file of this source. */
  readonly totalLoaded: number;
  /**
   * The known size of every file started so far (each file's `Content-Length`, or what has arrived
   * where there is none). It grows as the loader asks for more files.
   */
  readonly totalBytes: number;
  /** True when the file came from Cache Storage rather than the network. */
  readonly fromCache: boolean;
  /** True on the last report of this file. */
  readonly done: boolean;
}

/** Options of {@link HttpModelSource}. */
export interface HttpModelSourceOptions {
  /**
   * Keep downloaded files in Cache Storage so the next load needs no network (default `true`: the cache
   * `latentkit-models`); a string names another cache; `false` always downloads. Where there is no Cache
   * Storage (Node, pages not served over https or localhost) files are simply not cached.
   */
  cache?: boolean | string;
  /** Receives download progress: per file, and totals. */
  onProgress?: (progress: DownloadProgress) => void;
  /** Branch, tag or commit for Hugging Face repository URLs that name none (default `main`). */
  revision?: string;
  /** Extra request options, e.g. `{ headers: { Authorization: 'Bearer hf_…' } }` for gated repositories. */
  requestInit?: RequestInit;
  /** The fetch function (default `globalThis.fetch`); for tests and custom transports. */
  fetch?: typeof fetch;
}

/**
 * Many servers (single-page-app hosting, `vite dev`) answer a missing path with their `index.html` and
 * status 200. No model file is HTML, so such an answer means "not there".
 */
function isHtmlFallback(file: string, response: Response): boolean {
  return (
    response.ok &&
    !file.endsWith('.html') &&
    (response.headers.get('content-type') ?? '').toLowerCase().startsWith('text/html')
  );
}

interface FileState {
  loaded: number;
  total: number | undefined;
}

/**
 * A model folder served over HTTP (the diffusers ONNX layout), read with `fetch`: a plain base URL
 * (`https://example.com/models/sd/`, or relative to the page) or a Hugging Face repository
 * (`https://huggingface.co/org/repo`, read through its `…/resolve/main/…` URLs).
 *
 * Files are kept in Cache Storage (see {@link HttpModelSourceOptions.cache}) together with a manifest of
 * which files exist and which do not, so a second load makes no network request and works offline.
 */
export class HttpModelSource implements ModelSource {
  /** The base URL the files are fetched under (ends in `/`). */
  readonly location: string;
  readonly #options: HttpModelSourceOptions;
  readonly #fetch: typeof fetch;
  readonly #cacheName: string | undefined;
  #cache: Promise<Cache | undefined> | undefined;
  #manifest: Promise<ModelManifest | undefined> | undefined;
  #manifestWrite: Promise<void> = Promise.resolve();
  readonly #reads = new Map<string, Promise<Uint8Array>>();
  readonly #progress = new Map<string, FileState>();

  /**
   * @param url - The model URL (see {@link resolveModelUrl}).
   * @param options - Cache, progress and request options.
   */
  constructor(url: string, options: HttpModelSourceOptions = {}) {
    this.location = resolveModelUrl(url, options.revision);
    this.#options = options;
    const f = options.fetch ?? globalThis.fetch;
    this.#fetch = (input, init) => f(input, init);
    const cache = options.cache ?? true;
    this.#cacheName = cache === false ? undefined : cache === true ? DEFAULT_MODEL_CACHE : cache;
  }

  /** The absolute URL of a file in the model folder. */
  urlOf(path: string): string {
    return new URL(checkModelPath(path, 'model file'), this.location).href;
  }

  /** Whether a file exists: from the cache's manifest when known, else a `HEAD` request. */
  async exists(path: string): Promise<boolean> {
    const file = checkModelPath(path, 'model file');
    const manifest = await this.#loadManifest();
    if (manifest?.files[file] !== undefined) return true;
    if (manifest?.missing.includes(file)) return false;
    const response = await this.#request(file, 'HEAD');
    if (response.ok && !isHtmlFallback(file, response)) return true;
    if (response.status === 405 || response.status === 501) {
      // Servers without HEAD: a GET tells, and the bytes are cached for the read that follows.
      try {
        await this.readBytes(file);
        return true;
      } catch (error) {
        if (error instanceof ModelNotFoundError && (await this.#knownMissing(file))) return false;
        throw error;
      }
    }
    if (response.status === 404 || isHtmlFallback(file, response)) {
      await this.#updateManifest((m) => {
        if (!m.missing.includes(file)) m.missing.push(file);
      });
      return false;
    }
    throw this.#httpError(file, response);
  }

  /** A file's text (UTF-8). */
  async readText(path: string): Promise<string> {
    return new TextDecoder().decode(await this.readBytes(path));
  }

  /** A file's bytes: from Cache Storage when cached, else downloaded (with progress) and cached. */
  async readBytes(path: string): Promise<Uint8Array> {
    const file = checkModelPath(path, 'model file');
    // The loader may ask for one file from several places at once; download it once.
    let read = this.#reads.get(file);
    if (!read) {
      read = this.#readBytes(file).finally(() => this.#reads.delete(file));
      this.#reads.set(file, read);
    }
    return read;
  }

  async #readBytes(file: string): Promise<Uint8Array> {
    const cache = await this.#openCache();
    const url = this.urlOf(file);
    const cached = await cache?.match(url);
    if (cached) {
      const bytes = new Uint8Array(await cached.arrayBuffer());
      this.#report(file, bytes.length, bytes.length, true, true);
      return bytes;
    }
    const response = await this.#request(file, 'GET');
    if (response.status === 404 || isHtmlFallback(file, response)) {
      await this.#updateManifest((m) => {
        if (!m.missing.includes(file)) m.missing.push(file);
      });
      throw this.#httpError(file, response);
    }
    if (!response.ok) throw this.#httpError(file, response);
    const bytes = await this.#readBody(file, response);
    if (cache) {
      await cache.put(
        url,
        new Response(bytes, {
          headers: {
            'content-type': response.headers.get('content-type') ?? 'application/octet-stream',
            'content-length': String(bytes.length),
          },
        }),
      );
      await this.#updateManifest((m) => {
        m.files[file] = bytes.length;
        m.missing = m.missing.filter((f) => f !== file);
      });
    }
    return bytes;
  }

  async #readBody(file: string, response: Response): Promise<Uint8Array<ArrayBuffer>> {
    const header = response.headers.get('content-length');
    // A compressed response's Content-Length counts compressed bytes: no use as the size of what we read.
    const encoded = (response.headers.get('content-encoding') ?? 'identity') !== 'identity';
    const length = header !== null && !encoded ? Number(header) : Number.NaN;
    const total = Number.isFinite(length) && length >= 0 ? length : undefined;
    this.#report(file, 0, total, false, false);
    if (!response.body) {
      const bytes = new Uint8Array(await response.arrayBuffer());
      this.#report(file, bytes.length, bytes.length, false, true);
      return bytes;
    }
    const reader = response.body.getReader();
    let out: Uint8Array<ArrayBuffer> = new Uint8Array(total ?? 1 << 16);
    let loaded = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (loaded + value.length > out.length) {
        const grown = new Uint8Array(Math.max(out.length * 2, loaded + value.length));
        grown.set(out.subarray(0, loaded));
        out = grown;
      }
      out.set(value, loaded);
      loaded += value.length;
      this.#report(file, loaded, total, false, false);
    }
    if (total !== undefined && loaded !== total) {
      throw new ModelNotFoundError(
        `Download of ${this.urlOf(file)} ended after ${loaded} of ${total} bytes. Fix: check the connection and load again.`,
      );
    }
    this.#report(file, loaded, loaded, false, true);
    return loaded === out.length ? out : out.slice(0, loaded);
  }

  #report(file: string, loaded: number, total: number | undefined, fromCache: boolean, done: boolean): void {
    const onProgress = this.#options.onProgress;
    if (!onProgress) return;
    this.#progress.set(file, { loaded, total });
    let totalLoaded = 0;
    let totalBytes = 0;
    for (const state of this.#progress.values()) {
      totalLoaded += state.loaded;
      totalBytes += state.total ?? state.loaded;
    }
    onProgress({ file, loaded, total, totalLoaded, totalBytes, fromCache, done });
  }

  async #request(file: string, method: 'GET' | 'HEAD'): Promise<Response> {
    const url = this.urlOf(file);
    try {
      return await this.#fetch(url, { ...this.#options.requestInit, method });
    } catch (error) {
      throw new ModelNotFoundError(
        `Could not fetch ${url} (${(error as Error)?.message ?? String(error)}). Fix: check the URL, that the server allows this origin (CORS), and the network; models load offline only once cached.`,
        { cause: error },
      );
    }
  }

  #httpError(file: string, response: Response): ModelNotFoundError {
    const url = this.urlOf(file);
    if (isHtmlFallback(file, response)) {
      return new ModelNotFoundError(
        `Model file "${file}" not found at ${url}: the server answered with an HTML page (a single-page-app fallback). Fix: check that ${this.location} is a complete diffusers ONNX export (it holds model_index.json).`,
      );
    }
    const fix =
      response.status === 404
        ? `check that ${this.location} is a complete diffusers ONNX export (it holds model_index.json)`
        : response.status === 401 || response.status === 403
          ? 'the server refused access; for a gated Hugging Face repository pass requestInit: { headers: { Authorization: "Bearer <token>" } }'
          : 'try again later';
    return new ModelNotFoundError(
      `Model file "${file}" could not be downloaded from ${url}: HTTP ${response.status} ${response.statusText}. Fix: ${fix}.`,
    );
  }

  async #knownMissing(file: string): Promise<boolean> {
    return (await this.#loadManifest())?.missing.includes(file) ?? false;
  }

  #openCache(): Promise<Cache | undefined> {
    if (!this.#cache) {
      const storage = this.#cacheName === undefined ? undefined : cacheStorage();
      this.#cache = storage ? storage.open(this.#cacheName!) : Promise.resolve(undefined);
    }
    return this.#cache;
  }

  #loadManifest(): Promise<ModelManifest | undefined> {
    if (!this.#manifest) {
      this.#manifest = this.#openCache().then(async (cache) => {
        if (!cache) return undefined;
        return (
          (await readManifest(cache, this.location)) ?? {
            url: this.location,
            files: {},
            missing: [],
            updated: new Date().toISOString(),
          }
        );
      });
    }
    return this.#manifest;
  }

  async #updateManifest(change: (manifest: ModelManifest) => void): Promise<void> {
    const [cache, manifest] = await Promise.all([this.#openCache(), this.#loadManifest()]);
    if (!cache || !manifest) return;
    change(manifest);
    manifest.updated = new Date().toISOString();
    // One write at a time, each with the latest state, so parallel downloads do not lose entries.
    this.#manifestWrite = this.#manifestWrite.then(() => writeManifest(cache, manifest)).catch(() => {});
    await this.#manifestWrite;
  }
}
