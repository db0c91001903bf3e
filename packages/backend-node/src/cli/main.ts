#!/usr/bin/env node
/**
 * The `latentkit` command (bin of `@latentkit/backend-node`):
 * `latentkit generate "<prompt>" [options]`, `latentkit schedulers`, `latentkit info DIR`,
 * `latentkit serve` / `latentkit worker` (with `@latentkit/server` installed).
 * See `latentkit --help` and the package README.
 */
import { runCli } from './program.js';

const argv = process.argv.slice(2);
void runCli(argv, {
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: process.stdin,
}).then((code) => {
  process.exitCode = code;
  // `serve` and `worker` have closed their server, queue, workers and sessions by now: a socket a library
  // left open (Redis) must not keep the process alive.
  if (argv[0] === 'serve' || argv[0] === 'worker') setTimeout(() => process.exit(code), 3000).unref();
});
