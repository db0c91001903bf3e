import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import {
  DownloadFailedError,
  InvalidArgumentError,
  LimitExceededError,
  ModelInvalidError,
} from '@latentkit/core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { HttpModelSource } from './http-model-source.js';
import {
  installMemoryCaches,
  type MemoryCacheStorage,
  uninstallMemoryCaches,
} from './test-support/memory-cache-storage.js';
import { type ScriptedServer, startScriptedServer } from './test-support/scripted-server.js';
import { onnxWithExternalData } from './test-support/tiny-onnx.js';
import { webBackend } from './web-backend.js';

// The web loader against a real HTTP server on 127.0.0.1 that serves each attack of issue 14 §5: paths
// that escape the base URL, credentials that must stay on the base origin, and downloads that break off,
// lie about their size or arrive damaged. Each one must be a typed error, and nothing broken may be cached.

const fixtures = fileURLToPath(new URL('../../../tests/fixtures/models/', import.meta.url));
const BODY = Uint8Array.from({ length: 807_686 }, (_, i) => (i * 7919) % 251);
const TOKEN = 'Bearer hf_secret_token';

/** Serves a fixture folder under `/m/<name>/`, with `special` answers for some paths. */
function folder(
  name: string,
  special: Record<string, (req: IncomingMessage, res: ServerResponse) => void> = {},
): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const path = (req.url ?? '').split('?')[0]!;
    const own = special[path];
    if (own) return own(req, res);
    const prefix = `/m/${name}/`;
    if (!path.startsWith(prefix) || path.includes('..') || path.includes('%')) {
      res.statusCode = 404;
      res.end();
      return;
    }
    try {
      const bytes = readFileSync(join(fixtures, name, path.slice(prefix.length)));
      res.writeHead(200, { 'content-length': bytes.length });
      res.end(req.method === 'HEAD' ? undefined : bytes);
    } catch {
      res.statusCode = 404;
      res.end();
    }
  };
}

/** Sends `bytes` then destroys the socket (a connection closed early). */
function breakOff(res: ServerResponse, headers: Record<string, string | number>, bytes: Uint8Array): void {
  res.writeHead(200, headers);
  res.write(bytes, () => res.destroy());
}

/** Byte-for-byte equality (vitest's toEqual is slow on 800 kB arrays). */
function same(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.compare(a, b) === 0;
}

async function sha256(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>));
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
}

