#!/usr/bin/env node
// The `latentkit` bin of @latentkit/backend-node (what `npx latentkit <command>` runs).
//
// - In a checkout of the latentkit repository (the TypeScript sources beside this file and tsx, a root
//   devDependency, installed) it runs the sources through tsx with the root tsconfig (which maps
//   @latentkit/* to the sources): it works right after `npm ci`, needs no build and never runs a stale
//   dist/. This is what `npm run latentkit -- <command>` runs too.
// - Otherwise (the published package: dist/ only) it imports the built CLI, dist/cli/main.js.
// - With neither, it prints one line saying what to do and exits 1.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const packageDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const source = join(packageDir, 'src/cli/main.ts');
const built = join(packageDir, 'dist/cli/main.js');
const rootTsconfig = join(packageDir, '../../tsconfig.json');

/** tsx's ESM API when it is installed (a checkout), else undefined. */
async function loadTsx() {
  try {
    return await import('tsx/esm/api');
  } catch {
    return undefined;
  }
}

const tsx = existsSync(source) ? await loadTsx() : undefined;
if (tsx) {
  tsx.register({ tsconfig: existsSync(rootTsconfig) ? rootTsconfig : undefined });
  await import(pathToFileURL(source).href);
} else if (existsSync(built)) {
  await import(pathToFileURL(built).href);
} else {
  process.stderr.write(
    `latentkit: the CLI is not built (no ${built}) and tsx is not installed to run its sources. ` +
      'Fix: run `npm ci && npm run build` in the latentkit checkout, or use `npm run latentkit -- <command>` there.\n',
  );
  process.exitCode = 1;
}
