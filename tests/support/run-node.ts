/**
 * Runs a Node child process the way the CLI and example tests need it: from the repository root, with
 * tsx resolving the `@latentkit/*` names to the TypeScript sources (the root tsconfig), no debug output, and
 * npm's `INIT_CWD` removed (the CLI would take it as the user's folder).
 */
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** The repository root. */
export const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
/** tsx's loader, for `node --import <tsx> file.ts`. */
export const tsxLoader = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
/** The CLI's entry (`latentkit …`) in the sources. */
export const cliEntry = join(repoRoot, 'packages/backend-node/src/cli/main.ts');

/** How a child process ended. */
export interface NodeRun {
  /** The exit status (null when a signal ended it). */
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Options of {@link runNode}. */
export interface RunNodeOptions {
  /** Variables set (or, with `undefined`, removed) on top of this process's environment. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Milliseconds before the child is killed (default: none). */
  timeout?: number;
}

/**
 * Runs `node <argv…>` from the repository root and resolves with its exit status and output.
 *
 * @param argv - Node's arguments, e.g. `['--import', tsxLoader, cliEntry, 'generate', …]`.
 */
export function runNode(argv: readonly string[], options: RunNodeOptions = {}): Promise<NodeRun> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    TSX_TSCONFIG_PATH: join(repoRoot, 'tsconfig.json'),
    LATENTKIT_DEBUG: '',
  };
  delete env['INIT_CWD'];
  for (const [key, value] of Object.entries(options.env ?? {})) {
    if (value === undefined) delete env[key];
    else env[key] = value;
  }
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [...argv],
      { cwd: repoRoot, env, maxBuffer: 1 << 24, ...(options.timeout ? { timeout: options.timeout } : {}) },
      (_e, stdout, stderr) => resolve({ code: child.exitCode, stdout, stderr }),
    );
  });
}

/** Runs the CLI's `generate` command from the sources with these arguments. */
export function runGenerate(args: readonly string[]): Promise<NodeRun> {
  return runNode(['--import', tsxLoader, cliEntry, 'generate', ...args]);
}
