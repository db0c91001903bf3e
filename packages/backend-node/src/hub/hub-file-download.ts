import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { downloadFile } from '@huggingface/hub';
import { DownloadFailedError, ModelNotFoundError } from '@latentkit/core';
import type { HubRepoCache } from './hub-cache.js';
import { hubError } from './hub-errors.js';
import type { HubSettings } from './hub-settings.js';

/** A file of a hub revision as the tree listing describes it. */
export interface HubFileEntry {
  /** The path in the repo. */
  readonly path: string;
  /** The size in bytes. */
  readonly size: number;
  /** The git blob oid (sha1 of `blob <size>\0<bytes>`): a regular file's etag. */
  readonly oid: string | undefined;
  /** The sha256 of an LFS file (its etag, the hub's `X-Linked-Etag`). */
  readonly sha256: string | undefined;
}

/** The name of a file's blob in the cache, as Python names it: the sha256 for LFS files, else the git oid. */
export function etagOf(entry: HubFileEntry): string | undefined {
  return entry.sha256 ?? entry.oid;
}

/** A partial file older than this was left by a process that died (a live download writes every second). */
const STALE_PARTIAL_MS = 60 * 60 * 1000;

/**
 * Removes the `<etag>.*.incomplete` files of a blob that no download has written to for an hour: what a
 * killed process left behind. Python's own `<etag>.incomplete` (which it resumes) is left alone.
 */
async function removeStalePartials(blobs: string, etag: string): Promise<void> {
  const names = await readdir(blobs).catch(() => [] as string[]);
  const now = Date.now();
  for (const name of names) {
    if (!name.startsWith(`${etag}.`) || !name.endsWith('.incomplete') || name === `${etag}.incomplete`)
      continue;
    const path = join(blobs, name);
    const modified = await stat(path).then(
      (s) => s.mtimeMs,
      () => now,
    );
    if (now - modified > STALE_PARTIAL_MS) await rm(path, { force: true }).catch(() => undefined);
  }
}

/** Where one download goes and whom it reports to. */
export interface FileDownloadTarget {
  readonly repo: string;
  /** The revision the user asked for (for messages). */
  readonly revision: string;
  /** The commit the file is fetched at. */
  readonly commit: string;
  readonly cache: HubRepoCache;
  readonly settings: HubSettings;
  /** Called with the bytes received so far, as they arrive. */
  readonly onBytes: (received: number) => void;
}

/**
 * Downloads one file with the official client into `blobs/<etag>`: the bytes stream into
 * `blobs/<etag>.<random>.incomplete` while their size and hash (sha256 for LFS files, the git blob sha1
 * for others) are checked against the tree listing; only a complete, verified file is renamed into place.
 * Anything else removes the partial file and throws.
 *
 * @throws {@link @latentkit/core!DownloadFailedError} for a body cut short, too long, or with another hash;
 *   {@link @latentkit/core!ModelNotFoundError} when the hub has no such file; the errors of
 *   {@link hubError} for the hub's statuses.
 */
export async function downloadBlob(entry: HubFileEntry, target: FileDownloadTarget): Promise<void> {
  const { repo, revision, commit, cache, settings } = target;
  const etag = etagOf(entry);
  if (etag === undefined) {
    throw new DownloadFailedError(
      `${settings.hubUrl}/${repo}`,
      `The hub's listing of ${repo} (revision "${revision}") gives no hash for "${entry.path}", so it cannot be verified or cached. Fix: use the Hugging Face Hub or a mirror that serves its tree API in full.`,
    );
  }
  const url = `${settings.hubUrl}/${repo}/resolve/${commit}/${entry.path}`;
  const blobPath = cache.blob(etag);
  await mkdir(dirname(blobPath), { recursive: true });
  await removeStalePartials(dirname(blobPath), etag);
  const partial = `${blobPath}.${process.pid}-${randomBytes(4).toString('hex')}.incomplete`;
  const context = { repo, revision, path: entry.path };
  const hash =
    entry.sha256 !== undefined ? createHash('sha256') : createHash('sha1').update(`blob ${entry.size}\0`);
  let received = 0;
  try {
    let blob: Blob | null;
    try {
      blob = await downloadFile({
        repo,
        path: entry.path,
        revision: commit,
        hubUrl: settings.hubUrl,
        ...(settings.token !== undefined ? { accessToken: settings.token } : {}),
        // plain HTTP (as the browser and Python without hf_xet): one tested path, verified below
        xet: false,
      });
    } catch (error) {
      throw hubError(error, context, settings);
    }
    if (blob === null) {
      throw new ModelNotFoundError(
        `"${entry.path}" of ${repo} (revision "${revision}") is in the hub's listing but its download answers 404. Fix: retry; if it persists, the repository is inconsistent on ${settings.hubUrl}.`,
      );
    }
    const out = createWriteStream(partial, { flags: 'wx' });
    const closed = new Promise<void>((resolve, reject) => {
      out.once('close', resolve);
      out.once('error', reject);
    });
    try {
      const reader = blob.stream().getReader();
      for (;;) {
        let chunk: ReadableStreamReadResult<Uint8Array>;
        try {
          chunk = await reader.read();
        } catch (error) {
          const why = error instanceof Error ? error.message : String(error);
          throw new DownloadFailedError(
            url,
            `The download of "${entry.path}" from ${repo} (revision "${revision}") broke off after ${received} of ${entry.size} bytes (${why}); nothing was cached. Fix: retry (files already downloaded are kept).`,
            { cause: error },
          );
        }
        if (chunk.done) break;
        received += chunk.value.length;
        if (received > entry.size) {
          throw new DownloadFailedError(
            url,
            `The download of "${entry.path}" from ${repo} (revision "${revision}") sent more than the ${entry.size} bytes the hub lists; nothing was cached. Fix: retry; if it persists, the mirror serves other files than its listing says.`,
          );
        }
        hash.update(chunk.value);
        if (!out.write(chunk.value)) await new Promise<void>((r) => out.once('drain', () => r()));
        target.onBytes(received);
      }
    } finally {
      out.end();
      await closed;
    }
    if (received !== entry.size) {
      throw new DownloadFailedError(
        url,
        `The download of "${entry.path}" from ${repo} (revision "${revision}") ended after ${received} of ${entry.size} bytes (truncated); nothing was cached. Fix: retry (files already downloaded are kept).`,
      );
    }
    const digest = hash.digest('hex');
    if (digest !== etag) {
      const kind = entry.sha256 !== undefined ? 'sha256' : 'git blob sha1';
      throw new DownloadFailedError(
        url,
        `The download of "${entry.path}" from ${repo} (revision "${revision}") has ${kind} ${digest}, but the hub lists ${etag}: the bytes are corrupt; nothing was cached. Fix: retry; if it persists, check the mirror or proxy between you and ${settings.hubUrl}.`,
      );
    }
    await rename(partial, blobPath);
  } catch (error) {
    await rm(partial, { force: true }).catch(() => undefined);
    throw error;
  }
}
