import { InvalidArgumentError, ModelInvalidError } from '@latentkit/core';
import { checkModelPath } from '@latentkit/onnx';

const HUB_HOSTS = new Set(['huggingface.co', 'hf.co']);

/** The page's or worker's own URL, to resolve relative model URLs against (undefined in Node). */
function documentBase(): string | undefined {
  const location = (globalThis as { location?: { href?: string } }).location;
  return typeof location?.href === 'string' ? location.href : undefined;
}

/**
 * Normalises a model URL to the base URL its files are fetched under, ending in `/`.
 *
 * - A plain folder URL (`https://example.com/models/sd/`, or relative: `/models/sd`) is used as is.
 * - A Hugging Face repository (`https://huggingface.co/org/repo`, `…/tree/<rev>/<subfolder>`) becomes its
 *   download URL `https://huggingface.co/org/repo/resolve/<rev>/<subfolder>/`; `…/resolve/<rev>/…` URLs
 *   are kept.
 *
 * @param url - The model URL, absolute or relative to the page.
 * @param revision - The branch, tag or commit for Hugging Face URLs that name none (default `main`).
 * @throws {@link @latentkit/core!InvalidArgumentError} for a URL that cannot be parsed or is not http(s).
 */
export function resolveModelUrl(url: string, revision = 'main'): string {
  let parsed: URL;
  try {
    parsed = new URL(url, documentBase());
  } catch {
    throw new InvalidArgumentError({
      name: 'model URL',
      value: url,
      expected: 'an absolute http(s) URL, or a path relative to the page',
      fix: 'e.g. "https://huggingface.co/org/repo" or "/models/shapes/"',
    });
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new InvalidArgumentError({
      name: 'model URL',
      value: url,
      expected: 'an http(s) URL',
      fix: 'serve the model folder over HTTP and pass its URL',
    });
  }
  if (parsed.username !== '' || parsed.password !== '') {
    throw new InvalidArgumentError({
      name: 'model URL',
      value: `${parsed.protocol}//…@${parsed.host}${parsed.pathname}`,
      expected: 'a URL without a user name or password (fetch refuses them)',
      fix: 'pass credentials as requestInit: { headers: { Authorization: "Bearer <token>" } }',
    });
  }
  parsed.search = '';
  parsed.hash = '';
  if (HUB_HOSTS.has(parsed.hostname)) {
    const parts = parsed.pathname.split('/').filter((s) => s !== '');
    // org/repo, org/repo/tree/<rev>/sub…, org/repo/blob/<rev>/…, org/repo/resolve/<rev>/sub…
    if (parts.length >= 2) {
      const [org, repo, kind, rev, ...rest] = parts;
      const isRef = kind === 'resolve' || kind === 'tree' || kind === 'blob';
      const ref = isRef && rev !== undefined ? rev : revision;
      const sub = isRef ? rest : [];
      parsed.hostname = 'huggingface.co';
      parsed.pathname = `/${[org, repo, 'resolve', ref, ...sub].join('/')}/`;
      return parsed.href;
    }
  }
  if (!parsed.pathname.endsWith('/')) parsed.pathname += '/';
  return parsed.href;
}

// Characters no model file path may hold, raw or percent-decoded: C0 controls, DEL, C1 controls (the URL
// parser strips or rejects some of them, which is how `'\u0001http://evil.example/x'` escaped to another
// origin), `\` (the URL parser reads it as `/`), and `?`/`#` (they would cut the path into a query or hash).
function hasForbidden(text: string): boolean {
  for (const char of text) {
    const code = char.charCodeAt(0);
    if (code <= 0x1f || (code >= 0x7f && code <= 0x9f) || char === '\\' || char === '?' || char === '#') {
      return true;
    }
  }
  return false;
}
// How many rounds of percent-decoding are checked (`%252e%252e` → `%2e%2e` → `..`).
const DECODE_ROUNDS = 3;

