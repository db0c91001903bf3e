#!/usr/bin/env node
// `npm run generate -- "a red circle on a blue background" --out image.png`   (latentkit generate …)
// `node scripts/generate.mjs --cli schedulers`                                 (any latentkit command)
//
// Runs the `latentkit` CLI of @latentkit/backend-node. In a checkout it runs the TypeScript sources
// through tsx (a root devDependency; the root tsconfig maps @latentkit/* to the sources), so it works
// right after `npm ci`, needs no build, and never runs a stale dist/. Without tsx (a production install)
// it runs the built bin, packages/backend-node/dist/cli/main.js.
//
// - Without `--cli` the arguments are those of `latentkit generate`; a first argument that is another
//   command's name (`schedulers`, `info`, `help`) is refused with a pointer to `--cli`, since it is
//   almost never meant as the prompt (`generate schedulers` draws the word).
// - When the CLI dies by a signal (SIGSEGV inside onnxruntime, SIGKILL from the OOM killer) this says so
//   and exits 128 + the signal's number, as a shell does.
// - With `--json`, native log lines that onnxruntime and its WebGPU runtime (Dawn) write straight to
//   stderr are dropped, so stderr holds only latentkit's own lines (LATENTKIT_DEBUG=1 keeps them).
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { constants } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const SUBCOMMANDS = ['schedulers', 'info', 'help'];

let cliArgs;
if (args[0] === '--cli') cliArgs = args.slice(1);
else if (args[0] === 'generate') cliArgs = args;
else if (SUBCOMMANDS.includes(args[0])) {
  process.stderr.write(
    `latentkit: "${args[0]}" is a latentkit command, not a prompt: \`npm run generate\` only generates. ` +
      `Fix: run it with \`npm run latentkit -- ${args.join(' ')}\` (or \`node scripts/generate.mjs --cli ${args.join(' ')}\`); ` +
      `to draw the word, write \`npm run generate -- generate ${args[0]}\`.\n`,
  );
  process.exit(2);
} else cliArgs = ['generate', ...args];

let tsx;
try {
  tsx = createRequire(join(root, 'package.json')).resolve('tsx');
} catch {
  tsx = undefined;
}
const source = join(root, 'packages/backend-node/src/cli/main.ts');
const built = join(root, 'packages/backend-node/dist/cli/main.js');

let command;
if (tsx && existsSync(source)) command = ['--import', pathToFileURL(tsx).href, source, ...cliArgs];
else if (existsSync(built)) command = [built, ...cliArgs];
else {
  process.stderr.write('latentkit: the CLI is not built: run `npm ci && npm run build` first.\n');
  process.exit(1);
}

// Lines written to fd 2 by native code (not by latentkit), e.g.
//   2026-12-04 20:31:02.123 [W:onnxruntime:, session_state.cc:1280 …] …
//   Warning: Couldn't load Vulkan: libvulkan.so.1: cannot open shared object file …
//       at operator() (/build/Release/_deps/dawn-src/src/dawn/native/vulkan/BackendVk.cpp:368)
const NATIVE_LINE =
  /^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+ \[[VIWEF]:onnxruntime:|Warning: |\s+at operator\(\) \(.*dawn)/;
const filterNative = cliArgs.includes('--json') && !process.env.LATENTKIT_DEBUG;

const child = spawn(process.execPath, command, {
  stdio: ['inherit', 'inherit', filterNative ? 'pipe' : 'inherit'],
  // npm runs scripts in the root; INIT_CWD is where the user typed the command (relative --out paths).
  cwd: process.env.INIT_CWD ?? process.cwd(),
  env: { ...process.env, TSX_TSCONFIG_PATH: join(root, 'tsconfig.json') },
});

if (filterNative) {
  let afterNative = false;
  createInterface({ input: child.stderr, crlfDelay: Number.POSITIVE_INFINITY }).on('line', (line) => {
    // A native warning may be followed by a blank line; drop that too.
    if (NATIVE_LINE.test(line) || (afterNative && line.trim() === '')) {
      afterNative = true;
      return;
    }
    afterNative = false;
    process.stderr.write(`${line}\n`);
  });
}

// Ctrl-C in a terminal reaches the CLI too (same process group): it stops the image being made, keeps
// the images written and exits 130. This wrapper waits for that instead of dying first.
process.on('SIGINT', () => {});
for (const signal of ['SIGTERM', 'SIGHUP']) {
  process.on(signal, () => child.kill(signal));
}

child.on('error', (error) => {
  process.stderr.write(`latentkit: ${error.message}\n`);
  process.exit(1);
});
child.on('close', (code, signal) => {
  if (signal) {
    const number = constants.signals[signal] ?? 0;
    const why =
      signal === 'SIGSEGV' || signal === 'SIGBUS' || signal === 'SIGABRT' || signal === 'SIGILL'
        ? ' (a crash in native code, e.g. onnxruntime). Fix: run again with LATENTKIT_DEBUG=1 and report the crash with the command line'
        : signal === 'SIGKILL'
          ? ' (killed from outside, e.g. by the out-of-memory killer). Fix: use a smaller --width/--height or fewer images'
          : '';
    process.stderr.write(`latentkit was killed by ${signal}${why}.\n`);
    process.exit(128 + number);
  }
  process.exit(code ?? 1);
});
