import { DownloadFailedError } from '@latentkit/core';
import { type HubDigest, lookupHubSha256 } from './hub-file-digest.js';
import type { HubRepository } from './hub-source.js';
import { linkedSha256 } from './verified-download.js';

/** What {@link fetchHubFile} got: the response to read, and the SHA-256 its body must have when it came off the base URL. */
export interface HubFetched {
  /** The response (after any redirect this module followed). */
  readonly response: Response;
  /**
   * The SHA-256 the body must match: set whenever the bytes come from outside the base URL (the hub's
   * CDN), so that they are never accepted unverified.
   */
  readonly sha256?: string;
  /** True when the hub answered with a redirect (for `HEAD`: the file exists, its bytes live elsewhere). */
  readonly redirected: boolean;
  /** The commit the hub served the file from (its `X-Repo-Commit` header), when it was visible. */
  readonly commit?: string;
}

/** One request of {@link fetchHubFile}. */
export interface HubRequest {
  readonly fetch: typeof fetch;
  /** The model's base URL (`<hubUrl>/org/name/resolve/<revision>/`). */
  readonly base: string;
  /** The repository (for the digest lookup). */
  readonly hub: HubRepository;
  /** The file, relative to the base. */
  readonly file: string;
  /** Its URL under the base. */
  readonly url: string;
  readonly method: 'GET' | 'HEAD';
  /** Request options for the hub's origin: they carry the token, and are never sent anywhere else. */
  readonly init: RequestInit;
  /** The headers of `init` (with the token), for the digest lookup. */
  readonly headers: Headers;
  /** The SHA-256 the caller gave for this file (the `sha256` option), if any. */
  readonly sha256: string | undefined;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const MAX_HOPS = 5;

function underBase(base: string, url: URL): boolean {
  const b = new URL(base);
  return url.origin === b.origin && url.pathname.startsWith(b.pathname);
}

async function digestFor(request: HubRequest, redirect: Response | undefined): Promise<HubDigest> {
  if (request.sha256 !== undefined) return { sha256: request.sha256 };
  const linked = redirect ? linkedSha256(redirect) : undefined;
  if (linked !== undefined) return { sha256: linked };
  return lookupHubSha256(request.fetch, request.hub, request.file, request.headers, request.init.signal);
}

function unverifiable(request: HubRequest, target: string, why: string): DownloadFailedError {
  return new DownloadFailedError(
    request.url,
    `"${request.file}" from ${request.url}: the hub redirected it to ${target}, outside the model's base URL ${request.base}, and its SHA-256 is not known — the redirect carried no X-Linked-ETag and the hub's paths-info API ${why} — so the bytes cannot be verified and are not fetched. Fix: pass its digest as the sha256 option ({ "${request.file}": "<64 hex digits>" }, shown on the file's page on the hub), or check that the hub URL and revision are right.`,
  );
}

/**
 * Fetches one file of a hub repository under the rule that every byte the web backend accepts comes from
 * under the model's base URL (`<hubUrl>/org/name/resolve/<revision>/`) or is verified against the hub:
 *
 * - the request to the base URL carries the token; redirects are not followed blindly (`redirect: 'manual'`);
 * - a redirect to a URL under the base URL is followed, with the token (at most 5 hops);
 * - a redirect elsewhere (the hub's CDN for Git LFS files) is followed only when the file's SHA-256 is known
 *   beforehand — from the `sha256` option, the redirect's `X-Linked-ETag`, or the hub's paths-info API — and
 *   is fetched without the token and without credentials; the caller verifies the body against that digest
 *   before caching it. With no digest, it is refused with a `DownloadFailedError` before any byte is read;
 * - in a browser, fetch hides a redirect's target and headers (`opaqueredirect`): the digest is then taken
 *   from the option or the paths-info API, and the browser follows the redirect itself, dropping the
 *   `Authorization` header on the way to another origin (the Fetch standard's rule).
 *
 * A `HEAD` answered with a redirect means the file exists; its target is not asked.
 *
 * @throws {@link @latentkit/core!DownloadFailedError} for a redirect that cannot be verified, too many
 *   redirects, a redirect without `Location`, or a network failure.
 */
export async function fetchHubFile(request: HubRequest): Promise<HubFetched> {
  let url = request.url;
  let commit: string | undefined;
  for (let hop = 0; hop <= MAX_HOPS; hop++) {
    const response = await send(request, url, {
      ...request.init,
      method: request.method,
      redirect: 'manual',
    });
    commit ??= response.headers.get('x-repo-commit')?.trim() || undefined;
    const seen = commit === undefined ? {} : { commit };
    if (response.type === 'opaqueredirect') {
      if (request.method === 'HEAD') return { response, redirected: true };
      const digest = await digestFor(request, undefined);
      if (digest.sha256 === undefined) {
        throw unverifiable(request, 'a URL the browser does not show', digest.why);
      }
      const followed = await send(request, url, { ...request.init, method: 'GET', redirect: 'follow' });
      return { response: followed, sha256: digest.sha256, redirected: true };
    }
    if (!REDIRECTS.has(response.status)) return { response, redirected: hop > 0, ...seen };
    await response.body?.cancel().catch(() => undefined);
    const location = response.headers.get('location');
    let target: URL;
    try {
      target = new URL(location ?? '', url);
    } catch {
      target = new URL(url);
    }
    if (location === null || location.trim() === '') {
      throw new DownloadFailedError(
        url,
        `"${request.file}" from ${url}: the hub answered HTTP ${response.status} without a Location header. Fix: check the hub URL; try again later.`,
      );
    }
    if (underBase(request.base, target)) {
      url = target.href;
      continue;
    }
    if (request.method === 'HEAD') return { response, redirected: true, ...seen };
    const digest = await digestFor(request, response);
    if (digest.sha256 === undefined) throw unverifiable(request, target.origin, digest.why);
    // Off the base: no token, no cookies; the body is checked against the digest by the caller.
    const followed = await send(request, target.href, {
      method: 'GET',
      redirect: 'follow',
      credentials: 'omit',
      ...(request.init.signal ? { signal: request.init.signal } : {}),
    });
    return { response: followed, sha256: digest.sha256, redirected: true, ...seen };
  }
  throw new DownloadFailedError(
    request.url,
    `"${request.file}" from ${request.url}: more than ${MAX_HOPS} redirects under the model's base URL. Fix: check the hub URL and the revision.`,
  );
}

async function send(request: HubRequest, url: string, init: RequestInit): Promise<Response> {
  try {
    return await request.fetch(url, init);
  } catch (error) {
    throw new DownloadFailedError(
      url,
      `Could not fetch ${url} (${(error as Error)?.message ?? String(error)}). Fix: check the hub URL, that it allows this origin (CORS), and the network; models load offline only once cached.`,
      { cause: error },
    );
  }
}
