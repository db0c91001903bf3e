import { DownloadFailedError, ModelNotFoundError } from '@latentkit/core';
import { checkModelPath, type ModelSource } from '@latentkit/onnx';
import { fetchHubFile, type HubFetched } from './hub-redirect.js';
import { checkToken, type HubRepository, resolveModelSource } from './hub-source.js';
import {
  cacheStorage,
  DEFAULT_MODEL_CACHE,
  type ModelManifest,
  manifestUrl,
  readManifest,
  writeManifest,
} from './model-cache.js';
import { checkUnderBase, modelFileUrl } from './model-url.js';
import {
  checkMaxFileBytes,
  checkSha256,
  DEFAULT_MAX_FILE_BYTES,
  readVerifiedBody,
} from './verified-download.js';

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
  /**
   * Branch, tag or commit for Hugging Face repository ids and URLs that name none (default `main`). It is
   * part of every file's URL, so two revisions never share cached files.
   */
  revision?: string;
  /**
   * A Hugging Face access token (`hf_…`) for private and gated repositories: sent as
   * `Authorization: Bearer <token>` to the model's base URL only — never to a redirect target on another
   * origin — and never written to an error message, a log or a cache key.
   */
  token?: string;
  /**
   * The hub that repository ids (`org/name`) are read from (default `https://huggingface.co`): a mirror,
   * or a local test hub. Files come from `<hubUrl>/org/name/resolve/<revision>/`.
   */
  hubUrl?: string;
  /** Extra request options (headers, mode, …) for requests to the model's base URL. */
  requestInit?: RequestInit;
  /** The fetch function (default `globalThis.fetch`); for tests and custom transports. */
  fetch?: typeof fetch;
  /**
   * The largest file downloaded, in bytes (default {@link DEFAULT_MAX_FILE_BYTES}, 4 GiB). A larger
   * `Content-Length`, or a body that grows past it, is a `LimitExceededError` before anything is allocated.
   */
  maxFileBytes?: number;
  /**
   * Expected SHA-256 digests (64 hex digits) by file path, e.g. `{ 'unet/model.onnx_data': '3f…' }`: a
   * downloaded file that does not match is a `DownloadFailedError` and is not cached. Files without an
   * entry are checked against Hugging Face's `X-Linked-ETag` when the response carries it.
   */
  sha256?: Readonly<Record<string, string>>;
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
 * (`https://example.com/models/sd/`, or relative to the page) or a Hugging Face repository — an id
 * `org/name` or a URL `https://huggingface.co/org/name` — read through its `…/resolve/<revision>/…` URLs
 * (see {@link resolveModelSource}). A hub's redirects off the base URL (to its CDN) are followed only for
 * bytes whose SHA-256 is known first (docs/hub.md, "In the browser").
 *
 * Files are kept in Cache Storage (see {@link HttpModelSourceOptions.cache}) together with a manifest of
 * which files exist and which do not, so a second load downloads nothing and works offline (files found
 * missing are asked again while the server answers: a 404 is not remembered).
 *
 * Every URL is made by {@link modelFileUrl} (it must stay under the base URL, after percent-decoding) and
 * every body is verified by `readVerifiedBody` (length, size cap, SHA-256 where known) before it is
 * cached.
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
  readonly #maxFileBytes: number;
  readonly #sha256 = new Map<string, string>();
  readonly #downloaded = new Set<string>();
  // Files this source saw missing: asked again by the next source (a 404 is not remembered across loads).
  readonly #missing = new Set<string>();
  readonly #hub: HubRepository | undefined;
  readonly #token: string | undefined;
  // The commit of the hub revision this load's files come from (see #checkCommit).
  #commit: string | undefined;

  /**
   * @param url - The model URL or hub repository id (see {@link resolveModelSource}).
   * @param options - Cache, progress, hub and request options.
   */
  constructor(url: string, options: HttpModelSourceOptions = {}) {
    const resolved = resolveModelSource(url, options);
    this.location = resolved.base;
    this.#hub = resolved.hub;
    this.#token = options.token === undefined ? undefined : checkToken(options.token);
    this.#options = options;
    const f = options.fetch ?? globalThis.fetch;
    this.#fetch = (input, init) => f(input, init);
    const cache = options.cache ?? true;
    this.#cacheName = cache === false ? undefined : cache === true ? DEFAULT_MODEL_CACHE : cache;
    this.#maxFileBytes =
      options.maxFileBytes === undefined ? DEFAULT_MAX_FILE_BYTES : checkMaxFileBytes(options.maxFileBytes);
    for (const [file, digest] of Object.entries(options.sha256 ?? {})) {
      this.#sha256.set(checkModelPath(file, 'sha256 option key'), checkSha256(`sha256["${file}"]`, digest));
    }
  }

  /**
   * The absolute URL of a file in the model folder. Paths that would leave the base URL (`..`, `%2e%2e`,
   * control characters, another origin, …) are refused: see {@link modelFileUrl}.
   */
  urlOf(path: string): string {
    return modelFileUrl(this.location, path);
  }

  /** The Hugging Face repository this source reads, when it is one. */
  get hub(): HubRepository | undefined {
    return this.#hub;
  }

  /**
   * Removes from Cache Storage every file this source downloaded (the web backend calls it when a load
   * fails with `MODEL_INVALID`, so a damaged download is fetched afresh next time).
   *
   * @returns How many files were removed.
   */
  async discardDownloads(): Promise<number> {
    const cache = await this.#openCache();
    const files = [...this.#downloaded];
    this.#downloaded.clear();
    if (!cache || files.length === 0) return 0;
    let removed = 0;
    for (const file of files) if (await cache.delete(this.urlOf(file))) removed++;
    await this.#updateManifest((m) => {
      for (const file of files) delete m.files[file];
    });
    return removed;
  }

  /**
   * Whether a file exists: true for a file in the cache; else a `HEAD` request. A 404 is never remembered
   * across loads (a file that appears on the server later is found); only when the server cannot be
   * reached does the cache's record of a file found missing before answer, so cached models load offline.
   */
  async exists(path: string): Promise<boolean> {
    const file = checkModelPath(path, 'model file');
    const manifest = await this.#loadManifest();
    if (manifest?.files[file] !== undefined) return true;
    if (this.#missing.has(file)) return false;
    let response: Response;
    try {
      const fetched = await this.#request(file, 'HEAD');
      // A hub redirects the files it keeps on its CDN: they exist.
      const { status, type } = fetched.response;
      if (fetched.redirected && (type === 'opaqueredirect' || (status >= 300 && status < 400))) return true;
      response = fetched.response;
    } catch (error) {
      if (error instanceof DownloadFailedError && manifest?.missing.includes(file)) return false;
      throw error;
    }
    if (response.ok && !isHtmlFallback(file, response)) return true;
    if (response.status === 405 || response.status === 501) {
      // Servers without HEAD: a GET tells, and the bytes are cached for the read that follows.
      try {
        await this.readBytes(file);
        return true;
      } catch (error) {
        if (error instanceof ModelNotFoundError && this.#missing.has(file)) return false;
        throw error;
      }
    }
    if (this.#hub && response.status === 404) {
      // The hub tells a missing file (EntryNotFound) from a missing repository or revision: those are
      // errors that name the id and revision, not an absent optional file.
      const code = response.headers.get('x-error-code');
      if (code === 'RepoNotFound' || code === 'RevisionNotFound') throw this.#httpError(file, response);
    }
    if (response.status === 404 || isHtmlFallback(file, response)) {
      await this.#markMissing(file);
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
    const fetched = await this.#request(file, 'GET');
    const response = fetched.response;
    if (response.status === 404 || isHtmlFallback(file, response)) {
      await response.body?.cancel().catch(() => undefined);
      await this.#markMissing(file);
      throw this.#httpError(file, response);
    }
    if (!response.ok) {
      await response.body?.cancel().catch(() => undefined);
      throw this.#httpError(file, response);
    }
    // Verified (length, size cap, hash, stream errors) before anything is cached.
    const bytes = await readVerifiedBody(response, {
      file,
      url,
      maxBytes: this.#maxFileBytes,
      // The caller's digest, else the hub's for bytes that came off the base URL (its CDN), else the
      // response's own X-Linked-ETag.
      sha256: this.#sha256.get(file) ?? fetched.sha256,
      onProgress: (loaded, total) => this.#report(file, loaded, total, false, false),
    });
    await this.#checkCommit(file, url, fetched.commit);
    this.#report(file, bytes.length, bytes.length, false, true);
    this.#missing.delete(file);
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
      this.#downloaded.add(file);
      await this.#updateManifest((m) => {
        m.files[file] = bytes.length;
        m.missing = m.missing.filter((f) => f !== file);
      });
    }
    return bytes;
  }

  /**
   * A hub names the commit each file was served from. A branch that moves between two downloads (or
   * between a cached load and a later download) would give a model mixed from two commits: refused, and
   * the revision's cached files dropped so that the next load downloads one commit whole.
   */
  async #checkCommit(file: string, url: string, commit: string | undefined): Promise<void> {
    const hub = this.#hub;
    if (!hub || commit === undefined) return;
    const manifest = await this.#loadManifest();
    const known = this.#commit ?? manifest?.commit;
    if (known === undefined || known === commit) {
      this.#commit = commit;
      if (manifest && manifest.commit !== commit) {
        await this.#updateManifest((m) => {
          m.commit = commit;
        });
      }
      return;
    }
    const dropped = await this.#dropCachedRevision();
    throw new DownloadFailedError(
      url,
      `"${file}" of ${hub.repo} came from commit ${commit}, but the files already loaded for revision "${hub.revision}" came from commit ${known}: the revision moved on the hub, and a model mixed from two commits is not loaded. ${dropped} cached files of this revision were dropped. Fix: load again to download commit ${commit} whole, or pin a commit with the revision option.`,
    );
  }

  /** Removes every cached file of this base URL (and its manifest); returns how many files. */
  async #dropCachedRevision(): Promise<number> {
    this.#downloaded.clear();
    const cache = await this.#openCache();
    if (!cache) return 0;
    let files = 0;
    for (const request of await cache.keys()) {
      if (request.url.startsWith(this.location) && (await cache.delete(request))) {
        if (request.url !== manifestUrl(this.location)) files++;
      }
    }
    this.#manifest = undefined;
    return files;
  }

  async #markMissing(file: string): Promise<void> {
    this.#missing.add(file);
    // Kept in the manifest only for offline loads (see exists); online, a missing file is asked again.
    await this.#updateManifest((m) => {
      if (!m.missing.includes(file)) m.missing.push(file);
    });
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

  /** The request headers for the base URL's origin: `requestInit`'s, with the token. */
  #headers(): Headers {
    const headers = new Headers(this.#options.requestInit?.headers);
    if (this.#token !== undefined) headers.set('authorization', `Bearer ${this.#token}`);
    return headers;
  }

  async #request(file: string, method: 'GET' | 'HEAD'): Promise<HubFetched> {
    const url = this.urlOf(file);
    // requestInit and the token may carry credentials: they go to URLs under the base URL only.
    checkUnderBase(this.location, url);
    const headers = this.#headers();
    const init: RequestInit = { ...this.#options.requestInit, headers };
    if (this.#hub) {
      return fetchHubFile({
        fetch: this.#fetch,
        base: this.location,
        hub: this.#hub,
        file,
        url,
        method,
        init,
        headers,
        sha256: this.#sha256.get(file),
      });
    }
    try {
      return { response: await this.#fetch(url, { ...init, method }), redirected: false };
    } catch (error) {
      throw new DownloadFailedError(
        url,
        `Could not fetch ${url} (${(error as Error)?.message ?? String(error)}). Fix: check the URL, that the server allows this origin (CORS), and the network; models load offline only once cached.`,
        { cause: error },
      );
    }
  }

  #httpError(file: string, response: Response): ModelNotFoundError | DownloadFailedError {
    const url = this.urlOf(file);
    if (isHtmlFallback(file, response)) {
      return new ModelNotFoundError(
        `Model file "${file}" not found at ${url}: the server answered with an HTML page (a single-page-app fallback). Fix: check that ${this.location} is a complete diffusers ONNX export (it holds model_index.json).`,
      );
    }
    const hubCode = this.#hub ? response.headers.get('x-error-code') : null;
    const status = `HTTP ${response.status} ${response.statusText}`.trim() + (hubCode ? ` (${hubCode})` : '');
    if (response.status === 404 || response.status === 410) {
      const hub = this.#hub;
      return new ModelNotFoundError(
        hub
          ? `Model file "${file}" could not be downloaded from ${url}: ${status}. Fix: check the repository id "${hub.repo}" and the revision "${hub.revision}" on ${hub.hubUrl}, and that the repository is a diffusers ONNX export (it holds model_index.json)${this.#token === undefined && hubCode !== 'RevisionNotFound' && hubCode !== 'EntryNotFound' ? '; a private repository answers 404 to requests without a token: pass the token option' : ''}.`
          : `Model file "${file}" could not be downloaded from ${url}: ${status}. Fix: check that ${this.location} is a complete diffusers ONNX export (it holds model_index.json).`,
      );
    }
    const denied = response.status === 401 || response.status === 403;
    const fix = !denied
      ? 'try again later'
      : this.#token !== undefined
        ? `the server refused the token you passed; check that it is valid and can read ${this.#hub ? `"${this.#hub.repo}"` : 'this model'}${this.#hub ? ', and for a gated repository accept its conditions on the hub page first' : ''}`
        : 'the server refused access; for a private or gated Hugging Face repository pass the token option (token: "hf_…")';
    return new DownloadFailedError(
      url,
      `Model file "${file}" could not be downloaded from ${url}: ${status}. Fix: ${fix}.`,
    );
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
