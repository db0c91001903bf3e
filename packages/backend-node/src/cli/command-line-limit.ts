import { LimitExceededError } from '@latentkit/core';

/**
 * The longest command line (all arguments, UTF-8, with their separators) the CLI accepts: 24,000 bytes.
 * onnxruntime-node 1.30 crashes with SIGSEGV when it creates a session in a process whose command line is
 * longer than about 28,970 bytes (measured on Linux x64: 28,950 characters of argument beside
 * `node script` run, 28,951 crash; two arguments of 15,000 crash too, so the total counts). The margin
 * covers the `node` path, `--import` flags and the script path in front of the user's arguments.
 */
export const MAX_COMMAND_LINE_BYTES = 24_000;

function bytes(text: string): number {
  return Buffer.byteLength(text, 'utf8') + 1;
}

/**
 * Checks the process's command line — `execPath`, `execArgv` and `argv` — against
 * {@link MAX_COMMAND_LINE_BYTES}, before onnxruntime is loaded.
 *
 * @throws LimitExceededError naming the longest argument, and telling to pass a long prompt with
 * `--prompt-file FILE` or on stdin (`-`).
 */
export function checkCommandLineLength(
  commandLine: readonly string[] = [process.execPath, ...process.execArgv, ...process.argv.slice(1)],
): void {
  const total = commandLine.reduce((n, arg) => n + bytes(arg), 0);
  if (total <= MAX_COMMAND_LINE_BYTES) return;
  const longest = commandLine.reduce((a, b) => (bytes(b) > bytes(a) ? b : a), '');
  const preview = longest.length > 40 ? `${longest.slice(0, 40)}…` : longest;
  throw new LimitExceededError({
    name: 'command line',
    value: total,
    expected: `at most ${MAX_COMMAND_LINE_BYTES} bytes (onnxruntime-node crashes with SIGSEGV on a longer command line; the longest argument has ${longest.length} characters: ${JSON.stringify(preview)})`,
    fix: 'put a long prompt in a file and pass --prompt-file FILE (--negative-file for the negative prompt), or pipe it in with "-" as the prompt: `cat prompt.txt | latentkit generate -`',
  });
}
