import { existsSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';

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