describe('HttpModelSource against a hostile server', () => {
  let server: ScriptedServer;
  let foreign: ScriptedServer;
  let storage: MemoryCacheStorage;
  const cachedUrls = () => [...(storage.caches.get('latentkit-models')?.entries.keys() ?? [])];

  beforeAll(async () => {
    server = await startScriptedServer();
    foreign = await startScriptedServer((_req, res) => {
      res.end('private');
    });
  });
  afterAll(async () => {
    await server.close();
    await foreign.close();
  });
  beforeEach(() => {
    storage = installMemoryCaches();
    server.requests.length = 0;
    foreign.requests.length = 0;
    server.handle((_req, res) => {
      res.writeHead(200, { 'content-length': BODY.length });
      res.end(BODY);
    });
  });
  afterEach(uninstallMemoryCaches);

  describe('paths that would leave the base URL are refused before any request', () => {
    const escapes: [string, string][] = [
      ['%2e%2e (lower case)', '%2e%2e/%2e%2e/private/secret.bin'],
      ['%2E%2E (upper case)', '%2E%2E/%2E%2E/private/secret.bin'],
      ['mixed .%2e', 'unet/.%2e/.%2e/.%2e/private/secret.bin'],
      ['..%2f', 'unet/..%2f..%2f..%2fprivate/secret.bin'],
      ['%2e%2e%2f in one segment', 'unet/%2e%2e%2f%2e%2e%2fsecret.bin'],
      ['%5c (encoded backslash)', 'unet/..%5c..%5csecret.bin'],
      ['raw backslashes', 'unet\\..\\..\\secret.bin'],
      ['double encoding %252e%252e', '%252e%252e/%252e%252e/private/secret.bin'],
      ['triple encoding %25252e', '%25252e%25252e/private/secret.bin'],
      ['leading space before another origin', ' https://evil.example/x'],
      ['leading tab before another origin', '\thttp://evil.example/x'],
      ['leading U+0001 before another origin', '\u0001http://evil.example/x'],
      ['leading no-break space', '\u00a0https://evil.example/x'],
      ['a newline inside', 'unet/\nmodel.onnx'],
      ['%00 (encoded NUL)', 'unet/model.onnx%00.txt'],
      ['%0a (encoded newline)', 'unet/%0amodel.onnx'],
      ['a query string', 'unet/model.onnx?download=../../x'],
      ['a fragment', 'unet/model.onnx#x'],
      ['malformed percent-encoding', 'unet/100%zz.bin'],
      ['another origin, absolute', 'https://evil.example/x'],
      ['another origin, scheme-relative', '//evil.example/x'],
      ['a literal ..', 'unet/../../private/secret.bin'],
    ];
    it.each(escapes)('%s: %j', async (_what, path) => {
      const source = new HttpModelSource(`${server.origin}/m/sd1/`, {
        requestInit: { headers: { Authorization: TOKEN } },
      });
      const error = await source.readBytes(path).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ModelInvalidError);
      expect((error as Error).message).toMatch(/model (file )?path|model file path/);
      expect(server.requests).toEqual([]);
      expect(foreign.requests).toEqual([]);
      await expect(source.exists(path)).rejects.toBeInstanceOf(ModelInvalidError);
      expect(server.requests).toEqual([]);
    });
  });

  it('an external-data location of %2e%2e/… inside unet/model.onnx: the private file is never requested, the token never leaves', async () => {
    server.handle(
      folder('sd1', {
        '/m/sd1/unet/model.onnx': (_req, res) => {
          const bytes = onnxWithExternalData('%2e%2e/%2e%2e/%2e%2e/private/secret.bin');
          res.writeHead(200, { 'content-length': bytes.length });
          res.end(bytes);
        },
        '/private/secret.bin': (_req, res) => res.end('secret'),
      }),
    );
    const error = await webBackend
      .load(`${server.origin}/m/sd1/`, {
        providers: ['wasm'],
        components: ['unet', 'vae_decoder'],
        requestInit: { headers: { Authorization: TOKEN } },
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ModelInvalidError);
    expect((error as Error).message).toContain('%2e%2e');
    expect(server.requests.map((r) => r.url)).toContain('/m/sd1/unet/model.onnx');
    expect(server.requests.filter((r) => !r.url.startsWith('/m/sd1/'))).toEqual([]);
    expect(cachedUrls().some((u) => u.includes('private'))).toBe(false);
  });

  it.each([
    ['a leading space', (o: string) => ` ${o}/x.onnx`],
    ['a leading U+0001', (o: string) => `\u0001${o}/x.onnx`],
    ['%2e%2e up to the root', () => '%2e%2e/%2e%2e/x.onnx'],
  ])('a modelFiles override with %s reaches neither server', async (_what, make) => {
    server.handle(folder('sd1'));
    const error = await webBackend
      .load(`${server.origin}/m/sd1/`, {
        providers: ['wasm'],
        components: ['unet', 'vae_decoder'],
        modelFiles: { unet: make(foreign.origin) },
        requestInit: { headers: { Authorization: TOKEN } },
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ModelInvalidError);
    expect(foreign.requests).toEqual([]);
    expect(server.requests.filter((r) => !r.url.startsWith('/m/sd1/'))).toEqual([]);
  });

  it('a redirect to another origin does not carry the Authorization header there', async () => {
    server.handle((req, res) => {
      res.writeHead(302, { location: `${foreign.origin}/elsewhere${req.url}` });
      res.end();
    });
    const source = new HttpModelSource(`${server.origin}/m/sd1/`, {
      requestInit: { headers: { Authorization: TOKEN } },
    });
    await source.readText('model_index.json');
    expect(server.requests).toEqual([
      { method: 'GET', url: '/m/sd1/model_index.json', authorization: TOKEN },
    ]);
    expect(foreign.requests).toEqual([
      { method: 'GET', url: '/elsewhere/m/sd1/model_index.json', authorization: undefined },
    ]);
  });

  describe('downloads that break off or lie are typed errors, and nothing is cached', () => {
    const half = BODY.subarray(0, BODY.length / 2);

    async function expectNotCached(file: string): Promise<void> {
      expect(cachedUrls().filter((u) => u.endsWith(file))).toEqual([]);
      // The next load asks the server again and, the server mended, gets the whole file.
      server.handle((_req, res) => {
        res.writeHead(200, { 'content-length': BODY.length });
        res.end(BODY);
      });
      const again = await new HttpModelSource(`${server.origin}/m/x/`).readBytes(file);
      expect(same(again, BODY)).toBe(true);
    }

    it('a Content-Length body cut short (the connection closed early): DownloadFailedError, not "TypeError: terminated"', async () => {
      server.handle((_req, res) => breakOff(res, { 'content-length': BODY.length }, half));
      const error = await new HttpModelSource(`${server.origin}/m/x/`).readBytes('w.bin').catch((e) => e);
      expect(error).toBeInstanceOf(DownloadFailedError);
      expect(error.url).toBe(`${server.origin}/m/x/w.bin`);
      expect(error.message).toMatch(/broke off .*after \d+ of 807686 bytes/);
      await expectNotCached('w.bin');
    });

    it('a chunked body whose connection closes early: DownloadFailedError', async () => {
      server.handle((_req, res) => breakOff(res, {}, half));
      const error = await new HttpModelSource(`${server.origin}/m/x/`).readBytes('w.bin').catch((e) => e);
      expect(error).toBeInstanceOf(DownloadFailedError);
      await expectNotCached('w.bin');
    });

    it('a chunked body that ends cleanly but short of its X-Linked-Size: DownloadFailedError', async () => {
      server.handle((_req, res) => {
        res.writeHead(200, { 'x-linked-size': BODY.length });
        res.end(half);
      });
      const error = await new HttpModelSource(`${server.origin}/m/x/`).readBytes('w.bin').catch((e) => e);
      expect(error).toBeInstanceOf(DownloadFailedError);
      expect(error.message).toMatch(/X-Linked-Size/);
      await expectNotCached('w.bin');
    });

    it('a truncated gzip body with an X-Linked-ETag (sha256): DownloadFailedError naming both digests', async () => {
      const gz = gzipSync(BODY);
      const digest = await sha256(BODY);
      server.handle((_req, res) => {
        const cut = gz.subarray(0, gz.length >> 1);
        res.writeHead(200, {
          'content-encoding': 'gzip',
          'content-length': cut.length,
          'x-linked-etag': `"${digest}"`,
        });
        res.end(cut);
      });
      const error = await new HttpModelSource(`${server.origin}/m/x/`).readBytes('w.bin').catch((e) => e);
      expect(error).toBeInstanceOf(DownloadFailedError);
      expect(error.message).toContain(digest);
      await expectNotCached('w.bin');
    });

    it('a whole gzip body with the right X-Linked-ETag is accepted and cached', async () => {
      const gz = gzipSync(BODY);
      const digest = await sha256(BODY);
      server.handle((_req, res) => {
        res.writeHead(200, {
          'content-encoding': 'gzip',
          'content-length': gz.length,
          'x-linked-etag': `"${digest}"`,
        });
        res.end(gz);
      });
      expect(same(await new HttpModelSource(`${server.origin}/m/x/`).readBytes('w.bin'), BODY)).toBe(true);
      expect(cachedUrls()).toContain(`${server.origin}/m/x/w.bin`);
    });

    it('a truncated gzip body with no hash: the failed load drops its downloads, the next load works', async () => {
      const name = 'sd1-external';
      const data = readFileSync(join(fixtures, name, 'unet', 'model.onnx_data'));
      const gz = gzipSync(data);
      const truncated = folder(name, {
        [`/m/${name}/unet/model.onnx_data`]: (_req, res) => {
          const cut = gz.subarray(0, gz.length >> 1);
          res.writeHead(200, { 'content-encoding': 'gzip', 'content-length': cut.length });
          res.end(cut);
        },
      });
      server.handle(truncated);
      const options = { providers: ['wasm'] as const, components: ['unet', 'vae_decoder'] as const };
      const error = await webBackend.load(`${server.origin}/m/${name}/`, options).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ModelInvalidError);
      expect(cachedUrls().filter((u) => u.endsWith('.onnx_data') || u.endsWith('.onnx'))).toEqual([]);

      server.handle(folder(name));
      const parts = await webBackend.load(`${server.origin}/m/${name}/`, options);
      await parts.dispose();
      expect(cachedUrls()).toContain(`${server.origin}/m/${name}/unet/model.onnx_data`);
    });

    // A browser hides Content-Encoding from a cross-origin page unless the server exposes it (CORS), while
    // Content-Length (compressed) stays visible: the body then arrives longer than Content-Length.
    const corsFiltered: typeof fetch = async (input, init) => {
      const response = await fetch(input, init);
      const headers = new Headers(response.headers);
      headers.delete('content-encoding');
      return new Response(response.body, { status: response.status, headers });
    };

    it('a gzip body whose Content-Encoding CORS hides is accepted whole (not mistaken for a long body)', async () => {
      const gz = gzipSync(BODY);
      server.handle((_req, res) => {
        res.writeHead(200, { 'content-encoding': 'gzip', 'content-length': gz.length });
        res.end(gz);
      });
      const source = new HttpModelSource(`${server.origin}/m/x/`, { fetch: corsFiltered });
      expect(same(await source.readBytes('w.bin'), BODY)).toBe(true);
    });

    it('…and truncated, it is still caught by the sha256 option', async () => {
      const gz = gzipSync(BODY);
      server.handle((_req, res) => {
        const cut = gz.subarray(0, gz.length >> 1);
        res.writeHead(200, { 'content-encoding': 'gzip', 'content-length': cut.length });
        res.end(cut);
      });
      const source = new HttpModelSource(`${server.origin}/m/x/`, {
        fetch: corsFiltered,
        sha256: { 'w.bin': await sha256(BODY) },
      });
      await expect(source.readBytes('w.bin')).rejects.toBeInstanceOf(DownloadFailedError);
      expect(cachedUrls()).toEqual([]);
    });

    it('a sha256 option that the body does not match: DownloadFailedError, not cached', async () => {
      const source = new HttpModelSource(`${server.origin}/m/x/`, { sha256: { 'w.bin': '0'.repeat(64) } });
      const error = await source.readBytes('w.bin').catch((e) => e);
      expect(error).toBeInstanceOf(DownloadFailedError);
      expect(error.message).toMatch(/does not match its SHA-256: expected 0{64}/);
      expect(cachedUrls()).toEqual([]);
    });

    it('Content-Length: 1e12 is refused before anything is allocated (LimitExceededError, not RangeError)', async () => {
      server.handle((_req, res) => breakOff(res, { 'content-length': '1000000000000' }, half));
      const error = await new HttpModelSource(`${server.origin}/m/x/`).readBytes('w.bin').catch((e) => e);
      expect(error).toBeInstanceOf(LimitExceededError);
      expect(error.message).toMatch(
        /1000000000000 is invalid: expected at most maxFileBytes = 4294967296 bytes/,
      );
      expect(cachedUrls()).toEqual([]);
    });

    it('a body without Content-Length that grows past maxFileBytes: LimitExceededError', async () => {
      server.handle((_req, res) => {
        res.writeHead(200);
        res.end(BODY);
      });
      const source = new HttpModelSource(`${server.origin}/m/x/`, { maxFileBytes: 100_000 });
      await expect(source.readBytes('w.bin')).rejects.toBeInstanceOf(LimitExceededError);
      expect(cachedUrls()).toEqual([]);
    });

    it('HTTP 500: DownloadFailedError (not "model not found"), and the retry works', async () => {
      server.handle((_req, res) => {
        res.statusCode = 500;
        res.end('oops');
      });
      const error = await new HttpModelSource(`${server.origin}/m/x/`).readBytes('w.bin').catch((e) => e);
      expect(error).toBeInstanceOf(DownloadFailedError);
      expect(error.message).toMatch(/HTTP 500/);
      await expectNotCached('w.bin');
    });

    it('a server that cannot be reached: DownloadFailedError', async () => {
      const gone = await startScriptedServer();
      const origin = gone.origin;
      await gone.close();
      const error = await new HttpModelSource(`${origin}/m/x/`).readBytes('w.bin').catch((e) => e);
      expect(error).toBeInstanceOf(DownloadFailedError);
      expect(error.message).toMatch(/Could not fetch/);
    });
  });

  describe('a 404 is not remembered', () => {
    it('exists(): a file missing at the first load is found once it appears', async () => {
      const base = `${server.origin}/m/x/`;
      server.handle((_req, res) => {
        res.statusCode = 404;
        res.end();
      });
      expect(await new HttpModelSource(base).exists('unet/config.json')).toBe(false);
      server.handle((req, res) => {
        res.writeHead(200, { 'content-length': 2 });
        res.end(req.method === 'HEAD' ? undefined : '{}');
      });
      const later = new HttpModelSource(base);
      expect(await later.exists('unet/config.json')).toBe(true);
      expect(await later.readText('unet/config.json')).toBe('{}');
    });

    it('readBytes(): a 404 then a 200 for the same file gives the file', async () => {
      const base = `${server.origin}/m/x/`;
      server.handle((_req, res) => {
        res.statusCode = 404;
        res.end();
      });
      await expect(new HttpModelSource(base).readBytes('w.bin')).rejects.toMatchObject({
        code: 'MODEL_NOT_FOUND',
      });
      server.handle((_req, res) => {
        res.end(BODY);
      });
      expect(same(await new HttpModelSource(base).readBytes('w.bin'), BODY)).toBe(true);
    });

    it('offline, a file the cache recorded as missing is still missing (cached models load offline)', async () => {
      const gone = await startScriptedServer();
      const base = `${gone.origin}/m/x/`;
      expect(await new HttpModelSource(base).exists('unet/config.json')).toBe(false);
      await gone.close();
      expect(await new HttpModelSource(base).exists('unet/config.json')).toBe(false);
      await expect(new HttpModelSource(base).exists('other.json')).rejects.toBeInstanceOf(
        DownloadFailedError,
      );
    });
  });

  describe('bad download options', () => {
    it.each([0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, '4096'])('maxFileBytes: %s', (value) => {
      expect(() => new HttpModelSource(`${server.origin}/m/x/`, { maxFileBytes: value as number })).toThrow(
        /maxFileBytes = .* is invalid: expected a whole number of bytes ≥ 1/,
      );
    });

    it.each(['abc', 'g'.repeat(64), '0'.repeat(63), 42])('sha256 value: %j', (value) => {
      expect(
        () => new HttpModelSource(`${server.origin}/m/x/`, { sha256: { 'w.bin': value as string } }),
      ).toThrow(/sha256\["w.bin"\] = .* is invalid: expected a SHA-256 digest as 64 hex digits/);
    });

    it('a model URL with a user name and password (fetch refuses them; the token belongs in requestInit)', () => {
      const origin = server.origin.replace('http://', 'http://user:hf_token@');
      const error = (() => {
        try {
          new HttpModelSource(`${origin}/m/x/`);
        } catch (e) {
          return e as Error;
        }
      })();
      expect(error).toBeInstanceOf(InvalidArgumentError);
      expect(error?.message).toMatch(/expected a URL without a user name or password/);
      expect(error?.message).not.toContain('hf_token');
    });

    it('sha256 key outside the model folder', () => {
      expect(
        () => new HttpModelSource(`${server.origin}/m/x/`, { sha256: { '../w.bin': '0'.repeat(64) } }),
      ).toThrow(ModelInvalidError);
    });
  });
});
