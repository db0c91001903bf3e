/**
 * A local stand-in for the Hugging Face Hub: a real HTTP server on 127.0.0.1 that serves hub-like model
 * repositories from folders, at exactly the endpoints the official client (`@huggingface/hub`) and
 * Python's `huggingface_hub` call, plus a second server on another port (another origin) that plays the
 * LFS/CDN storage the hub redirects large files to. Tests point the client at {@link TestHub.url} with the
 * `hubUrl` option (or `HF_ENDPOINT`), exactly as a user points it at a mirror.
 *
 * Endpoints of the hub origin (all also answer CORS preflights, so a browser page can use them):
 * - `GET /api/models/<org>/<name>/revision/<rev>` — model info; `sha` is the revision's commit.
 * - `GET /api/models/<org>/<name>/tree/<rev>[/<folder>]?recursive=…` — the file listing: `type`, `path`,
 *   `size`, `oid` (git blob sha1) and, for LFS files, `lfs: { oid: <sha256>, size, pointerSize }`.
 * - `POST /api/models/<org>/<name>/paths-info/<rev>` — the same entries for the `paths` asked for
 *   (form or JSON body; `expand` adds `lastCommit`).
 * - `GET|HEAD /<org>/<name>/resolve/<rev>/<path>` — a file. Regular files are served here with
 *   `ETag: "<git oid>"`; LFS files (`.onnx`, `.onnx_data`, `.pb`, `.bin`, `.safetensors`, … by default)
 *   answer `302` to the CDN origin with `X-Linked-Etag: "<sha256>"` and `X-Linked-Size`. Every answer
 *   carries `X-Repo-Commit`. `Range: bytes=a-b` gives `206` with `Content-Range`.
 * - Errors as the hub sends them: `404` with `X-Error-Code: RepoNotFound | RevisionNotFound | EntryNotFound`,
 *   `401` (`RepoNotFound`) for a private repo without its token, `403` (`GatedRepo`) for a gated repo
 *   without it; JSON bodies `{ "error": "…" }`.
 *
 * A revision is a branch name (`main`, `v2`, `refs/pr/1`, …; `HEAD` is `main`) or the 40-hex commit it points
 * to; commits are derived from the revision's content, so they are stable across runs, and
 * {@link TestHub.moveBranch} makes a branch report another commit (a push between two downloads). Every
 * request (both origins) is recorded with its `Authorization` header, so a test can assert "no request at
 * all" or "the token never left the hub". {@link TestHub.setFault} cuts a file's body short, corrupts it
 * (on the CDN, for an LFS file), or answers a status; {@link TestHub.configure} drops `X-Linked-Etag` from
 * the redirects or turns the paths-info API off (404), as some mirrors do.
 *
 * The one test hub of the repository: used by tests/hub-*.test.ts and packages/backend-node (the Node
 * backend's `@huggingface/hub` client), and by packages/backend-web's web-hub tests and
 * tests/browser/web-hub.test.ts (the browser backend's fetch); keep the API stable.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** One revision (branch) of a repository: the files of a folder, with files added or replaced. */
export interface TestHubRevision {
  /** A folder whose files (recursively) are the revision's files. */
  readonly folder?: string;
  /** Files added or replaced (path → content); `null` removes a file of the folder. */
  readonly files?: Readonly<Record<string, string | Uint8Array | null>>;
}

/** A repository served by the {@link TestHub}. */
export interface TestHubRepoSpec {
  /** `org/name`. */
  readonly id: string;
  /** Branch name → content. Give at least `main`. */
  readonly branches: Readonly<Record<string, TestHubRevision>>;
  /** A private repo: every hub request must carry `Authorization: Bearer <token>` (else 401). */
  readonly token?: string;
  /** A gated repo: like `token`, but a request without it gets 403 `GatedRepo` (licence not accepted). */
  readonly gated?: boolean;
  /** Which paths are stored with LFS (redirected to the CDN origin). Default {@link isLfsPath}. */
  readonly lfs?: (path: string) => boolean;
}

