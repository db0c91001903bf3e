import { InvalidArgumentError } from '@latentkit/core';

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
