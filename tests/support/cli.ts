/**
 * What the CLI tests share: the sd1 fixture model, the arguments of the smallest run on it, and an
 * in-process runner with captured output.
 */
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { runCli } from '../../packages/backend-node/src/cli/program.js';

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

/** What one CLI run printed and returned. */
export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs the CLI in this process (`runCli`) with captured stdout and stderr. `stdin` is the text piped in
 * (default none), or `'tty'` for an interactive terminal with nothing piped.
 */
export async function runCliInProcess(args: string[], stdin?: string | 'tty'): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  const input = new PassThrough() as PassThrough & { isTTY?: boolean };
  if (stdin === 'tty') input.isTTY = true;
  else input.end(stdin ?? '');
  const sink = (append: (text: string) => void) =>
    ({
      write: (text: string) => {
        append(text);
        return true;
      },
    }) as unknown as NodeJS.WritableStream;
  const code = await runCli(args, {
    stdout: sink((t) => {
      stdout += t;
    }),
    stderr: sink((t) => {
      stderr += t;
    }),
    stdin: input,
  });
  return { code, stdout, stderr };
}
