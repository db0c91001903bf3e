/**
 * Bad input to the `latentkit` CLI, one case per row: each must end with exit code 2 and one line
 * `latentkit: …` naming the value, what was expected and the fix, before any model is loaded (no stack
 * trace, no file written). Most rows run the CLI in this process (runCli, the same code the bin runs);
 * those that depend on the process itself (its command line, stdin) spawn it.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCliInProcess } from './support/cli.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
const entry = join(root, 'packages/backend-node/src/cli/main.ts');
const sd1 = join(root, 'tests/fixtures/models/sd1');
const jpeg = join(root, 'tests/fixtures/images/circle-32.jpg');
const webp = join(root, 'tests/fixtures/images/circle-32.webp');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** runCli in this process, with captured output (and a stdin that is a terminal, or given text). */
const cli = runCliInProcess;

/** The real CLI as a child process. */
function spawnCli(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', tsx, entry, ...args],
      {
        cwd: root,
        env: { ...process.env, TSX_TSCONFIG_PATH: join(root, 'tsconfig.json'), LATENTKIT_DEBUG: '' },
      },
      (error, stdout, stderr) =>
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr }),
    );
  });
}

function expectUsageError(run: Run, pattern: RegExp): void {
  expect(run.code, run.stderr).toBe(2);
  const lines = run.stderr.trimEnd().split('\n');
  expect(lines, run.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^latentkit: /);
  expect(lines[0]).toMatch(pattern);
  expect(run.stderr).not.toMatch(/\n\s+at /);
  expect(run.stdout).toBe('');
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'latentkit-cli-bad-'));
  writeFileSync(join(dir, 'empty.txt'), '\n');
  writeFileSync(join(dir, 'latin1.txt'), Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x0a])); // "café" in Latin-1
  writeFileSync(join(dir, 'huge.txt'), 'a red circle '.repeat(90_000));
  writeFileSync(join(dir, 'a-file'), 'not a folder');
  mkdirSync(join(dir, 'img-2.png')); // a folder where --n 3 would write its second image
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const gen = (...args: string[]) => ['generate', 'a red circle', '--model', sd1, ...args];

describe('latentkit generate: bad flag values', () => {
  it.each<[string, string[], RegExp]>([
    ['--steps not a number', gen('--steps', 'abc'), /--steps.*'abc' is invalid.*integer ≥ 1/],
    ['--steps 0', gen('--steps', '0'), /--steps.*'0' is invalid.*integer ≥ 1/],
    [
      '--guidance not a number',
      gen('--guidance', 'lots'),
      /--guidance.*'lots' is invalid.*expected a number/,
    ],
    [
      '--guidance Infinity',
      gen('--guidance', 'Infinity'),
      /--guidance.*'Infinity' is invalid.*expected a number/,
    ],
    ['--width 7', gen('--width', '7'), /--width.*'7' is invalid.*integer ≥ 8/],
    ['--seed -1', gen('--seed', '-1'), /--seed.*'-1' is invalid.*\[0, 2\^64 − 1\]/],
    ['--seed 2^64', gen('--seed', '18446744073709551616'), /--seed.*is invalid.*\[0, 2\^64 − 1\]/],
    [
      '--seed 2^64 − 1 with --n 2 (the second image would need 2^64)',
      gen('--seed', '18446744073709551615', '--n', '2'),
      /--seed = "18446744073709551615" is invalid: expected a seed with seed \+ 1 ≤ 2\^64 − 1.*Fix: use --seed 18446744073709551614 or less/,
    ],
    ['--n 0', gen('--n', '0'), /--n.*'0' is invalid.*integer ≥ 1/],
    [
      '--n 100000000 (capped, not a V8 abort)',
      gen('--n', '100000000'),
      /--n = 100000000 is invalid: expected at most 10000 images per run\. Fix: run the command several times/,
    ],
    ['--strength 1.5', gen('--image', jpeg, '--strength', '1.5'), /--strength.*'1\.5' is invalid.*\[0, 1\]/],
    [
      '--strength 0 (the help says (0, 1]; the pipeline would run no step)',
      gen('--image', 'x.png', '--strength', '0'),
      /--strength = 0 is invalid: expected a strength in \(0, 1\].*Fix: use --strength 0\.05 or more/,
    ],
    [
      '--strength 0.01 with 20 steps (floor(20 · 0.01) = 0 steps)',
      gen('--image', 'x.png', '--strength', '0.01'),
      /--strength = 0\.01 is invalid.*at least one of the 20 steps.*Fix: use --strength 0\.05 or more, or --steps 100 or more/,
    ],
    ['--strength without --image', gen('--strength', '0.5'), /--strength needs --image/],
    ['--mask without --image', gen('--mask', 'm.png'), /--mask needs --image/],
    [
      '--provider gpu',
      gen('--provider', 'cuda,gpu'),
      /--provider = "gpu" is invalid: expected one of cuda, dml, coreml, webgpu, cpu/,
    ],
    ['an unknown option', gen('--stepz', '3'), /unknown option '--stepz'.*Did you mean --steps\?/],
  ])('%s', async (_name, args, pattern) => {
    expectUsageError(await cli(args), pattern);
  });
});

