import type { HubRepository } from './hub-source.js';

/** What {@link lookupHubSha256} learnt: the digest, or why there is none (for the error message). */
export type HubDigest = { readonly sha256: string } | { readonly sha256?: undefined; readonly why: string };

const SHA256 = /^[0-9a-f]{64}$/;

/**
 * Asks the hub for the SHA-256 of one file of a repository: `POST <hubUrl>/api/models/<repo>/paths-info/<revision>`
 * with `{"paths": [path]}` (the endpoint `huggingface_hub`'s `get_paths_info` and `@huggingface/hub`'s
 * `pathsInfo` call); the answer's `lfs.oid` is the file's SHA-256. Only files stored with Git LFS have
 * one — exactly the files the hub serves through a redirect to its CDN.
 *
 * The web backend uses it where the hub's redirect is hidden from it (in a browser, fetch does not show a
 * redirect's `X-Linked-ETag`), so the bytes from the CDN can still be checked against the hub's word.
 *
 * @param fetchFn - The fetch function.
 * @param hub - The repository and revision.
 * @param file - The file, relative to the model folder (the repository's `subfolder` is prepended).
 * @param headers - Request headers for the hub's origin (the token, if any).
 * @param signal - Cancels the request.
 */
export async function lookupHubSha256(
  fetchFn: typeof fetch,
  hub: HubRepository,
  file: string,
  headers: Headers,
  signal?: AbortSignal | null,
): Promise<HubDigest> {
  const path = `${hub.subfolder}${file}`;
  const url = `${hub.hubUrl}/api/models/${hub.repo}/paths-info/${encodeURIComponent(hub.revision)}`;
  const sent = new Headers(headers);
  sent.set('content-type', 'application/json');
  sent.set('accept', 'application/json');
  let response: Response;
  try {
    response = await fetchFn(url, {
      method: 'POST',
      headers: sent,
      body: JSON.stringify({ paths: [path] }),
      ...(signal ? { signal } : {}),
    });
  } catch (error) {
    return { why: `could not be reached (${(error as Error)?.message ?? String(error)})` };
  }
  if (!response.ok) {
    await response.body?.cancel().catch(() => undefined);
    return { why: `answered HTTP ${response.status}` };
  }
  let entries: unknown;
  try {
    entries = await response.json();
  } catch {
    return { why: 'answered with something other than JSON' };
  }
  const entry = Array.isArray(entries)
    ? (entries as { path?: unknown; lfs?: { oid?: unknown } }[]).find((e) => e?.path === path)
    : undefined;
  const oid = typeof entry?.lfs?.oid === 'string' ? entry.lfs.oid.toLowerCase() : undefined;
  if (oid === undefined || !SHA256.test(oid)) {
    return { why: entry ? 'names no LFS SHA-256 for it' : 'does not list it' };
  }
  return { sha256: oid };
}
