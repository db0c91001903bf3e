import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { dirname, extname, join, resolve } from 'node:path';
import { InvalidArgumentError } from '@latentkit/core';

/**
 * Where `generate` writes its images. Without `--out`: `latentkit-<seed>.png` in the working folder. An
 * existing folder as `--out` gets that name inside it. With `--n` > 1 the images are numbered from 1
 * before the extension: `--out out.png --n 3` writes `out-1.png`, `out-2.png`, `out-3.png`.
 */
export function outputPaths(out: string | undefined, count: number, seed: number | bigint): string[] {
  let base = out ?? `latentkit-${seed}.png`;
  if (out && (out.endsWith('/') || out.endsWith('\\') || (existsSync(out) && statSync(out).isDirectory()))) {
    base = join(out, `latentkit-${seed}.png`);
  }
  if (count === 1) return [base];
  const ext = extname(base);
  const stem = ext ? base.slice(0, -ext.length) : base;
  return Array.from({ length: count }, (_, i) => `${stem}-${i + 1}${ext}`);
}

function nearestExisting(path: string): { path: string; isDirectory: boolean } {
  let at = resolve(path);
  for (;;) {
    try {
      return { path: at, isDirectory: statSync(at).isDirectory() };
    } catch {
      const up = dirname(at);
      if (up === at) return { path: at, isDirectory: true };
      at = up;
    }
  }
}

/**
 * Checks, before anything is generated, that every output path can be written: it is not a folder, and
 * its folder exists (or can be made inside a writable folder). A failure names the path, so a run never
 * leaves half its images behind and stops on a raw EISDIR / ENOTDIR / EACCES.
 *
 * @param flag the option the paths come from, for the message (`--out`).
 * @throws InvalidArgumentError naming the first path that cannot be written.
 */
export function checkOutputPaths(paths: readonly string[], flag = '--out'): void {
  const checkedFolders = new Set<string>();
  const seen = new Set<string>();
  for (const path of paths) {
    const full = resolve(path);
    const fail = (expected: string, fix: string): never => {
      throw new InvalidArgumentError({ name: flag, value: path, expected, fix });
    };
    if (seen.has(full)) fail('a different path for each image', 'give each image its own file name');
    seen.add(full);
    if (existsSync(full) && statSync(full).isDirectory()) {
      fail(
        `a PNG file path (${full} is a folder)`,
        `pass another file name, or the folder itself (${dirname(full)}) with a trailing /`,
      );
    }
    const folder = dirname(full);
    if (checkedFolders.has(folder)) continue;
    checkedFolders.add(folder);
    const existing = nearestExisting(folder);
    if (!existing.isDirectory) {
      fail(
        `a path inside a folder (${existing.path} is a file, not a folder)`,
        'choose an output path whose folders are folders',
      );
    }
    try {
      accessSync(existing.path, constants.W_OK);
    } catch {
      fail(`a writable folder (${existing.path} is not writable)`, 'choose a folder you can write to');
    }
  }
}