/** A request one of the two servers received. */
export interface RecordedRequest {
  /** `hub` (the API and `resolve/`) or `cdn` (LFS storage, another origin). */
  readonly server: 'hub' | 'cdn';
  /** `GET`, `HEAD`, `POST`, `OPTIONS`. */
  readonly method: string;
  /** The path and query, e.g. `/latentkit/shapes/resolve/main/model_index.json`. */
  readonly url: string;
  /** The `Authorization` header, if one was sent. */
  readonly authorization?: string;
  /** The `Range` header, if one was sent. */
  readonly range?: string;
}

/**
 * A fault injected into the answers for one file (at any revision; for LFS files on the CDN):
 * - `truncate`: announce the full `Content-Length`, send only `bytes` bytes, then drop the connection;
 * - `truncate-chunked`: no `Content-Length` (chunked), send `bytes` bytes and end cleanly — only a size
 *   or hash check can tell;
 * - `corrupt`: the right length, one byte flipped (a hash mismatch);
 * - `status`: answer this HTTP status with a JSON error.
 */
export type TestHubFault =
  | { readonly kind: 'truncate'; readonly bytes: number }
  | { readonly kind: 'truncate-chunked'; readonly bytes: number }
  | { readonly kind: 'corrupt' }
  | { readonly kind: 'status'; readonly status: number };

/** How the hub answers, beyond its repositories; change it with {@link TestHub.configure}. */
export interface TestHubBehaviour {
  /** Send `X-Linked-Etag` (the SHA-256) on the redirects of LFS files (default true). */
  readonly linkedEtag: boolean;
  /** Answer the paths-info API (default true; false: `404` without `X-Error-Code`, as for no such endpoint). */
  readonly pathsInfo: boolean;
}

const DEFAULT_BEHAVIOUR: TestHubBehaviour = { linkedEtag: true, pathsInfo: true };

/** A file of a served revision, with the hashes the hub reports for it. */
export interface TestHubFile {
  /** The path in the repo, e.g. `unet/model.onnx`. */
  readonly path: string;
  /** The content. */
  readonly bytes: Uint8Array;
  /** Whether it is stored with LFS (served from the CDN after a redirect). */
  readonly lfs: boolean;
  /** sha256 of the content (the LFS oid; `X-Linked-Etag`). */
  readonly sha256: string;
  /** The git blob oid: sha1 of `blob <size>\0<content>` (the `ETag` of a regular file). */
  readonly gitOid: string;
}

/** The default LFS rule: the extensions a diffusers repo's `.gitattributes` sends to LFS. */
export function isLfsPath(path: string): boolean {
  return /\.(onnx|onnx_data|pb|bin|safetensors|ckpt|pt|pth|msgpack|h5)$/.test(path);
}

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));

/** The shipped model folder (`packages/model-shapes/model`). */
export const SHAPES_MODEL_FOLDER = here('../../packages/model-shapes/model');
/** The sd1 fixture with external weights (`tests/fixtures/models/sd1-external`). */
export const SD1_EXTERNAL_FOLDER = here('../fixtures/models/sd1-external');

/** The shipped model: branch `main`, and branch `euler` with an EulerDiscreteScheduler config. */
export const SHAPES_REPO = 'latentkit/shapes';
/** The sd1 fixture whose UNet keeps its weights in `unet/model.onnx_data`. */
export const SD1_EXTERNAL_REPO = 'latentkit/sd1-external';
/** A private copy of the shipped model; needs {@link PRIVATE_TOKEN}. */
export const PRIVATE_REPO = 'latentkit/shapes-private';
/** A gated copy of the shipped model; needs {@link PRIVATE_TOKEN}, else 403. */
export const GATED_REPO = 'latentkit/shapes-gated';
/** The token of {@link PRIVATE_REPO} and {@link GATED_REPO} (the hub's tokens start with `hf_`). */
export const PRIVATE_TOKEN = 'hf_testhubPrivateToken0123456789';

/** Files a real diffusers repo also holds that a latentkit load must NOT download. */
export const UNNEEDED_FILES: Readonly<Record<string, string | Uint8Array>> = {
  'README.md': '# shapes\n\nThe tiny model latentkit ships.\n',
  '.gitattributes': '*.onnx filter=lfs diff=lfs merge=lfs -text\n',
  'unet/diffusion_pytorch_model.safetensors': new Uint8Array(4096).fill(7),
  'safety_checker/model.onnx': new Uint8Array(2048).fill(3),
};

