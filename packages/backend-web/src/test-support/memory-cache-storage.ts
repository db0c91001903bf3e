/**
 * An in-memory Cache Storage (the parts latentkit uses), for tests in Node, which has no `caches`.
 * Keys are URLs; bodies are kept as bytes so a Response can be read more than once.
 */
class MemoryCache {
  readonly entries = new Map<string, { body: Uint8Array; init: ResponseInit }>();

  async match(request: RequestInfo | URL): Promise<Response | undefined> {
    const e = this.entries.get(urlOf(request));
    return e ? new Response(e.body.slice(), e.init) : undefined;
  }

  async put(request: RequestInfo | URL, response: Response): Promise<void> {
    const body = new Uint8Array(await response.arrayBuffer());
    this.entries.set(urlOf(request), {
      body,
      init: { status: response.status, headers: Object.fromEntries(response.headers) },
    });
  }

  async keys(): Promise<Request[]> {
    return [...this.entries.keys()].map((url) => new Request(url));
  }

  async delete(request: RequestInfo | URL): Promise<boolean> {
    return this.entries.delete(urlOf(request));
  }
}

function urlOf(request: RequestInfo | URL): string {
  return typeof request === 'string' ? request : request instanceof URL ? request.href : request.url;
}

/** A `CacheStorage` stand-in; install it as `globalThis.caches`. */
export class MemoryCacheStorage {
  readonly caches = new Map<string, MemoryCache>();

  async open(name: string): Promise<MemoryCache> {
    let cache = this.caches.get(name);
    if (!cache) {
      cache = new MemoryCache();
      this.caches.set(name, cache);
    }
    return cache;
  }

  async has(name: string): Promise<boolean> {
    return this.caches.has(name);
  }

  async delete(name: string): Promise<boolean> {
    return this.caches.delete(name);
  }
}

/** Installs a fresh {@link MemoryCacheStorage} as `globalThis.caches` and returns it (call in `beforeEach`). */
export function installMemoryCaches(): MemoryCacheStorage {
  const storage = new MemoryCacheStorage();
  (globalThis as { caches?: unknown }).caches = storage;
  return storage;
}

/** Removes `globalThis.caches` again (call in `afterEach`). */
export function uninstallMemoryCaches(): void {
  delete (globalThis as { caches?: unknown }).caches;
}
