/**
 * The CLI reproductions of issue 14 (§6 CLI holes, §8 PNG/preview/few-steps items), each run as a user
 * runs them: the real CLI as a child process (through tsx, or through scripts/generate.mjs as
 * `npm run generate` does), the shipped model or the sd1 fixture, real files. Bad input is in
 * tests/cli.bad-input.test.ts.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { listChunkTypes, parseGenerationParameters, readPng } from '@latentkit/backend-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tinySd1Run } from './support/cli.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
const entry = join(root, 'packages/backend-node/src/cli/main.ts');
const wrapper = join(root, 'scripts/generate.mjs');

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function env(): NodeJS.ProcessEnv {
  const e: NodeJS.ProcessEnv = {
    ...process.env,
    TSX_TSCONFIG_PATH: join(root, 'tsconfig.json'),
    LATENTKIT_DEBUG: '',
  };
  // npm sets INIT_CWD; the wrapper would run the CLI there instead of in `cwd`.
  delete e['INIT_CWD'];
  return e;
}

/** Runs a command to the end, optionally writing `input` to its stdin. */
function run(argv: string[], input?: string): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      argv,
      { cwd: root, env: env(), maxBuffer: 1 << 24 },
      (error, stdout, stderr) => {
        resolve({ code: child.exitCode, signal: child.signalCode, stdout, stderr });
        void error;
      },
    );
    child.stdin?.end(input ?? '');
  });
}

const cli = (args: string[], input?: string) => run(['--import', tsx, entry, ...args], input);