describe('latentkit generate: hires fix flags', () => {
  it.each<[string, string[], RegExp]>([
    [
      '--hires-scale below 1',
      gen('--hires-scale', '0.5'),
      /--hires-scale.*'0\.5' is invalid.*expected a number ≥ 1/,
    ],
    [
      '--hires-scale not a number',
      gen('--hires-scale', 'x2'),
      /--hires-scale.*'x2' is invalid.*expected a number ≥ 1/,
    ],
    ['--hires-scale Infinity', gen('--hires-scale', 'Infinity'), /--hires-scale.*'Infinity' is invalid/],
    [
      '--hires-strength 1.5',
      gen('--hires-scale', '2', '--hires-strength', '1.5'),
      /--hires-strength.*'1\.5' is invalid.*\[0, 1\]/,
    ],
    [
      '--hires-strength 0',
      gen('--hires-scale', '2', '--hires-strength', '0'),
      /--hires-strength = 0 is invalid: expected a number in \(0, 1\].*Fix: use e\.g\. --hires-strength 0\.7/,
    ],
    [
      '--hires-steps 0',
      gen('--hires-scale', '2', '--hires-steps', '0'),
      /--hires-steps.*'0' is invalid.*integer ≥ 1/,
    ],
    [
      '--hires-steps 2.5',
      gen('--hires-scale', '2', '--hires-steps', '2.5'),
      /--hires-steps.*'2\.5' is invalid/,
    ],
    [
      '--hires-upscaler bicubic',
      gen('--hires-scale', '2', '--hires-upscaler', 'bicubic'),
      /--hires-upscaler.*'bicubic' is invalid.*Allowed choices are latent, pixel/,
    ],
    [
      '--cpu-memory small',
      gen('--cpu-memory', 'small'),
      /--cpu-memory.*'small' is invalid.*Allowed choices are balanced, low, arena/,
    ],
    [
      '--hires-strength without --hires-scale',
      gen('--hires-strength', '0.5'),
      /--hires-strength needs --hires-scale X/,
    ],
    ['--hires-steps without --hires-scale', gen('--hires-steps', '5'), /--hires-steps needs --hires-scale X/],
    [
      '--hires-upscaler without --hires-scale',
      gen('--hires-upscaler', 'pixel'),
      /--hires-upscaler needs --hires-scale X/,
    ],
    [
      '--hires-scale with --image',
      gen('--hires-scale', '2', '--image', jpeg),
      /--hires-scale is a text-to-image hires fix and cannot take --image/,
    ],
    [
      '--hires-scale past the size limit (checked before the first pass)',
      gen('--hires-scale', '1000', '--steps', '2'),
      /hiresScale = 1000 is invalid: expected a scale whose hires width \(64 × 1000 → 64000 px\) is at most 8192 pixels \(limits\.maxImageSize\)/,
    ],
    [
      '--hires-strength too small for the scheduler (the schedule would pass 1000 steps)',
      gen('--hires-scale', '2', '--hires-strength', '0.001', '--hires-steps', '5', '--steps', '2'),
      /hiresStrength = 0\.001 is invalid: .*fits the scheduler's 1000 training timesteps.*Fix: raise hiresStrength to at least 0\.005/,
    ],
  ])('%s', async (_name, args, pattern) => {
    expectUsageError(await cli(args), pattern);
  });
});