/**
 * The repositories most tests use: {@link SHAPES_REPO} (main + `euler`, with {@link UNNEEDED_FILES}
 * added), {@link SD1_EXTERNAL_REPO}, {@link PRIVATE_REPO} and {@link GATED_REPO}.
 */
export function standardRepos(): TestHubRepoSpec[] {
  const schedulerConfig = JSON.parse(
    readFileSync(join(SHAPES_MODEL_FOLDER, 'scheduler/scheduler_config.json'), 'utf8'),
  ) as Record<string, unknown>;
  const euler = JSON.stringify({ ...schedulerConfig, _class_name: 'EulerDiscreteScheduler' }, null, 2);
  return [
    {
      id: SHAPES_REPO,
      branches: {
        main: { folder: SHAPES_MODEL_FOLDER, files: UNNEEDED_FILES },
        euler: { folder: SHAPES_MODEL_FOLDER, files: { 'scheduler/scheduler_config.json': euler } },
      },
    },
    { id: SD1_EXTERNAL_REPO, branches: { main: { folder: SD1_EXTERNAL_FOLDER } } },
    { id: PRIVATE_REPO, token: PRIVATE_TOKEN, branches: { main: { folder: SHAPES_MODEL_FOLDER } } },
    {
      id: GATED_REPO,
      token: PRIVATE_TOKEN,
      gated: true,
      branches: { main: { folder: SHAPES_MODEL_FOLDER } },
    },
  ];
}

interface Revision {
  readonly branch: string;
  readonly commit: string;
  readonly files: ReadonlyMap<string, TestHubFile>;
}

interface Repo {
  readonly spec: TestHubRepoSpec;
  readonly revisions: readonly Revision[];
}

function filesOf(folder: string): Map<string, Uint8Array> {
  const out = new Map<string, Uint8Array>();
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const full = join(dir, name);
      if (statSync(full).isDirectory()) walk(full);
      else out.set(relative(folder, full).split(sep).join('/'), new Uint8Array(readFileSync(full)));
    }
  };
  walk(folder);
  return out;
}

function makeFile(path: string, bytes: Uint8Array, lfs: boolean): TestHubFile {
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const gitOid = createHash('sha1').update(`blob ${bytes.length}\0`).update(bytes).digest('hex');
  return { path, bytes, lfs, sha256, gitOid };
}

function makeRevision(spec: TestHubRepoSpec, branch: string, rev: TestHubRevision): Revision {
  const raw = rev.folder ? filesOf(rev.folder) : new Map<string, Uint8Array>();
  for (const [path, content] of Object.entries(rev.files ?? {})) {
    if (content === null) raw.delete(path);
    else raw.set(path, typeof content === 'string' ? new TextEncoder().encode(content) : content);
  }
  const isLfs = spec.lfs ?? isLfsPath;
  const files = new Map<string, TestHubFile>();
  const commitHash = createHash('sha1').update(`${spec.id}\0${branch}\0`);
  for (const path of [...raw.keys()].sort()) {
    const file = makeFile(path, raw.get(path)!, isLfs(path));
    files.set(path, file);
    commitHash.update(`${path}\0${file.gitOid}\0`);
  }
  return { branch, commit: commitHash.digest('hex'), files };
}

/** The git LFS pointer file that stands for an LFS file in git: its blob oid and size. */
function lfsPointer(file: TestHubFile): { oid: string; size: number } {
  const pointer = `version https://git-lfs.github.com/spec/v1\noid sha256:${file.sha256}\nsize ${file.bytes.length}\n`;
  return {
    oid: createHash('sha1').update(`blob ${pointer.length}\0${pointer}`).digest('hex'),
    size: pointer.length,
  };
}

const CORS_HEADERS = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Expose-Headers':
    'ETag, X-Repo-Commit, X-Linked-Etag, X-Linked-Size, X-Error-Code, X-Error-Message, Content-Range, Content-Length, Accept-Ranges, Location',
};

function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...CORS_HEADERS,
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': String(Buffer.byteLength(text)),
    ...headers,
  });
  res.end(text);
}

function sendError(res: ServerResponse, status: number, code: string, message: string): void {
  sendJson(res, status, { error: message }, { 'X-Error-Code': code, 'X-Error-Message': message });
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function listen(server: Server): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve(`http://127.0.0.1:${port}`);
    });
  });
}

