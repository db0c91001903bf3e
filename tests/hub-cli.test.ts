/**
 * The CLI with hub ids, as a child process through the bin's launcher (as `npx latentkit` runs it), against
 * the local test hub: `latentkit download org/name` (then a cache hit, no request), `generate --model
 * org/name` (offline from the cache, the same pixels as the folder), `--revision`, and the errors.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readPng } from '@latentkit/backend-node';
import { shapesModelPath } from '@latentkit/model-shapes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PRIVATE_REPO, SHAPES_REPO, TestHub } from './support/test-hub.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const launcher = join(root, 'packages/backend-node/bin/latentkit.mjs');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

let hub: TestHub;
let work: string;

function cli(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      launcher,
      args,
      {
        cwd: work,
        env: { ...process.env, LATENTKIT_DEBUG: '', HF_TOKEN: '', HF_HOME: join(work, 'hf-home'), ...env },
      },
      (error, stdout, stderr) => {
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
      },
    );
  });
}

beforeAll(async () => {
  hub = await TestHub.start();
  work = await mkdtemp(join(tmpdir(), 'latentkit-hub-cli-'));
});
afterAll(async () => {
  await hub.close();
  await rm(work, { recursive: true, force: true });
});

const draw = [
  'generate',
  'a red circle on a blue background',
  '--steps',
  '4',
  '--guidance',
  '4',
  '--seed',
  '7',
];

describe('latentkit download / generate --model org/name', () => {
  it('download fetches the model once; a second run asks the hub for the commit and fetches nothing', async () => {
    const cache = join(work, 'cache-1');
    const first = await cli(['download', SHAPES_REPO, '--hub-url', hub.url, '--cache-dir', cache, '--json']);
    expect(first.code, first.stderr).toBe(0);
    const summary = JSON.parse(first.stdout) as {
      commit: string;
      folder: string;
      downloaded: string[];
      cached: boolean;
    };
    expect(summary.commit).toBe(hub.commit(SHAPES_REPO));
    expect(summary.folder).toBe(join(cache, 'models--latentkit--shapes', 'snapshots', summary.commit));
    expect(summary.downloaded).toContain('unet/model.onnx');
    expect(summary.cached).toBe(false);
    hub.clearRequests();
    const again = await cli(['download', SHAPES_REPO, '--hub-url', hub.url, '--cache-dir', cache]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toMatch(
      /^latentkit: latentkit\/shapes \(revision "main", commit [0-9a-f]{10}\): already in the cache, nothing fetched; in /,
    );
    expect(again.stdout.trim()).toBe(summary.folder);
    // the revision's commit and listing, no file
    expect(hub.requests.filter((r) => r.url.includes('/resolve/') || r.server === 'cdn')).toEqual([]);
    expect(hub.requests.some((r) => r.url.includes('/api/models/latentkit/shapes/revision/main'))).toBe(true);
  });

  it('generate --model org/name offline (HF_HUB_OFFLINE) draws the pixels of --model <folder>', async () => {
    const cache = join(work, 'cache-2');
    const env = { HF_ENDPOINT: hub.url, HF_HUB_CACHE: cache };
    const dl = await cli(['download', SHAPES_REPO], env);
    expect(dl.code, dl.stderr).toBe(0);
    hub.clearRequests();
    const byId = await cli([...draw, '--model', SHAPES_REPO, '-o', 'by-id.png'], {
      ...env,
      HF_HUB_OFFLINE: '1',
    });
    expect(byId.code, byId.stderr).toBe(0);
    expect(hub.requests).toEqual([]);
    const byFolder = await cli([...draw, '--model', shapesModelPath, '-o', 'by-folder.png']);
    expect(byFolder.code, byFolder.stderr).toBe(0);
    const a = await readPng(join(work, 'by-id.png'));
    const b = await readPng(join(work, 'by-folder.png'));
    expect(a.width).toBe(32);
    expect(Buffer.from(a.data).equals(Buffer.from(b.data))).toBe(true);
  });

  it('generate --model org/name --revision euler downloads that branch and uses its scheduler', async () => {
    const run = await cli(
      [...draw, '--model', SHAPES_REPO, '--revision', 'euler', '-o', 'euler.png', '--json'],
      {
        HF_ENDPOINT: hub.url,
        HF_HUB_CACHE: join(work, 'cache-3'),
      },
    );
    expect(run.code, run.stderr).toBe(0);
    const summary = JSON.parse(run.stdout) as { scheduler: string; model: string };
    expect(summary.scheduler).toMatch(/Euler/);
    expect(summary.model).toBe('latentkit/shapes@euler');
  });

  it('errors: --revision with a folder (2), an unknown repo (2), a private repo without a token (1) — one line each', async () => {
    const env = { HF_ENDPOINT: hub.url, HF_HUB_CACHE: join(work, 'cache-4') };
    const cases: [string[], number, RegExp][] = [
      [
        [...draw, '--model', shapesModelPath, '--revision', 'main'],
        2,
        /^latentkit: --revision needs --model org\/name/,
      ],
      [
        ['download', 'latentkit/nope'],
        2,
        /^latentkit: Hub repository "latentkit\/nope" not found on http:\/\/127\.0\.0\.1:\d+ \(404\)/,
      ],
      [
        ['download', PRIVATE_REPO],
        1,
        /^latentkit: The hub refused latentkit\/shapes-private .*401 Unauthorized \(no token was sent\).*HF_TOKEN/,
      ],
      [[...draw, '--model', 'latentkit/nope'], 2, /^latentkit: Hub repository "latentkit\/nope" not found/],
    ];
    for (const [args, code, pattern] of cases) {
      const run = await cli(args, env);
      expect(run.code, `${args.join(' ')}\n${run.stderr}`).toBe(code);
      const lines = run.stderr.trimEnd().split('\n');
      expect(lines, run.stderr).toHaveLength(1);
      expect(lines[0]).toMatch(pattern);
    }
  });
});
