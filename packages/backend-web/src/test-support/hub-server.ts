import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

/**
 * A Hugging Face–like hub for tests, on 127.0.0.1, answering what the web backend asks of the real hub:
 *
 * - `GET|HEAD /<org>/<name>/resolve/<revision>/<path>` — small files with 200 (`X-Repo-Commit`, a git
 *   `ETag`); Git LFS files (`*.onnx`, `*.onnx_data`, `*.pb`, `*.bin`, `*.safetensors`) with a 302 to the
 *   hub's "CDN" — a second server on another origin — with `X-Linked-ETag` (the SHA-256),
 *   `X-Linked-Size` and `X-Repo-Commit`, as huggingface.co does;
 * - `POST /api/models/<org>/<name>/paths-info/<revision>` — `[{ path, type, size, oid, lfs: { oid, size } }]`;
 * - the hub's errors: 401 `RepoNotFound` for a repository it does not show (unknown, or private without a
 *   token), 401 for a wrong token, 404 `RevisionNotFound`, 404 `EntryNotFound`;
 * - CORS as the hub sends it (preflights answered, the `X-Linked-*`, `X-Repo-Commit`, `X-Error-Code`
 *   headers exposed), so a page on another origin can use it.
 *
 * Every request to the hub and to the CDN is logged with its `Authorization` header, so tests can check
 * where a token went.
 */

/** One repository of the hub. */
export interface TestHubRepo {
  /** Revision name (branch, tag, commit) → the folder served at that revision. */
  readonly revisions: Readonly<Record<string, string>>;
  /** When set, the repository is private: only requests with `Authorization: Bearer <token>` see it. */
  readonly token?: string;
}

/** How the hub behaves; tests change it between requests with {@link TestHub.configure}. */
export interface TestHubBehaviour {
  /** Send `X-Linked-ETag` on LFS redirects (default true). */
  linkedEtag: boolean;
  /** Answer the paths-info API (default true; false: 404). */
  pathsInfo: boolean;
  /** The CDN flips one byte of every file it serves (default false). */
  tamper: boolean;
  /** The commit each revision reports in `X-Repo-Commit` (default: a hash of repo and revision). */
  commits: Record<string, string>;
}

/** One request the hub or its CDN saw. */
export interface TestHubRequest {
  readonly method: string;
  /** The raw request target. */
  readonly url: string;
  readonly authorization: string | undefined;
}

/** A running {@link startTestHub}. */
export interface TestHub {
  /** The hub: `http://127.0.0.1:<port>` (pass it as `hubUrl`). */
  readonly origin: string;
  /** The CDN LFS files are redirected to: another origin. */
  readonly cdnOrigin: string;
  /** Requests to the hub. */
  readonly requests: TestHubRequest[];
  /** Requests to the CDN. */
  readonly cdnRequests: TestHubRequest[];
  /** Changes the behaviour (the rest stays). */
  configure(change: Partial<TestHubBehaviour>): void;
  close(): Promise<void>;
}

const LFS = /\.(onnx|onnx_data|pb|bin|safetensors)$/;
const CORS = {
  'access-control-allow-origin': '*',
  'access-control-expose-headers':
    'content-length, etag, x-linked-etag, x-linked-size, x-repo-commit, x-error-code, location',
};

function sha(algorithm: 'sha1' | 'sha256', data: string | Uint8Array): string {
  return createHash(algorithm).update(data).digest('hex');
}

/** Every file under `dir`, as repository paths (`unet/model.onnx`). */
function listFiles(dir: string, prefix = ''): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const full = join(dir, name);
    if (statSync(full).isDirectory()) out.push(...listFiles(full, `${prefix}${name}/`));
    else out.push(`${prefix}${name}`);
  }
  return out;
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve, reject) => {
    server.closeAllConnections();
    server.close((error) => (error ? reject(error) : resolve()));
  });
}