/**
 * Parses `Range: bytes=a-b` (one range; `a-`, `-n` too) against a size; `undefined` when absent or not
 * satisfiable as one range (then the whole file is sent, as servers may).
 */
function parseRange(header: string | undefined, size: number): [number, number] | undefined {
  const m = header && /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return undefined;
  let start: number;
  let end: number;
  if (m[1] === '') {
    start = Math.max(0, size - Number(m[2]));
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  if (start > end || start >= size) return undefined;
  return [start, end];
}

/** The local hub. Start it with {@link TestHub.start}; `close()` it after the tests. */
export class TestHub {
  /** The hub's origin, e.g. `http://127.0.0.1:41234` (pass as `hubUrl` / `HF_ENDPOINT`). */
  readonly url: string;
  /** The CDN origin LFS files are redirected to (another port: another origin). */
  readonly cdnUrl: string;
  /** Every request both servers received, in order. */
  readonly requests: RecordedRequest[] = [];

  private readonly repos: ReadonlyMap<string, Repo>;
  private readonly faults = new Map<string, TestHubFault>();
  /** `repo\0branch` → the commit the branch reports instead of its own (see {@link TestHub.moveBranch}). */
  private readonly moved = new Map<string, string>();
  private behaviour: TestHubBehaviour = DEFAULT_BEHAVIOUR;
  private readonly hubServer: Server;
  private readonly cdnServer: Server;

  private constructor(
    repos: ReadonlyMap<string, Repo>,
    hubServer: Server,
    cdnServer: Server,
    url: string,
    cdnUrl: string,
  ) {
    this.repos = repos;
    this.hubServer = hubServer;
    this.cdnServer = cdnServer;
    this.url = url;
    this.cdnUrl = cdnUrl;
  }

  /**
   * Starts the hub and its CDN on free ports of 127.0.0.1, serving `repos` (default
   * {@link standardRepos}). Files are read into memory now, so later edits of the folders do not change
   * what is served.
   */
  static async start(repos: readonly TestHubRepoSpec[] = standardRepos()): Promise<TestHub> {
    const map = new Map<string, Repo>();
    for (const spec of repos) {
      const revisions = Object.entries(spec.branches).map(([branch, rev]) => makeRevision(spec, branch, rev));
      map.set(spec.id, { spec, revisions });
    }
    let hub: TestHub | undefined;
    const hubServer = createServer((req, res) => {
      hub!.handleHub(req, res).catch((err: unknown) => {
        if (!res.headersSent) sendError(res, 500, 'InternalError', String(err));
        else res.destroy();
      });
    });
    const cdnServer = createServer((req, res) => hub!.handleCdn(req, res));
    const [url, cdnUrl] = await Promise.all([listen(hubServer), listen(cdnServer)]);
    hub = new TestHub(map, hubServer, cdnServer, url, cdnUrl);
    return hub;
  }

  /** The commit a branch of a repo points to (40 hex). */
  commit(repo: string, branch = 'main'): string {
    return this.commitOf(repo, this.revision(repo, branch));
  }

  /** The requests the hub origin received (API and `resolve/`), in order. */
  get hubRequests(): RecordedRequest[] {
    return this.requests.filter((r) => r.server === 'hub');
  }

  /** The requests the CDN origin received (LFS bytes), in order. */
  get cdnRequests(): RecordedRequest[] {
    return this.requests.filter((r) => r.server === 'cdn');
  }

  /** Changes how the hub answers (the rest stays); see {@link TestHubBehaviour}. */
  configure(change: Partial<TestHubBehaviour>): void {
    this.behaviour = { ...this.behaviour, ...change };
  }

  /**
   * Moves a branch to another commit (40 hex) with the same files, as a push between two downloads does:
   * its answers carry that commit in `X-Repo-Commit` and `sha`, and the commit resolves as a revision;
   * `undefined` moves it back to its own commit.
   */
  moveBranch(repo: string, branch: string, commit: string | undefined): void {
    this.revision(repo, branch);
    const key = `${repo}\0${branch}`;
    if (commit === undefined) this.moved.delete(key);
    else this.moved.set(key, commit);
  }

  /** Back to the start: no faults, no moved branches, the default behaviour, no recorded requests. */
  reset(): void {
    this.faults.clear();
    this.moved.clear();
    this.behaviour = DEFAULT_BEHAVIOUR;
    this.clearRequests();
  }

  /** A file of a branch (its bytes and hashes); throws if there is none. */
  file(repo: string, path: string, branch = 'main'): TestHubFile {
    const file = this.revision(repo, branch).files.get(path);
    if (!file) throw new Error(`test hub: no ${path} in ${repo}@${branch}`);
    return file;
  }

  /** Every file of a branch, by path. */
  files(repo: string, branch = 'main'): ReadonlyMap<string, TestHubFile> {
    return this.revision(repo, branch).files;
  }

  /** Injects a fault into the answers for `path` of `repo` (any revision); `undefined` removes it. */
  setFault(repo: string, path: string, fault: TestHubFault | undefined): void {
    const key = `${repo}\0${path}`;
    if (fault) this.faults.set(key, fault);
    else this.faults.delete(key);
  }

  /** Forgets the recorded requests. */
  clearRequests(): void {
    this.requests.length = 0;
  }

  /** Stops both servers. */
  async close(): Promise<void> {
    const stop = (s: Server) =>
      new Promise<void>((resolve) => {
        s.closeAllConnections();
        s.close(() => resolve());
      });
    await Promise.all([stop(this.hubServer), stop(this.cdnServer)]);
  }

  private commitOf(repo: string, rev: Revision): string {
    return this.moved.get(`${repo}\0${rev.branch}`) ?? rev.commit;
  }

  private revision(repo: string, branch: string): Revision {
    const rev = this.repos.get(repo)?.revisions.find((r) => r.branch === branch);
    if (!rev) throw new Error(`test hub: no branch ${branch} in ${repo}`);
    return rev;
  }

  private record(server: 'hub' | 'cdn', req: IncomingMessage): void {
    const entry: {
      server: 'hub' | 'cdn';
      method: string;
      url: string;
      authorization?: string;
      range?: string;
    } = { server, method: req.method ?? 'GET', url: req.url ?? '/' };
    if (req.headers.authorization !== undefined) entry.authorization = req.headers.authorization;
    if (typeof req.headers.range === 'string') entry.range = req.headers.range;
    this.requests.push(entry);
  }

  private preflight(req: IncomingMessage, res: ServerResponse): boolean {
    if (req.method !== 'OPTIONS') return false;
    res.writeHead(204, {
      ...CORS_HEADERS,
      'Access-Control-Allow-Methods': 'GET, HEAD, POST, OPTIONS',
      'Access-Control-Allow-Headers': 'Authorization, Range, Accept, Content-Type',
      'Access-Control-Max-Age': '600',
    });
    res.end();
    return true;
  }

  /** Finds the repo and checks its access rule; answers the error itself and returns undefined. */
  private access(req: IncomingMessage, res: ServerResponse, id: string): Repo | undefined {
    const repo = this.repos.get(id);
    if (!repo) {
      sendError(res, 404, 'RepoNotFound', `Repository not found: ${id}`);
      return undefined;
    }
    const token = repo.spec.token;
    if (token !== undefined && req.headers.authorization !== `Bearer ${token}`) {
      if (repo.spec.gated) {
        sendError(
          res,
          403,
          'GatedRepo',
          `Access to model ${id} is restricted. You must have access to it and be authenticated to access it. Please log in.`,
        );
      } else {
        sendError(res, 401, 'RepoNotFound', 'Invalid username or password.');
      }
      return undefined;
    }
    return repo;
  }

  private findRevision(res: ServerResponse, repo: Repo, rev: string): Revision | undefined {
    // `HEAD` is the default branch (`main`), as on the hub
    const branch = rev === 'HEAD' ? 'main' : rev;
    const found = repo.revisions.find((r) => r.branch === branch || this.commitOf(repo.spec.id, r) === rev);
    if (!found) sendError(res, 404, 'RevisionNotFound', `Invalid rev id: ${rev}`);
    return found;
  }

  private entry(file: TestHubFile, commit: string, rev: Revision, expand: boolean): Record<string, unknown> {
    return {
      type: 'file',
      oid: file.lfs ? lfsPointer(file).oid : file.gitOid,
      size: file.bytes.length,
      path: file.path,
      ...(file.lfs
        ? { lfs: { oid: file.sha256, size: file.bytes.length, pointerSize: lfsPointer(file).size } }
        : {}),
      ...(expand
        ? { lastCommit: { id: commit, title: `${rev.branch}`, date: '2026-01-01T00:00:00.000Z' } }
        : {}),
    };
  }

  private async handleHub(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.record('hub', req);
    if (this.preflight(req, res)) return;
    const url = new URL(req.url ?? '/', this.url);
    const parts = url.pathname.split('/').slice(1).map(decodeURIComponent);

    // /api/models/<org>/<name>/<endpoint>/<rev>[/<path>]
    if (parts[0] === 'api' && parts[1] === 'models' && parts.length >= 6) {
      const [, , org, name, endpoint, rev, ...rest] = parts as [
        string,
        string,
        string,
        string,
        string,
        string,
      ];
      const repo = this.access(req, res, `${org}/${name}`);
      if (!repo) return;
      if (endpoint === 'paths-info' && !this.behaviour.pathsInfo) {
        sendJson(res, 404, { error: 'Not Found' });
        return;
      }
      const revision = this.findRevision(res, repo, rev);
      if (!revision) return;
      const commit = this.commitOf(repo.spec.id, revision);
      if (endpoint === 'revision' && req.method === 'GET') {
        sendJson(res, 200, {
          _id: createHash('sha1').update(repo.spec.id).digest('hex').slice(0, 24),
          id: repo.spec.id,
          sha: commit,
          private: repo.spec.token !== undefined,
          gated: repo.spec.gated ? 'manual' : false,
          disabled: false,
          downloads: 0,
          likes: 0,
          lastModified: '2026-01-01T00:00:00.000Z',
          pipeline_tag: 'text-to-image',
          library_name: 'diffusers',
          tags: ['onnx', 'diffusers', 'text-to-image'],
          siblings: [...revision.files.keys()].map((rfilename) => ({ rfilename })),
        });
        return;
      }
      if (endpoint === 'tree' && req.method === 'GET') {
        const folder = rest.join('/');
        const recursive = url.searchParams.get('recursive') === 'true';
        const expand = url.searchParams.get('expand') === 'true';
        const prefix = folder === '' ? '' : `${folder}/`;
        const entries: Record<string, unknown>[] = [];
        const dirs = new Set<string>();
        for (const file of revision.files.values()) {
          if (!file.path.startsWith(prefix)) continue;
          const below = file.path.slice(prefix.length).split('/');
          // the folders on the way, each once (all of them when recursive, else the first)
          for (let i = 1; i < below.length && (recursive || i === 1); i++) {
            const dir = prefix + below.slice(0, i).join('/');
            if (dirs.has(dir)) continue;
            dirs.add(dir);
            entries.push({
              type: 'directory',
              oid: createHash('sha1').update(dir).digest('hex'),
              size: 0,
              path: dir,
            });
          }
          if (recursive || below.length === 1) entries.push(this.entry(file, commit, revision, expand));
        }
        if (folder !== '' && entries.length === 0) {
          sendError(res, 404, 'EntryNotFound', `${folder} does not exist on "${rev}"`);
          return;
        }
        sendJson(res, 200, entries);
        return;
      }
      if (endpoint === 'paths-info' && req.method === 'POST') {
        const body = await readBody(req);
        let paths: string[];
        let expand: boolean;
        if ((req.headers['content-type'] ?? '').includes('application/json')) {
          const json = JSON.parse(body) as { paths?: string[] | string; expand?: boolean };
          paths = Array.isArray(json.paths) ? json.paths : json.paths ? [json.paths] : [];
          expand = json.expand === true;
        } else {
          const form = new URLSearchParams(body);
          paths = form.getAll('paths');
          expand = form.get('expand') === 'true';
        }
        const out = paths.flatMap((p) => {
          const file = revision.files.get(p);
          return file ? [this.entry(file, commit, revision, expand)] : [];
        });
        sendJson(res, 200, out);
        return;
      }
      sendError(res, 404, 'NotFound', `No such endpoint: ${url.pathname}`);
      return;
    }

    // /<org>/<name>/resolve/<rev>/<path>
    if (parts.length >= 5 && parts[2] === 'resolve' && (req.method === 'GET' || req.method === 'HEAD')) {
      const [org, name, , rev, ...rest] = parts as [string, string, string, string, ...string[]];
      const repo = this.access(req, res, `${org}/${name}`);
      if (!repo) return;
      const revision = this.findRevision(res, repo, rev);
      if (!revision) return;
      const path = rest.join('/');
      const file = revision.files.get(path);
      if (!file) {
        sendError(res, 404, 'EntryNotFound', `${path} does not exist on "${rev}"`);
        return;
      }
      const common = {
        ...CORS_HEADERS,
        'X-Repo-Commit': this.commitOf(repo.spec.id, revision),
      };
      if (file.lfs) {
        const fault = this.faults.get(`${repo.spec.id}\0${path}`);
        if (fault?.kind === 'status') {
          sendError(res, fault.status, 'Fault', `Injected status ${fault.status}`);
          return;
        }
        res.writeHead(302, {
          ...common,
          ETag: `"${lfsPointer(file).oid}"`,
          ...(this.behaviour.linkedEtag ? { 'X-Linked-Etag': `"${file.sha256}"` } : {}),
          'X-Linked-Size': String(file.bytes.length),
          Location: `${this.cdnUrl}/lfs/${encodeURIComponent(repo.spec.id)}/${file.sha256}?path=${encodeURIComponent(path)}&expires=4102444800`,
          'Content-Length': '0',
        });
        res.end();
        return;
      }
      this.sendFile(req, res, repo.spec.id, file, { ...common, ETag: `"${file.gitOid}"` });
      return;
    }
    sendError(res, 404, 'NotFound', `No such endpoint: ${url.pathname}`);
  }

  private handleCdn(req: IncomingMessage, res: ServerResponse): void {
    this.record('cdn', req);
    if (this.preflight(req, res)) return;
    const url = new URL(req.url ?? '/', this.cdnUrl);
    const m = /^\/lfs\/([^/]+)\/([0-9a-f]{64})$/.exec(url.pathname);
    const repo = m ? this.repos.get(decodeURIComponent(m[1]!)) : undefined;
    const file = repo?.revisions
      .flatMap((r) => [...r.files.values()])
      .find((f) => f.lfs && f.sha256 === m![2] && f.path === url.searchParams.get('path'));
    if (!repo || !file || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { ...CORS_HEADERS, 'Content-Type': 'text/plain' });
      res.end('NoSuchKey');
      return;
    }
    this.sendFile(req, res, repo.spec.id, file, { ...CORS_HEADERS, ETag: `"${file.sha256}"` });
  }

  /** Sends a file's bytes (a Range as 206), applying any fault. */
  private sendFile(
    req: IncomingMessage,
    res: ServerResponse,
    repo: string,
    file: TestHubFile,
    headers: Record<string, string>,
  ): void {
    const fault = this.faults.get(`${repo}\0${file.path}`);
    if (fault?.kind === 'status') {
      sendError(res, fault.status, 'Fault', `Injected status ${fault.status}`);
      return;
    }
    const size = file.bytes.length;
    const range = parseRange(req.headers.range, size);
    let body = range ? file.bytes.subarray(range[0], range[1] + 1) : file.bytes;
    const out: Record<string, string> = {
      ...headers,
      'Accept-Ranges': 'bytes',
      'Content-Type': 'application/octet-stream',
    };
    if (range) out['Content-Range'] = `bytes ${range[0]}-${range[1]}/${size}`;
    const status = range ? 206 : 200;
    if (req.method === 'HEAD') {
      res.writeHead(status, { ...out, 'Content-Length': String(body.length) });
      res.end();
      return;
    }
    if (fault?.kind === 'corrupt' && !range) {
      body = Uint8Array.from(body);
      body[body.length >> 1]! ^= 0xff;
    }
    if (fault?.kind === 'truncate' && !range) {
      res.writeHead(status, { ...out, 'Content-Length': String(body.length) });
      res.write(body.subarray(0, fault.bytes), () => {
        // drop the connection mid-body: the client sees fewer bytes than announced
        setTimeout(() => res.socket?.destroy(), 10);
      });
      return;
    }
    if (fault?.kind === 'truncate-chunked' && !range) {
      res.writeHead(status, out); // no Content-Length: chunked, ends "cleanly"
      res.end(body.subarray(0, fault.bytes));
      return;
    }
    res.writeHead(status, { ...out, 'Content-Length': String(body.length) });
    res.end(body);
  }
}
