import { InvalidArgumentError } from '@latentkit/core';
import { DEFAULT_HUB_URL, parseHubModelId } from '@latentkit/onnx';
import { resolveModelUrl } from './model-url.js';

/** A Hugging Face Hub repository a model is read from (see {@link resolveModelSource}). */
export interface HubRepository {
  /** The hub's base URL, without a trailing `/` (default `https://huggingface.co`). */
  readonly hubUrl: string;
  /** `org/name`. */
  readonly repo: string;
  /** The branch, tag or commit the files are read at (default `main`). */
  readonly revision: string;
  /** The folder of the model inside the repository: `''`, or e.g. `'onnx/'` for `…/tree/main/onnx`. */
  readonly subfolder: string;
}

/** Where a model source's files are fetched from. */
export interface ResolvedModelSource {
  /** The base URL every file is fetched under (ends in `/`); for a hub id `<hubUrl>/org/name/resolve/<revision>/`. */
  readonly base: string;
  /** The hub repository, when the source is one (an id, a hub page URL or a `resolve/` URL on the hub). */
  readonly hub?: HubRepository;
  /** True when the source was a bare repository id (`org/name`), not a URL. */
  readonly fromId: boolean;
}

/** The hub options {@link resolveModelSource} reads. */
export interface HubSourceOptions {
  /** The branch, tag or commit (default `main`, or the one named in a `/tree/<revision>` URL). */
  revision?: string;
  /** The hub's base URL (default `https://huggingface.co`): a mirror, or a local test hub. */
  hubUrl?: string;
}

