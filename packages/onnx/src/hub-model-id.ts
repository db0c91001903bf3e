/**
 * Hugging Face Hub repository ids as `fromPretrained` sources: `org/name` (diffusers' form) or a hub page URL
 * `https://huggingface.co/org/name` (optionally `/tree/<revision>`). Both backends resolve them: Node
 * downloads into the Python-compatible cache, the browser fetches `resolve/<revision>/` URLs.
 */

/** The public hub, the default endpoint (`HF_ENDPOINT` or the `hubUrl` option replace it). */
export const DEFAULT_HUB_URL = 'https://huggingface.co';

/** A repository on the hub. */
export interface HubModelId {
  /** `org/name`. */
  readonly repo: string;
  /** A revision named in the URL (`/tree/<revision>`), if any; the `revision` option wins over it. */
  readonly revision?: string;
  /**
   * A folder inside the repository named in the URL after the revision (`/tree/main/onnx` → `onnx`), as the
   * hub's own pages name folders; a revision holding `/` (`refs/pr/3`) is written `refs%2Fpr%2F3` there.
   */
  readonly subfolder?: string;
}

// The hub's rules for a name part: letters, digits, `-`, `_`, `.`; at most 96; no `--` or `..`; no
// leading/trailing `-` or `.`.
const PART = /^(?![-.])(?!.*(--|\.\.))[A-Za-z0-9_.-]{1,96}(?<![-.])$/;

function isRepoPart(part: string | undefined): part is string {
  return part !== undefined && PART.test(part);
}

/**
 * Reads `source` as a hub repository: `org/name`, or a URL on `hubUrl` (`<hubUrl>/org/name`,
 * `<hubUrl>/org/name/tree/<revision>[/<folder>]`). Returns `undefined` for anything else (a path such as `./model`,
 * `/models/sd`, `C:\\models`, or a URL elsewhere). The caller decides whether an existing local folder
 * `org/name` wins (it does in both backends, as in diffusers).
 *
 * @param source - What was passed to `fromPretrained`.
 * @param hubUrl - The hub's base URL (default {@link DEFAULT_HUB_URL}).
 */
export function parseHubModelId(source: string, hubUrl: string = DEFAULT_HUB_URL): HubModelId | undefined {
  const base = hubUrl.replace(/\/+$/, '');
  if (source.startsWith(`${base}/`)) {
    const [org, name, tree, ...revision] = source
      .slice(base.length + 1)
      .replace(/\/+$/, '')
      .split('/');
    if (!isRepoPart(org) || !isRepoPart(name)) return undefined;
    if (tree === undefined) return { repo: `${org}/${name}` };
    const [named, ...folder] = revision.filter((segment) => segment !== '');
    if (tree !== 'tree' || named === undefined) return undefined;
    const id = { repo: `${org}/${name}`, revision: decodeURIComponent(named) };
    return folder.length === 0 ? id : { ...id, subfolder: folder.map(decodeURIComponent).join('/') };
  }
  const parts = source.split('/');
  if (parts.length !== 2 || !isRepoPart(parts[0]) || !isRepoPart(parts[1])) return undefined;
  if (parts[0] === '.' || parts[0] === '..') return undefined;
  return { repo: source };
}
