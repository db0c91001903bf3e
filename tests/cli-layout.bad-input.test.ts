/**
 * Bad `--box` / `--gligen-beta` input to `latentkit generate`, one row each: exit code 2 and one line
 * `latentkit: …` naming the flag value, what was expected and the fix, before any model is loaded (runCli in
 * this process, the same code the bin runs; no file written).
 */
import { existsSync, mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { runCliInProcess } from './support/cli.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const gligenTiny = join(root, 'tests/fixtures/models/sd-gligen-tiny');

const cli = runCliInProcess;

// Made when the module loads: the table rows below name the output file.
const dir = mkdtempSync(join(tmpdir(), 'latentkit-cli-layout-bad-'));
const target = join(dir, 'never.png');
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const GOOD = 'a red circle@0.05,0.05,0.45,0.45';
const gen = (...args: string[]) => [
  'generate',
  'on a white background',
  '--model',
  gligenTiny,
  '--steps',
  '1',
  '--out',
  target,
  ...args,
];
const boxError = (value: string, why: string) =>
  new RegExp(
    `option '--box <phrase@x0,y0,x1,y1>' argument '${value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}' is invalid\\. ${why}.* Fix: write it as "<phrase>@x0,y0,x1,y1" \\(fractions of width and height, origin top left\\), e\\.g\\. "a red circle@0\\.05,0\\.05,0\\.45,0\\.45"`,
  );

describe('latentkit generate --box / --gligen-beta: bad values', () => {
  it.each<[string, string[], RegExp]>([
    [
      '3 numbers (issue 16: "a red circle@0.1,0.1,0.5")',
      gen('--box', 'a red circle@0.1,0.1,0.5'),
      boxError('a red circle@0.1,0.1,0.5', 'expected 4 numbers after "@", got 3'),
    ],
    [
      '5 numbers',
      gen('--box', 'a red circle@0.1,0.1,0.5,0.5,0.9'),
      boxError('a red circle@0.1,0.1,0.5,0.5,0.9', 'expected 4 numbers after "@", got 5'),
    ],
    [
      'no "@"',
      gen('--box', 'a red circle'),
      boxError('a red circle', 'no "@" between the phrase and the box'),
    ],
    ['an empty phrase', gen('--box', ' @0,0,1,1'), boxError(' @0,0,1,1', 'the phrase before "@" is empty')],
    [
      'a word for a number',
      gen('--box', 'a red circle@0.1,half,0.5,0.5'),
      boxError('a red circle@0.1,half,0.5,0.5', '"half" is not a number'),
    ],
    [
      'an empty coordinate',
      gen('--box', 'a red circle@0.1,,0.5,0.5'),
      boxError('a red circle@0.1,,0.5,0.5', 'expected 4 numbers after "@", got 3'),
    ],
    [
      'pixels instead of fractions',
      gen('--box', 'a red circle@2,2,18,18'),
      boxError('a red circle@2,2,18,18', '2 is outside \\[0, 1\\]: the coordinates are fractions'),
    ],
    [
      'a negative coordinate',
      gen('--box', 'a red circle@-0.1,0,0.5,0.5'),
      boxError('a red circle@-0.1,0,0.5,0.5', '-0\\.1 is outside \\[0, 1\\]'),
    ],
    [
      'x0 > x1 (corners swapped)',
      gen('--box', 'a red circle@0.5,0.1,0.1,0.5'),
      boxError('a red circle@0.5,0.1,0.1,0.5', 'x0 = 0\\.5 must be less than x1 = 0\\.1'),
    ],
    [
      'a box of zero height',
      gen('--box', 'a red circle@0.1,0.3,0.5,0.3'),
      boxError('a red circle@0.1,0.3,0.5,0.3', 'y0 = 0\\.3 must be less than y1 = 0\\.3'),
    ],
    [
      'Infinity',
      gen('--box', 'a red circle@0,0,Infinity,1'),
      boxError('a red circle@0,0,Infinity,1', '"Infinity" is not a number'),
    ],
    [
      '31 boxes (GLIGEN has 30 slots)',
      gen(...Array.from({ length: 31 }, () => ['--box', GOOD]).flat()),
      /^latentkit: --box = "31 boxes" is invalid: expected at most 30 boxes \(GLIGEN has 30 object slots\)\. Fix: use fewer --box flags/,
    ],
    [
      '--gligen-beta 1.5',
      gen('--box', GOOD, '--gligen-beta', '1.5'),
      /--gligen-beta.*'1\.5' is invalid.*\[0, 1\]/,
    ],
    ['--gligen-beta abc', gen('--box', GOOD, '--gligen-beta', 'abc'), /--gligen-beta.*'abc' is invalid/],
    ['--gligen-beta without --box', gen('--gligen-beta', '0.5'), /^latentkit: --gligen-beta needs --box/],
    [
      '--box with --image (img2img)',
      gen('--box', GOOD, '--image', 'x.png'),
      /^latentkit: --box \(layout-to-image\) cannot take --image.*Drop --image, or drop --box/,
    ],
    [
      '--box with --image and --mask (inpainting)',
      gen('--box', GOOD, '--image', 'x.png', '--mask', 'm.png'),
      /--box \(layout-to-image\) cannot take --image/,
    ],
    [
      '--box with --upscale 4',
      gen('--box', GOOD, '--upscale', '4'),
      /^latentkit: --box \(layout-to-image\) cannot take --upscale/,
    ],
    [
      '--box with --hires-scale 2',
      gen('--box', GOOD, '--hires-scale', '2'),
      /^latentkit: --box \(layout-to-image\) cannot take --hires-scale/,
    ],
  ])('%s', async (_, args, message) => {
    const r = await cli(args);
    expect(r.code, r.stderr).toBe(2);
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines, r.stderr).toHaveLength(1);
    expect(lines[0]).toMatch(/^latentkit: /);
    expect(lines[0]).toMatch(message);
    expect(r.stdout).toBe('');
    expect(existsSync(target)).toBe(false);
  });
});
