#!/usr/bin/env node
// `npm run generate -- "a red circle on a blue background" --out image.png`
//
// Runs the `latentkit generate` CLI of @latentkit/backend-node. In a checkout it runs the TypeScript
// sources through tsx (a root devDependency; the root tsconfig maps @latentkit/* to the sources), so it
// works right after `npm ci`, needs no build, and never runs a stale dist/. Without tsx (a production
// install) it runs the built bin, packages/backend-node/dist/cli/main.js.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const cliArgs = args[0] === 'generate' ? args : ['generate', ...args];

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

const result = spawnSync(process.execPath, command, {
  stdio: 'inherit',
  // npm runs scripts in the root; INIT_CWD is where the user typed the command (relative --out paths).
  cwd: process.env.INIT_CWD ?? process.cwd(),
  env: { ...process.env, TSX_TSCONFIG_PATH: join(root, 'tsconfig.json') },
});
if (result.error) {
  process.stderr.write(`latentkit: ${result.error.message}\n`);
  process.exit(1);
}
process.exit(result.status ?? 1);