/** Checks the `hubUrl` option: an http(s) URL without credentials, query or hash; returned without trailing `/`. */
export function checkHubUrl(value: unknown): string {
  const refuse = (expected: string): never => {
    throw new InvalidArgumentError({
      name: 'hubUrl',
      value,
      expected,
      fix: `leave it out for ${DEFAULT_HUB_URL}, or pass a mirror's base URL such as "https://hf-mirror.example"`,
    });
  };
  if (typeof value !== 'string' || value.trim() !== value || value === '') refuse('an http(s) URL string');
  let url: URL;
  try {
    url = new URL(value as string);
  } catch {
    return refuse('an absolute http(s) URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') refuse('an http(s) URL');
  if (url.username !== '' || url.password !== '')
    refuse('a URL without a user name or password (pass `token`)');
  if (url.search !== '' || url.hash !== '') refuse('a URL without a query or fragment');
  return url.href.replace(/\/+$/, '');
}

/**
 * Checks the `revision` option: a branch, tag or commit name as the hub writes them (`main`, `v1.0`,
 * `refs/pr/3`, a 40-digit commit). It becomes one percent-encoded path segment of the `resolve/` URL,
 * so a `/` inside it cannot climb out of the repository.
 */
export function checkRevision(value: unknown): string {
  const bad =
    typeof value !== 'string' ||
    value === '' ||
    value.length > 256 ||
    value.trim() !== value ||
    value === '.' ||
    value === '..' ||
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
    /[\u0000-\u001f\u007f-\u009f]/.test(value);
  if (bad) {
    throw new InvalidArgumentError({
      name: 'revision',
      value,
      expected:
        'a branch, tag or commit name (1–256 characters, no control characters or surrounding spaces)',
      fix: 'e.g. "main", "v1.0", "refs/pr/3" or a 40-hex-digit commit; leave it out for "main"',
    });
  }
  return value as string;
}

/**
 * Checks the `token` option (a Hugging Face access token): a non-empty string of printable characters
 * without spaces. The error never repeats the token: it names only its length.
 */
export function checkToken(value: unknown): string {
  if (typeof value !== 'string' || value === '' || !/^[\x21-\x7e]+$/.test(value)) {
    throw new InvalidArgumentError({
      name: 'token',
      value: typeof value === 'string' ? `(a string of ${value.length} characters, not shown)` : typeof value,
      expected: 'an access token: printable ASCII without spaces, e.g. "hf_…" (without "Bearer ")',
      fix: 'copy the token from https://huggingface.co/settings/tokens; leave `token` out for public repositories',
    });
  }
  return value;
}

// A source written like an id (no scheme, not starting with `.` or `/`, exactly two non-empty parts):
// a relative folder must be written `./org/name` or `org/name/` to be read as one.
function looksLikeId(source: string): boolean {
  if (source.includes(':') || source.startsWith('.') || source.startsWith('/')) return false;
  const parts = source.split('/');
  return parts.length === 2 && parts.every((p) => p !== '');
}

// `<hubUrl>/org/name/resolve/<revision>/<subfolder…>/` → the repository, or undefined.
function hubOf(base: string, hubUrl: string): HubRepository | undefined {
  const official = new URL(base).hostname === 'huggingface.co';
  const root = official ? DEFAULT_HUB_URL : hubUrl;
  if (!base.startsWith(`${root}/`)) return undefined;
  const [org, name, kind, revision, ...sub] = base.slice(root.length + 1).split('/');
  if (kind !== 'resolve' || revision === undefined || revision === '') return undefined;
  if (parseHubModelId(`${org}/${name}`) === undefined) return undefined;
  const folder = sub.filter((s) => s !== '').join('/');
  return {
    hubUrl: root,
    repo: `${org}/${name}`,
    revision: decodeURIComponent(revision),
    subfolder: folder === '' ? '' : `${decodeURIComponent(folder)}/`,
  };
}

/**
 * Turns what was passed to `fromPretrained` into the base URL the web backend fetches under:
 *
 * - a repository id `org/name` (or a hub page URL `<hubUrl>/org/name[/tree/<revision>]`) becomes
 *   `<hubUrl>/org/name/resolve/<revision>/` — `revision` default `main`, percent-encoded as one path
 *   segment, so every revision has URLs (and Cache Storage keys) of its own;
 * - anything else is a model URL, as {@link resolveModelUrl} reads it (a plain folder URL, relative to the
 *   page, or a `huggingface.co` URL).
 *
 * In the browser a relative folder written like an id (`models/sd`) is taken as an id: write `./models/sd`
 * or `/models/sd/` for a folder.
 *
 * @throws {@link @latentkit/core!InvalidArgumentError} for a bad `revision` or `hubUrl`, or a source
 *   written like an id that breaks the hub's naming rules.
 */
export function resolveModelSource(source: string, options: HubSourceOptions = {}): ResolvedModelSource {
  const hubUrl = options.hubUrl === undefined ? DEFAULT_HUB_URL : checkHubUrl(options.hubUrl);
  const revision = options.revision === undefined ? undefined : checkRevision(options.revision);
  const id = typeof source === 'string' ? parseHubModelId(source, hubUrl) : undefined;
  if (id) {
    const named = id.revision;
    const subfolder =
      id.subfolder === undefined ? '' : `${id.subfolder.split('/').map(encodeURIComponent).join('/')}/`;
    const rev = revision ?? (named === undefined ? 'main' : checkRevision(named));
    const base = `${hubUrl}/${id.repo}/resolve/${encodeURIComponent(rev)}/${subfolder}`;
    return {
      base,
      hub: {
        hubUrl,
        repo: id.repo,
        revision: rev,
        subfolder: id.subfolder === undefined ? '' : `${id.subfolder}/`,
      },
      fromId: !source.includes('://'),
    };
  }
  if (typeof source === 'string' && looksLikeId(source)) {
    throw new InvalidArgumentError({
      name: 'model',
      value: source,
      expected:
        'a Hugging Face repository id "org/name" (letters, digits, "-", "_", "." — at most 96 each, no "--" or "..", not starting or ending with "-" or ".")',
      fix: 'check the id on the hub; for a folder on your server write "./org/name" or "/org/name/"',
    });
  }
  // One path segment, as for ids (a `/` in `refs/pr/3` must not split it).
  const base = resolveModelUrl(source, revision === undefined ? undefined : encodeURIComponent(revision));
  const hub = hubOf(base, hubUrl);
  return hub ? { base, hub, fromId: false } : { base, fromId: false };
}
