/**
 * `npm run eval:layout` end to end, as a user runs it (`tsx scripts/eval-layout.ts`, a child process from the
 * repository root): the random-weight grounded fixture (tests/fixtures/models/sd-gligen-tiny) on one 2-object
 * and one 3-object layout of the shipped held-out set, through StableDiffusionGLIGENPipeline on
 * onnxruntime-node and the layout judge. The fixture draws noise, so it scores near 0: the test checks the
 * structure of the table and the JSON, that every share lies in [0, 1], and that the failures are saved.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { readPng } from '@latentkit/backend-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
const fixture = 'tests/fixtures/models/sd-gligen-tiny';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function evalLayout(args: string[]): Promise<Run> {
  const env: NodeJS.ProcessEnv = { ...process.env, TSX_TSCONFIG_PATH: join(root, 'tsconfig.json') };
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', tsx, join(root, 'scripts', 'eval-layout.ts'), ...args],
      { cwd: root, env, timeout: 120_000 },
      (error, stdout, stderr) => {
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
      },
    );
  });
}

interface Tally {
  correct: number;
  total: number;
}

describe('npm run eval:layout on the grounded fixture', () => {
  let dir: string;
  let run: Run;
  let json: {
    model: string;
    settings: Record<string, unknown>;
    targetsMet: boolean;
    groups: ({ objectsPerLayout: number; objectsRight: number; target: number; met: boolean } & Record<
      string,
      Tally
    >)[];
    cases: {
      index: number;
      seed: number;
      objects: { phrase: string; right: boolean }[];
      outsideShare: number;
      clean: boolean;
    }[];
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'eval-layout-'));
    run = await evalLayout([
      '--model',
      fixture,
      '--limit',
      '1',
      '--steps',
      '2',
      '--guidance',
      '3',
      '--beta',
      '0.5',
      '--seed',
      '7',
      '--json',
      join(dir, 'eval.json'),
      '--save-failures',
      join(dir, 'failures'),
    ]);
    json = JSON.parse(await readFile(join(dir, 'eval.json'), 'utf8'));
  }, 150_000);
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('prints the table: a row per object count, one for all, the targets', () => {
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain(`layout model: ${fixture}`);
    expect(run.stdout).toMatch(/2 of 200, --limit 1 per object count/);
    expect(run.stdout).toMatch(/settings: 2 steps, guidance 3, beta 0\.5, seed 7/);
    const lines = run.stdout.split('\n');
    const header = lines.findIndex((l) => l.startsWith('layouts  '));
    expect(lines[header]).toMatch(
      /objects right\s+colour right\s+shape right\s+clean outside boxes\s+layout all right\s+target/,
    );
    expect(lines[header + 2]).toMatch(
      /^2 objects\s+\d+\.\d% \(\d\/2\)\s+\d+\.\d% \(\d\/2\)\s+\d+\.\d% \(\d\/2\)\s+\d+\.\d% \(\d\/1\).*≥ 85% (met|MISSED)$/,
    );
    expect(lines[header + 3]).toMatch(/^3 objects\s+\d+\.\d% \(\d\/3\).*≥ 70% (met|MISSED)$/);
    expect(lines[header + 4]).toMatch(/^all\s+\d+\.\d% \(\d\/5\)/);
    expect(run.stdout).toMatch(
      /targets \(objects right: ≥ 85% with 2 objects, ≥ 70% with 3\): (met|NOT met)/,
    );
    // Objects split by whether their (colour, shape, background) triple was held out of training: 5 in all.
    const split = /held out of training \d+\.\d% \((\d)\/(\d)\), seen (?:\d+\.\d% \((\d)\/(\d)\)|–)/.exec(
      run.stdout,
    );
    expect(split).not.toBeNull();
    expect(Number(split![2]) + Number(split![4] ?? 0)).toBe(5);
  });

  it('writes the JSON: settings, groups with shares in [0, 1], each layout with the seed of its index', () => {
    expect(json.settings).toMatchObject({
      numInferenceSteps: 2,
      guidanceScale: 3,
      gligenScheduledSamplingBeta: 0.5,
      seed: 7,
      limit: 1,
    });
    expect(json.groups.map((g) => [g.objectsPerLayout, g.objects!.total, g.clean!.total, g.target])).toEqual([
      [2, 2, 1, 0.85],
      [3, 3, 1, 0.7],
    ]);
    for (const g of json.groups) {
      for (const key of ['objects', 'color', 'shape', 'clean', 'layouts']) {
        expect(g[key]!.correct).toBeGreaterThanOrEqual(0);
        expect(g[key]!.correct).toBeLessThanOrEqual(g[key]!.total);
      }
      expect(g.objectsRight).toBeGreaterThanOrEqual(0);
      expect(g.objectsRight).toBeLessThanOrEqual(1);
      expect(g.met).toBe(g.objectsRight >= g.target);
    }
    expect(json.targetsMet).toBe(json.groups.every((g) => g.met));
    // --limit 1 takes the first 2-object layout (index 0) and the first 3-object one (index 100).
    expect(json.cases.map((c) => [c.index, c.seed, c.objects.length])).toEqual([
      [0, 7, 2],
      [100, 107, 3],
    ]);
    for (const c of json.cases) {
      expect(c.outsideShare).toBeGreaterThanOrEqual(0);
      expect(c.outsideShare).toBeLessThanOrEqual(1);
      expect(c.clean).toBe(c.outsideShare <= 0.02);
    }
  });

  it('saves each image that is not entirely right as a PNG of the model size', async () => {
    const failed = json.cases.filter((c) => !c.clean || c.objects.some((o) => !o.right));
    const files = (await readdir(join(dir, 'failures'))).sort();
    expect(files).toEqual(
      failed.map((c) => `${String(c.index).padStart(3, '0')}-seed${c.seed}-${c.objects.length}obj.png`),
    );
    for (const f of files) {
      const png = await readPng(join(dir, 'failures', f));
      expect([png.width, png.height]).toEqual([64, 64]);
    }
  });

  it.each([
    [['--beta', '2'], /--beta "2": expected a number in \[0, 1\]/],
    [['--limit', '0'], /--limit "0": expected an integer ≥ 1/],
    [['--steps', 'ten'], /--steps "ten": expected an integer in \[1, 1000\]/],
    [['--bogus'], /Unknown option '--bogus'/],
    [['--model', 'tests/fixtures/models'], /model_index\.json is missing: pass a GLIGEN export/],
  ])('refuses %j with exit code 1 and the fix', async (args, message) => {
    const bad = await evalLayout(['--model', fixture, ...args]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(message);
  });
});