/** Starts a test hub serving `repos` (`org/name` → repository). */
export async function startTestHub(repos: Readonly<Record<string, TestHubRepo>>): Promise<TestHub> {
  const requests: TestHubRequest[] = [];
  const cdnRequests: TestHubRequest[] = [];
  const behaviour: TestHubBehaviour = { linkedEtag: true, pathsInfo: true, tamper: false, commits: {} };
  // The CDN's blobs: SHA-256 → bytes (each LFS file, read once).
  const blobs = new Map<string, Uint8Array>();
  const log = (into: TestHubRequest[], req: IncomingMessage) =>
    into.push({ method: req.method ?? 'GET', url: req.url ?? '', authorization: req.headers.authorization });

  const commitOf = (repo: string, revision: string) =>
    behaviour.commits[revision] ?? sha('sha1', `${repo}@${revision}`);

  const cdn = createServer((req, res) => {
    log(cdnRequests, req);
    const key = new URL(req.url ?? '/', 'http://x').pathname.replace(/^\/blobs\//, '');
    const bytes = blobs.get(key);
    if (!bytes) {
      res.writeHead(404, CORS).end();
      return;
    }
    const body = behaviour.tamper ? Uint8Array.from(bytes, (b, i) => (i === 0 ? b ^ 1 : b)) : bytes;
    res.writeHead(200, {
      ...CORS,
      'content-type': 'application/octet-stream',
      'content-length': body.length,
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  });
  const cdnOrigin = await listen(cdn);

  function fail(res: ServerResponse, status: number, code: string | undefined, message: string): void {
    res.writeHead(status, {
      ...CORS,
      'content-type': 'application/json',
      ...(code ? { 'x-error-code': code } : {}),
    });
    res.end(JSON.stringify({ error: message }));
  }

  /** The repository and revision folder a request may read, or undefined once an error is sent. */
  function open(
    req: IncomingMessage,
    res: ServerResponse,
    repo: string,
    revision: string,
  ): { dir: string; commit: string } | undefined {
    const spec = repos[repo];
    const auth = req.headers.authorization;
    const token = auth?.startsWith('Bearer ') ? auth.slice('Bearer '.length) : undefined;
    if (auth !== undefined && (token === undefined || !token.startsWith('hf_'))) {
      fail(res, 401, undefined, 'Invalid credentials in Authorization header');
      return undefined;
    }
    if (!spec || (spec.token !== undefined && spec.token !== token)) {
      if (spec?.token !== undefined && token !== undefined) {
        fail(res, 401, undefined, 'Invalid credentials in Authorization header');
      } else if (token !== undefined) {
        fail(res, 404, 'RepoNotFound', 'Repository not found');
      } else {
        fail(res, 401, 'RepoNotFound', 'Repository not found');
      }
      return undefined;
    }
    const dir = spec.revisions[revision];
    if (dir === undefined) {
      fail(res, 404, 'RevisionNotFound', `Invalid rev id: ${revision}`);
      return undefined;
    }
    return { dir, commit: commitOf(repo, revision) };
  }

  function readRepoFile(dir: string, path: string): Uint8Array | undefined {
    if (path.split('/').some((s) => s === '' || s === '.' || s === '..')) return undefined;
    try {
      const full = join(dir, path);
      return statSync(full).isFile() ? new Uint8Array(readFileSync(full)) : undefined;
    } catch {
      return undefined;
    }
  }

  async function body(req: IncomingMessage): Promise<string> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  }

  const hub = createServer((req, res) => {
    log(requests, req);
    void (async () => {
      if (req.method === 'OPTIONS') {
        res.writeHead(204, {
          ...CORS,
          'access-control-allow-methods': 'GET, HEAD, POST',
          'access-control-allow-headers': 'authorization, content-type, range',
          'access-control-max-age': '0',
        });
        res.end();
        return;
      }
      const segments = new URL(req.url ?? '/', 'http://x').pathname.split('/').slice(1);
      // POST /api/models/<org>/<name>/paths-info/<revision>
      if (
        req.method === 'POST' &&
        segments[0] === 'api' &&
        segments[1] === 'models' &&
        segments[4] === 'paths-info'
      ) {
        if (!behaviour.pathsInfo) return fail(res, 404, undefined, 'Not Found');
        const repo = `${segments[2]}/${segments[3]}`;
        const found = open(req, res, repo, decodeURIComponent(segments[5] ?? ''));
        if (!found) return;
        let paths: unknown;
        try {
          paths = (JSON.parse(await body(req)) as { paths?: unknown }).paths;
        } catch {
          return fail(res, 400, undefined, 'Bad JSON');
        }
        const entries = (Array.isArray(paths) ? paths : []).flatMap((path) => {
          const bytes = typeof path === 'string' ? readRepoFile(found.dir, path) : undefined;
          if (!bytes) return [];
          return [
            {
              type: 'file',
              path,
              size: bytes.length,
              oid: sha('sha1', bytes),
              ...(LFS.test(path as string)
                ? { lfs: { oid: sha('sha256', bytes), size: bytes.length, pointerSize: 134 } }
                : {}),
            },
          ];
        });
        res.writeHead(200, { ...CORS, 'content-type': 'application/json' });
        res.end(JSON.stringify(entries));
        return;
      }
      // GET|HEAD /<org>/<name>/resolve/<revision>/<path…>
      if ((req.method === 'GET' || req.method === 'HEAD') && segments[2] === 'resolve') {
        const repo = `${segments[0]}/${segments[1]}`;
        const found = open(req, res, repo, decodeURIComponent(segments[3] ?? ''));
        if (!found) return;
        const path = segments.slice(4).map(decodeURIComponent).join('/');
        const bytes = readRepoFile(found.dir, path);
        if (!bytes) return fail(res, 404, 'EntryNotFound', `${path} does not exist`);
        const common = { ...CORS, 'x-repo-commit': found.commit };
        if (LFS.test(path)) {
          const digest = sha('sha256', bytes);
          blobs.set(digest, bytes);
          res.writeHead(302, {
            ...common,
            location: `${cdnOrigin}/blobs/${digest}?signature=not-a-secret`,
            'x-linked-size': bytes.length,
            ...(behaviour.linkedEtag ? { 'x-linked-etag': `"${digest}"` } : {}),
          });
          res.end();
          return;
        }
        res.writeHead(200, {
          ...common,
          etag: `"${sha('sha1', bytes)}"`,
          'content-type': path.endsWith('.json') ? 'application/json' : 'text/plain',
          'content-length': bytes.length,
        });
        res.end(req.method === 'HEAD' ? undefined : bytes);
        return;
      }
      fail(res, 404, undefined, 'Not Found');
    })().catch((error: unknown) => res.destroy(error as Error));
  });
  const origin = await listen(hub);

  return {
    origin,
    cdnOrigin,
    requests,
    cdnRequests,
    configure(change) {
      Object.assign(behaviour, change);
    },
    async close() {
      await Promise.all([closeServer(hub), closeServer(cdn)]);
    },
  };
}

/** The paths of every file of a folder, as the hub lists a repository (for tests that compare). */
export function repositoryFiles(dir: string): string[] {
  return listFiles(dir).sort();
}
