/**
 * Runs examples/upscale.ts as a user runs it (`npx tsx examples/upscale.ts OUT`: a child process through
 * tsx from the repository root) and checks what it wrote: the 32×32 source, the 128×128 upscale with its
 * A1111 parameters (the shapes upscaler's card settings), and the VAE-tiled upscale of the same call; and
 * that the trained shapes upscaler keeps the source picture.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { readPng } from '@latentkit/backend-node';
import { afterAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
const TIMEOUT = 180_000;
const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

function run(outDir: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env, TSX_TSCONFIG_PATH: join(root, 'tsconfig.json') };
  delete env['LATENTKIT_MODEL'];
  delete env['LATENTKIT_UPSCALER'];
  delete env['LATENTKIT_EXAMPLES_OUT'];
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', tsx, join(root, 'examples', 'upscale.ts'), outDir],
      { cwd: root, env, timeout: TIMEOUT },
      (error, stdout, stderr) => {
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
      },
    );
  });
}

describe('examples/upscale.ts', () => {
  it(
    'writes a 32×32 source, its 128×128 upscale with parameters, and the tiled upscale',
    async () => {
      const out = await mkdtemp(join(tmpdir(), 'latentkit-upscale-'));
      dirs.push(out);
      const result = await run(out);
      expect(result.code, `upscale failed:\n${result.stderr}`).toBe(0);
      expect(result.stdout).toMatch(/^upscale: 32×32 → 128×128, noise level 20, 1 step \(DDIMScheduler\)/m);
      expect((await readdir(out)).sort()).toEqual(['upscale-source.png', 'upscale-tiled.png', 'upscale.png']);
      const source = await readPng(join(out, 'upscale-source.png'));
      const big = await readPng(join(out, 'upscale.png'));
      const tiled = await readPng(join(out, 'upscale-tiled.png'));
      expect([source.width, source.height]).toEqual([32, 32]);
      expect([big.width, big.height]).toEqual([128, 128]);
      expect([tiled.width, tiled.height]).toEqual([128, 128]);
      expect(big.text['parameters']).toMatch(
        /^a red circle on a blue background\nSteps: 1, Sampler: DDIM, CFG scale: 1.0, Seed: 1, Size: 128x128/,
      );
      // Not a flat image; the tiled decode (64-px tiles of a 128-px output) did use tiles: it differs.
      const red = Array.from({ length: 128 * 128 }, (_, p) => big.data[p * 4]!);
      expect(Math.max(...red) - Math.min(...red)).toBeGreaterThan(50);
      expect(Buffer.compare(Buffer.from(big.data), Buffer.from(tiled.data))).not.toBe(0);

      // The trained upscaler keeps the picture: the upscale, averaged back over 4×4 blocks, is close to the
      // source (measured 2.7 per byte; the random-weight test fixture gives 98).
      let sum = 0;
      for (let y = 0; y < 32; y++)
        for (let x = 0; x < 32; x++)
          for (let c = 0; c < 3; c++) {
            let m = 0;
            for (let dy = 0; dy < 4; dy++)
              for (let dx = 0; dx < 4; dx++) m += big.data[((y * 4 + dy) * 128 + x * 4 + dx) * 4 + c]!;
            sum += Math.abs(m / 16 - source.data[(y * 32 + x) * 4 + c]!);
          }
      const meanDiff = sum / (32 * 32 * 3);
      console.log(`examples/upscale.ts: mean |box4(upscale) − source| = ${meanDiff.toFixed(2)} per byte`);
      expect(meanDiff).toBeLessThan(15);
    },
    TIMEOUT,
  );
});
