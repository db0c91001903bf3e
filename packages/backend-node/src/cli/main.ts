#!/usr/bin/env node
/**
 * The `latentkit` command (bin of `@latentkit/backend-node`):
 * `latentkit generate "<prompt>" [options]`, `latentkit schedulers`, `latentkit info DIR`.
 * See `latentkit --help` and the package README.
 */
import { runCli } from './program.js';

void runCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: process.stdin,
}).then((code) => {
  process.exitCode = code;
});
