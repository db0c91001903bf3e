/**
 * What the CLI tests (tests/cli.test.ts, tests/cli-hardening.test.ts) share: the sd1 fixture model and the
 * arguments of the smallest run on it.
 */
import { fileURLToPath } from 'node:url';

/** The sd1 fixture model folder (tests/fixtures/models/sd1). */
export const sd1 = fileURLToPath(new URL('../fixtures/models/sd1', import.meta.url));

/** `--model <sd1> --steps 1 --width 32 --height 32`: one step at 32×32 on the sd1 fixture. */
export const tinySd1Run: readonly string[] = [
  '--model',
  sd1,
  '--steps',
  '1',
  '--width',
  '32',
  '--height',
  '32',
];