describe('latentkit generate: x4 upscale flags', () => {
  const x4 = join(root, 'tests/fixtures/models/sd-x4-upscaler');
  it.each<[string, string[], RegExp]>([
    [
      '--upscale 4 with --model but no --upscaler-model',
      gen('--upscale', '4'),
      /--upscale 4 with --model needs --upscaler-model DIR: the shipped upscaler knows only the shapes world/,
    ],
    [
      '--upscale 2',
      gen('--upscale', '2'),
      /--upscale.*'2' is invalid.*expected 4 \(the x4 upscaler; for other factors use --hires-scale X/,
    ],
    ['--upscale four', gen('--upscale', 'four'), /--upscale.*'four' is invalid.*expected 4/],
    ['--upscaler-model without --upscale', gen('--upscaler-model', x4), /--upscaler-model needs --upscale 4/],
    ['--upscale-steps without --upscale', gen('--upscale-steps', '5'), /--upscale-steps needs --upscale 4/],
    [
      '--upscale-guidance without --upscale',
      gen('--upscale-guidance', '5'),
      /--upscale-guidance needs --upscale 4/,
    ],
    ['--noise-level without --upscale', gen('--noise-level', '5'), /--noise-level needs --upscale 4/],
    [
      '--upscale-steps 0',
      gen('--upscale', '4', '--upscale-steps', '0'),
      /--upscale-steps.*'0' is invalid.*integer ≥ 1/,
    ],
    [
      '--noise-level -1',
      gen('--upscale', '4', '--noise-level', '-1'),
      /--noise-level.*'-1' is invalid.*integer ≥ 0/,
    ],
    [
      '--upscale-guidance NaN',
      gen('--upscale', '4', '--upscale-guidance', 'NaN'),
      /--upscale-guidance.*'NaN' is invalid.*expected a number/,
    ],
    [
      '--upscaler-model that does not exist',
      gen('--upscale', '4', '--upscaler-model', 'no-such-upscaler'),
      /Upscaler model folder .*no-such-upscaler does not exist\. Fix: pass --upscaler-model the folder of an x4 upscaler export/,
    ],
    [
      '--upscaler-model that is not an upscaler (the sd1 fixture)',
      gen('--steps', '2', '--upscale', '4', '--upscaler-model', sd1),
      /sd1 is not an x4 upscaler model: its parts have no lowResScheduler.*Fix: load it with StableDiffusionPipeline\.fromPretrained/,
    ],
    [
      "--noise-level over the model's max_noise_level (350)",
      gen('--steps', '2', '--upscale', '4', '--upscaler-model', x4, '--noise-level', '351'),
      /--noise-level = 351 is invalid: expected an integer in \[0, 350\] \(the upscaler's max_noise_level\)/,
    ],
  ])('%s', async (_name, args, pattern) => {
    expectUsageError(await cli(args), pattern);
  });
});

describe('latentkit generate: VAE tiling flags', () => {
  it.each<[string, string[], RegExp]>([
    [
      '--vae-tile-size without --vae-tiling',
      gen('--vae-tile-size', '256'),
      /--vae-tile-size needs --vae-tiling/,
    ],
    [
      '--vae-tile-size 0',
      gen('--vae-tiling', '--vae-tile-size', '0'),
      /--vae-tile-size.*'0' is invalid.*integer ≥ 1/,
    ],
    [
      "--vae-tile-size not a multiple of the VAE's downscale (checked before generating)",
      gen('--steps', '2', '--vae-tiling', '--vae-tile-size', '30'),
      /tileSampleSize = 30 is invalid/,
    ],
  ])('%s', async (_name, args, pattern) => {
    expectUsageError(await cli(args), pattern);
  });
});

describe('latentkit generate: schedulers', () => {
  it('a misspelt scheduler gets a "did you mean"', async () => {
    expectUsageError(
      await cli(gen('--scheduler', 'eular a')),
      /Unknown scheduler "eular a"\. Did you mean "Euler a"\? Known names: /,
    );
  });

  it('a scheduler close to no name lists the known names', async () => {
    const run = await cli(gen('--scheduler', 'quantum-annealer-9000'));
    expectUsageError(run, /Unknown scheduler "quantum-annealer-9000"\. Known names: DPM\+\+ 2M, /);
    expect(run.stderr).not.toMatch(/Did you mean/);
  });
});

describe('latentkit generate: prompts', () => {
  it('no prompt at all', async () => {
    expectUsageError(
      await cli(['generate', '--model', sd1]),
      /no prompt: pass it as an argument, "-" to read it from stdin, or --prompt-file FILE/,
    );
  });

  it('a prompt argument and --prompt-file together', async () => {
    expectUsageError(
      await cli(gen('--prompt-file', join(dir, 'empty.txt'))),
      /--prompt-file = ".*empty\.txt" is invalid: expected one source for the prompt.*Fix: drop the prompt argument "a red circle" or --prompt-file/,
    );
  });

  it('--prompt-file that does not exist', async () => {
    expectUsageError(
      await cli(['generate', '--prompt-file', join(dir, 'nope.txt'), '--model', sd1]),
      /--prompt-file = ".*nope\.txt" is invalid: expected a readable file holding the prompt \(ENOENT\)/,
    );
  });

  it('--prompt-file that is a folder', async () => {
    expectUsageError(
      await cli(['generate', '--prompt-file', dir, '--model', sd1]),
      /--prompt-file = ".*" is invalid: expected a file holding the prompt \(.* is a folder or device\)/,
    );
  });

  it('--prompt-file that is empty', async () => {
    expectUsageError(
      await cli(['generate', '--prompt-file', join(dir, 'empty.txt'), '--model', sd1]),
      /empty\.txt = "" is invalid: expected the prompt text \(it is empty\)/,
    );
  });

  it('--prompt-file that is not UTF-8', async () => {
    expectUsageError(
      await cli(['generate', '--prompt-file', join(dir, 'latin1.txt'), '--model', sd1]),
      /latin1\.txt = "5 bytes" is invalid: expected the prompt as UTF-8 text\. Fix: save the file as UTF-8/,
    );
  });

  it('--prompt-file over 1 MiB', async () => {
    const run = await cli(['generate', '--prompt-file', join(dir, 'huge.txt'), '--model', sd1]);
    expectUsageError(
      run,
      /--prompt-file = ".*huge\.txt \(1170000 bytes\)" is invalid: expected a prompt file of at most 1048576 bytes/,
    );
  });

  it('--negative-file that does not exist', async () => {
    expectUsageError(
      await cli(gen('--negative-file', join(dir, 'nope.txt'))),
      /--negative-file = ".*nope\.txt" is invalid: expected a readable file holding the negative prompt/,
    );
  });

  it('"-" (stdin) while stdin is a terminal', async () => {
    expectUsageError(
      await cli(['generate', '-', '--model', sd1], 'tty'),
      /stdin = "a terminal" is invalid: expected the prompt piped in.*Fix: pipe it in/,
    );
  });

  it('"-" with nothing piped in', async () => {
    expectUsageError(
      await cli(['generate', '-', '--model', sd1], ''),
      /stdin = "" is invalid: expected the prompt text \(it is empty\)/,
    );
  });

  it('the prompt and the negative prompt both from stdin', async () => {
    expectUsageError(
      await cli(['generate', '-', '--negative', '-', '--model', sd1], 'x'),
      /cannot both be "-" \(stdin\): use --negative-file FILE/,
    );
  });

  it('a command line too long for onnxruntime-node (it would crash with SIGSEGV, exit 139)', async () => {
    // A real prompt padded with spaces (CLIP collapses them): 29,000 characters in argv.
    const prompt = `a red circle on a blue background${' '.repeat(29_000)}`;
    const run = await spawnCli(['generate', prompt, '--seed', '1', '--out', join(dir, 'long.png')]);
    expectUsageError(
      run,
      /command line = \d+ is invalid: expected at most 24000 bytes \(onnxruntime-node crashes with SIGSEGV.*the longest argument has 29033 characters.*Fix: .*--prompt-file FILE.*latentkit generate -/,
    );
    expect(await readdir(dir)).not.toContain('long.png');
  });
});

describe('latentkit generate: images', () => {
  it.each([
    ['--image', 'JPEG', jpeg],
    ['--image', 'WebP', webp],
    ['--mask', 'JPEG', jpeg],
  ])('%s with a real %s file names the format and says PNG only', async (flag, format, file) => {
    const run = await cli(flag === '--image' ? gen('--image', file) : gen('--image', jpeg, '--mask', file));
    expectUsageError(
      run,
      new RegExp(
        `circle-32\\.\\w+: PNG bytes = "a ${format} image \\(\\d+ bytes\\)" is invalid: expected a PNG file.*PNG only\\. Fix: convert the ${format} image to PNG first`,
      ),
    );
  });

  it('--image that does not exist', async () => {
    expectUsageError(
      await cli(gen('--image', join(dir, 'nope.png'))),
      /image path = ".*nope\.png" is invalid: expected a readable PNG file \(ENOENT\)/,
    );
  });
});

describe('latentkit generate: output paths, checked before anything is generated', () => {
  it('--n 3 where the second file would be a folder: nothing is written, no raw EISDIR', async () => {
    const run = await cli(gen('--n', '3', '--out', join(dir, 'img.png'), '--steps', '1'));
    expectUsageError(
      run,
      /--out = ".*img-2\.png" is invalid: expected a PNG file path \(.*img-2\.png is a folder\)/,
    );
    expect(run.stderr).not.toMatch(/EISDIR/);
    expect((await readdir(dir)).filter((f) => f.startsWith('img-'))).toEqual(['img-2.png']);
  });

  it('--out inside a file (ENOTDIR)', async () => {
    expectUsageError(
      await cli(gen('--out', join(dir, 'a-file', 'x.png'))),
      /--out = ".*a-file\/x\.png" is invalid: expected a path inside a folder \(.*a-file is a file, not a folder\)/,
    );
  });

  it('--preview the same file as --out', async () => {
    expectUsageError(
      await cli(gen('--out', join(dir, 'same.png'), '--preview', join(dir, 'same.png'))),
      /--preview = ".*same\.png" is invalid: expected a file other than the output images/,
    );
  });

  it('--preview-approx without --preview', async () => {
    expectUsageError(await cli(gen('--preview-approx')), /--preview-approx needs --preview FILE/);
  });
});

describe('scripts/generate.mjs (npm run generate)', () => {
  it('refuses a subcommand name as the prompt and points to npm run latentkit', async () => {
    const run = await new Promise<Run>((resolve) => {
      const env = { ...process.env };
      delete env['INIT_CWD'];
      execFile(
        process.execPath,
        [join(root, 'scripts/generate.mjs'), 'schedulers'],
        { cwd: root, env },
        (error, stdout, stderr) =>
          resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr }),
      );
    });
    expectUsageError(
      run,
      /"schedulers" is a latentkit command, not a prompt.*npm run latentkit -- schedulers.*npm run generate -- generate schedulers/,
    );
  });
});