function refusePath(path: string, base: string, why: string): never {
  throw new ModelInvalidError(
    `The model file path ${JSON.stringify(path)} ${why}, so it is not fetched. Every file of a model must come from under ${base}. Fix: use a path inside the model folder, like "unet/model.onnx" (check the modelFiles option and the external-data locations inside the model's .onnx files).`,
  );
}

/** Refuses a path whose segments, as written or after percent-decoding, are `.`/`..` or hold forbidden characters. */
function checkSegments(path: string, base: string): void {
  let text = path;
  for (let round = 0; round <= DECODE_ROUNDS; round++) {
    if (hasForbidden(text)) {
      refusePath(
        path,
        base,
        round === 0
          ? 'holds a control character, "\\", "?" or "#"'
          : 'holds a control character, "\\", "?" or "#" once percent-decoded',
      );
    }
    for (const segment of text.split('/')) {
      if (segment === '..' || (segment === '.' && round > 0)) {
        refusePath(
          path,
          base,
          round === 0
            ? 'holds a ".." segment'
            : 'holds a "." or ".." segment once percent-decoded (e.g. %2e%2e)',
        );
      }
      if (segment !== segment.trim())
        refusePath(path, base, 'has a segment that starts or ends with white space');
    }
    if (!text.includes('%')) return;
    let decoded: string;
    try {
      decoded = decodeURIComponent(text);
    } catch {
      refusePath(path, base, 'holds a "%" that is not valid percent-encoding');
    }
    if (decoded === text) return;
    text = decoded;
  }
  refusePath(path, base, `is percent-encoded more than ${DECODE_ROUNDS} times over`);
}

/**
 * The absolute URL of a file of the model at `baseUrl` — the one place the web backend turns a path into
 * a URL, so every file it fetches (the files of the layout, `modelFiles` overrides, files at the folder
 * root, external-data locations read from inside `.onnx` files) passes the same checks:
 *
 * - the path is a relative path inside the folder (no `..`, no absolute path, no scheme: `checkModelPath`);
 * - no segment is `.` or `..`, and no control character, `\`, `?` or `#` appears — neither as written nor
 *   after percent-decoding (`%2e%2e`, `%2E%2E`, `..%2f`, `%5c`, double encoding `%252e`);
 * - no segment starts or ends with white space (`' https://evil.example/x'`);
 * - the resolved URL has the base URL's origin and its path lies under the base URL's path.
 *
 * Since every request goes to a URL under the base, credentials in `requestInit` reach only the base
 * origin (redirects to other origins drop `Authorization`, as fetch does).
 *
 * @param baseUrl - The model's base URL, as {@link resolveModelUrl} returns it (ends in `/`).
 * @param path - The file's path in the model folder, e.g. `unet/model.onnx`.
 * @throws {@link @latentkit/core!ModelInvalidError} (`MODEL_INVALID`) for a path that would leave the base URL.
 */
export function modelFileUrl(baseUrl: string, path: string): string {
  if (typeof path === 'string') checkSegments(path, baseUrl);
  const file = checkModelPath(path, 'model file');
  checkSegments(file, baseUrl);
  const base = new URL(baseUrl);
  const url = new URL(file, base);
  if (
    url.origin !== base.origin ||
    !url.pathname.startsWith(base.pathname) ||
    url.search !== '' ||
    url.hash !== '' ||
    url.username !== base.username ||
    url.password !== base.password
  ) {
    refusePath(path, baseUrl, `resolves to ${url.href}, outside the model's base URL`);
  }
  return url.href;
}

/**
 * Checks that a URL about to be fetched lies under the model's base URL (same origin, path under the base
 * path). {@link modelFileUrl} only makes such URLs; this is the last check before a request carries
 * the caller's credentials.
 *
 * @throws {@link @latentkit/core!ModelInvalidError} for a URL outside the base.
 */
export function checkUnderBase(baseUrl: string, url: string): void {
  const base = new URL(baseUrl);
  const target = new URL(url);
  if (target.origin !== base.origin || !target.pathname.startsWith(base.pathname)) {
    refusePath(url, baseUrl, "is outside the model's base URL");
  }
}