/** Starts a command and resolves once its stdout has `lines` lines. */
function startUntilLines(
  argv: string[],
  lines: number,
): Promise<{ child: ChildProcess; done: Promise<Run> }> {
  return new Promise((resolveStarted, rejectStarted) => {
    const child = spawn(process.execPath, argv, { cwd: root, env: env(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let started = false;
    const done = new Promise<Run>((resolve) => {
      child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
    });
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (!started && stdout.split('\n').length > lines) {
        started = true;
        resolveStarted({ child, done });
      }
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    void done.then((r) => {
      if (!started) rejectStarted(new Error(`ended before ${lines} line(s): ${JSON.stringify(r)}`));
    });
  });
}

let out: string;
beforeAll(async () => {
  out = await mkdtemp(join(tmpdir(), 'latentkit-cli-hardening-'));
});
afterAll(async () => {
  await rm(out, { recursive: true, force: true });
});

describe('long prompts (a 29k-character argv segfaulted inside onnxruntime-node)', () => {
  // CLIP collapses whitespace, so this is the prompt "a red circle on a blue background", 29,033 characters long.
  const prompt = `a red circle on a blue background${' '.repeat(29_000)}`;

  it('--prompt-file and "-" (stdin) take it, and give the same image as each other', async () => {
    const file = join(out, 'long-prompt.txt');
    await writeFile(file, `${prompt}\n`);
    const fromFile = await cli([
      'generate',
      '--prompt-file',
      file,
      '--seed',
      '5',
      '--out',
      join(out, 'file.png'),
    ]);
    expect(fromFile.code, fromFile.stderr).toBe(0);
    const fromStdin = await cli(
      ['generate', '-', '--seed', '5', '--out', join(out, 'stdin.png'), '--json'],
      prompt,
    );
    expect(fromStdin.code, fromStdin.stderr).toBe(0);
    expect(JSON.parse(fromStdin.stdout).prompt).toBe(prompt);
    const a = await readPng(join(out, 'file.png'));
    const b = await readPng(join(out, 'stdin.png'));
    expect(a.data).toEqual(b.data);
    expect(parseGenerationParameters(a.text['parameters']!).prompt).toBe(prompt);
  });

  it('in argv it is refused with a typed error before onnxruntime loads (exit 2, not 139)', async () => {
    const r = await cli(['generate', prompt, '--seed', '5', '--out', join(out, 'argv.png')]);
    expect(r.signal).toBeNull();
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/^latentkit: command line = \d+ is invalid: .*--prompt-file FILE/);
  });
});

describe('scripts/generate.mjs (npm run generate)', () => {
  it('reports death by a signal instead of exit 1 with no message', async () => {
    const target = join(out, 'killed.png');
    const { child, done } = await startUntilLines(
      [wrapper, 'a red circle', '--n', '50', '--seed', '1', '--out', target],
      1,
    );
    // The wrapper's child is the CLI; kill it as a crash inside onnxruntime would.
    const children = readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8')
      .trim()
      .split(/\s+/);
    expect(children).toHaveLength(1);
    process.kill(Number(children[0]), 'SIGSEGV');
    const r = await done;
    expect(r.code).toBe(139);
    expect(r.stderr).toMatch(
      /^latentkit was killed by SIGSEGV \(a crash in native code, e\.g\. onnxruntime\)\./m,
    );
  });

  it('--cli runs any command (npm run latentkit -- schedulers)', async () => {
    const r = await run([wrapper, '--cli', 'schedulers']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.split('\n')).toContain('DPM++ 2M Karras');
  });

  it('with --json, stderr holds only latentkit lines (no native log lines)', async () => {
    const r = await run([
      wrapper,
      'a red circle',
      ...tinySd1Run,
      '--provider',
      'webgpu,cpu',
      '--seed',
      '1',
      '--out',
      join(out, 'json.png'),
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).files).toEqual([join(out, 'json.png')]);
    for (const line of r.stderr.split('\n').filter(Boolean)) expect(line).toMatch(/^latentkit: /);
  });
});

describe('Ctrl-C during --n 50', () => {
  it('keeps the images already written, reports them, exits 130', async () => {
    const dir = join(out, 'interrupted');
    const { child, done } = await startUntilLines(
      [
        '--import',
        tsx,
        entry,
        'generate',
        'a red circle',
        '--n',
        '50',
        '--seed',
        '1',
        '--out',
        join(dir, 'img.png'),
      ],
      2,
    );
    child.kill('SIGINT');
    const r = await done;
    expect(r.code, r.stderr).toBe(130);
    const listed = r.stdout
      .trim()
      .split('\n')
      .map((line) => line.split('  ')[0]!);
    expect(listed.length).toBeGreaterThanOrEqual(2);
    expect(listed.length).toBeLessThan(50);
    expect(r.stderr).toMatch(
      new RegExp(`^latentkit: interrupted: wrote ${listed.length} of 50 image\\(s\\)`, 'm'),
    );
    // Every image listed is on disk and whole; nothing else (no temporary files).
    expect((await readdir(dir)).sort()).toEqual(listed.map((f) => f.slice(dir.length + 1)).sort());
    for (const [i, file] of listed.entries()) {
      const png = await readPng(file);
      expect(parseGenerationParameters(png.text['parameters']!).settings['Seed']).toBe(String(1 + i));
    }
  });
});

describe('generate: values the CLI used to refuse, PNG parameters, previews, warnings', () => {
  it('--guidance -3 runs (guidance ≤ 1 is no guidance) and writes it', async () => {
    const target = join(out, 'negative-guidance.png');
    const r = await cli([
      'generate',
      'a red circle',
      ...tinySd1Run,
      '--guidance',
      '-3',
      '--seed',
      '1',
      '--out',
      target,
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(parseGenerationParameters((await readPng(target)).text['parameters']!).settings['CFG scale']).toBe(
      '-3.0',
    );
  });

  it('writes the parameters before the image data, with the A1111 sampler name; --preview writes each step', async () => {
    const target = join(out, 'karras.png');
    const preview = join(out, 'preview.png');
    const r = await cli([
      'generate',
      'a red circle on a blue background',
      '--scheduler',
      'DPMSolverMultistepScheduler',
      '--steps',
      '12',
      '--seed',
      '3',
      '--out',
      target,
      '--preview',
      preview,
    ]);
    expect(r.code, r.stderr).toBe(0);
    const bytes = new Uint8Array(await readFile(target));
    expect(listChunkTypes(bytes)).toEqual(['IHDR', 'tEXt', 'IDAT', 'IEND']);
    const settings = parseGenerationParameters((await readPng(target)).text['parameters']!).settings;
    expect(settings).toMatchObject({
      Steps: '12',
      Sampler: 'DPM++ 2M',
      'CFG scale': '5.0',
      Seed: '3',
      Model: 'shapes',
    });
    // The last preview is the last step's latents decoded: the image itself.
    const last = await readPng(preview);
    expect(last.text['Step']).toBe('12/12');
    expect(last.data).toEqual((await readPng(target)).data);
  });

  it('warns when LMS runs below the steps it needs with the shipped model', async () => {
    const r = await cli([
      'generate',
      'a red circle',
      '--scheduler',
      'LMS',
      '--steps',
      '20',
      '--seed',
      '1',
      '--out',
      join(out, 'lms.png'),
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(
      /^latentkit: warning: LMS below 50 steps gives a flat black or white image with the shipped model \(--steps 20\)/m,
    );
  });
});

describe('npm run bench -- --help', () => {
  it('prints a usage text, not a stack trace', async () => {
    const r = await run(['--import', tsx, join(root, 'bench/pipeline.bench.ts'), '--help']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^Usage: npm run bench -- --model DIR \[options\]$/m);
    expect(r.stdout).toMatch(/--steps N/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});
