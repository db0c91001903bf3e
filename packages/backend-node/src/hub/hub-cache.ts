import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, readFile, rename, rm, stat, symlink } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { InvalidArgumentError } from '@latentkit/core';
import { writeFileAtomic } from '../atomic-write.js';

/**
 * The cache layout of Python's `huggingface_hub`, so that a model downloaded by either is found by the
 * other and nothing is fetched twice:
 *
 * ```
 * <cacheDir>/models--<org>--<name>/
 *   blobs/<etag>                      the files' bytes, named by sha256 (LFS files) or git blob oid (others)
 *   snapshots/<commit>/<path>         relative symbolic links to ../../blobs/<etag> (one folder per commit)
 *   refs/<revision>                   the commit a branch or tag pointed to when it was last resolved
 * ```
 */
export interface HubRepoCache {
  /** `<cacheDir>/models--<org>--<name>`. */
  readonly folder: string;
  /** The folder of one commit's files. */
  snapshot(commit: string): string;
  /** The path of a blob. */
  blob(etag: string): string;
  /** The ref file of a branch or tag. */
  ref(revision: string): string;
}

/** A 40-hex commit id (a revision that needs no ref). */
export const COMMIT_HASH = /^[0-9a-f]{40}$/;

/**
 * Checks a revision name before it becomes a path under `refs/`: git's rules, loosely (no `..`, no leading
 * `/`, no control characters or `\`).
 *
 * @throws {@link @latentkit/core!InvalidArgumentError} naming the revision.
 */
export function checkRevision(revision: string): string {
  // git refname rules, loosely: no "..", no leading "/" or ".", no "//", no spaces or control characters,
  // no "\", ":", "?", "*", "[", "~", "^"
  const bad = /(^[/.])|\.\.|\/\/|[\s\\:?*[~^]|\/$|\.lock$|@\{/;
  const control = [...revision].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f);
  if (revision.length > 255 || control || bad.test(revision)) {
    throw new InvalidArgumentError({
      name: 'revision',
      value: revision,
      expected: 'a branch, tag or 40-hex commit of the repository, such as "main"',
      fix: 'pass the name shown on the repository\'s "Files and versions" page, or leave revision out for "main"',
    });
  }
  return revision;
}

/** The cache of one model repository (`org/name`) under `cacheDir`. */
export function hubRepoCache(cacheDir: string, repo: string): HubRepoCache {
  const folder = join(cacheDir, `models--${repo.split('/').join('--')}`);
  return {
    folder,
    snapshot: (commit) => join(folder, 'snapshots', commit),
    blob: (etag) => join(folder, 'blobs', etag),
    ref: (revision) => join(folder, 'refs', ...checkRevision(revision).split('/')),
  };
}

/** The commit a revision names: itself for a commit id, else what `refs/<revision>` holds (or undefined). */
export async function readCommit(cache: HubRepoCache, revision: string): Promise<string | undefined> {
  if (COMMIT_HASH.test(revision)) return revision;
  const text = await readFile(cache.ref(revision), 'utf8').catch(() => undefined);
  const commit = text?.trim();
  return commit !== undefined && COMMIT_HASH.test(commit) ? commit : undefined;
}

/** Records that `revision` points to `commit` (atomically; nothing for a commit id). */
export async function writeRef(cache: HubRepoCache, revision: string, commit: string): Promise<void> {
  if (revision === commit) return;
  const path = cache.ref(revision);
  await mkdir(dirname(path), { recursive: true });
  await writeFileAtomic(path, new TextEncoder().encode(commit));
}

/** Whether a snapshot file is there and readable through its link (a dangling link is not). */
export async function snapshotHas(cache: HubRepoCache, commit: string, path: string): Promise<boolean> {
  return stat(join(cache.snapshot(commit), ...path.split('/'))).then(
    (s) => s.isFile(),
    () => false,
  );
}

/** Whether a blob is complete in the cache (blobs are only ever renamed into place once verified). */
export async function blobExists(cache: HubRepoCache, etag: string): Promise<boolean> {
  return stat(cache.blob(etag)).then(
    (s) => s.isFile(),
    () => false,
  );
}

/**
 * Makes `snapshots/<commit>/<path>` point to `blobs/<etag>` with a relative symbolic link, as Python does
 * (`../../blobs/<etag>`, one more `../` per folder of the path). Where links cannot be made (Windows
 * without developer mode) the blob is copied instead, as Python falls back too.
 */
export async function linkSnapshotFile(
  cache: HubRepoCache,
  commit: string,
  path: string,
  etag: string,
): Promise<string> {
  const target = join(cache.snapshot(commit), ...path.split('/'));
  const blob = cache.blob(etag);
  await mkdir(dirname(target), { recursive: true });
  // Made beside the target and renamed over it: atomic, so a concurrent load of the same model never sees
  // the file missing, and a stale or dangling link from an interrupted run is replaced.
  const temp = `${target}.${process.pid}-${randomBytes(4).toString('hex')}.link`;
  try {
    try {
      await symlink(relative(dirname(target), blob), temp);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EINVAL') throw error;
      await copyFile(blob, temp);
    }
    await rename(temp, target);
  } catch (error) {
    await rm(temp, { force: true }).catch(() => undefined);
    throw error;
  }
  return target;
}
