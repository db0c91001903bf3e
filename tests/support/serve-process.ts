/**
 * `latentkit serve` as a real child process (the CLI from the sources through tsx, as users run it), for
 * the serve CLI tests and `npm run bench:serve`: waits for its "listening on <url>" line, keeps its output,
 * knows the pids of the worker processes it started (from their "ready (pid N" lines), and stops it with
 * a signal, resolving with the exit status.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { cliEntry, repoRoot, tsxLoader } from './run-node.js';

/** How a serve process ended. */
export interface ServeExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A running `latentkit serve` (or `latentkit worker`) child. */
export class ServeProcess {
  /** Its base URL, e.g. `http://127.0.0.1:40123` (serve only; '' for a worker). */
  url = '';
  /** stdout and stderr so far, interleaved by line. */
  output = '';
  readonly child: ChildProcess;
  readonly exited: Promise<ServeExit>;
  readonly #lineWaiters: Array<{ pattern: RegExp; resolve: (m: RegExpMatchArray) => void }> = [];

  private constructor(args: readonly string[], env: Readonly<Record<string, string>>) {
    const childEnv: NodeJS.ProcessEnv = {
      ...process.env,
      TSX_TSCONFIG_PATH: join(repoRoot, 'tsconfig.json'),
      LATENTKIT_DEBUG: '',
      ...env,
    };
    delete childEnv['INIT_CWD'];
    this.child = spawn(process.execPath, ['--import', tsxLoader, cliEntry, ...args], {
      cwd: repoRoot,
      env: childEnv,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    for (const stream of [this.child.stdout!, this.child.stderr!]) {
      createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY }).on('line', (line) => {
        this.output += `${line}\n`;
        for (let i = this.#lineWaiters.length - 1; i >= 0; i--) {
          const m = line.match(this.#lineWaiters[i]!.pattern);
          if (m) this.#lineWaiters.splice(i, 1)[0]!.resolve(m);
        }
      });
    }
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => resolve({ code, signal }));
    });
  }

  /**
   * Starts `latentkit <args…>` (e.g. `['serve', '--port', '0']`) and, for `serve`, resolves once it
   * listens (rejects with its output when it exits first or `timeoutMs` passes).
   */
  static async start(
    args: readonly string[],
    options: { env?: Readonly<Record<string, string>>; timeoutMs?: number } = {},
  ): Promise<ServeProcess> {
    const p = new ServeProcess(args, options.env ?? {});
    if (args[0] === 'serve') {
      const m = await p.waitForLine(/listening on (http:\/\/\S+)/, options.timeoutMs ?? 90_000);
      p.url = m[1]!;
    }
    return p;
  }

  /** Resolves with the first line (from now on) matching `pattern`; rejects when the process exits or time is up. */
  waitForLine(pattern: RegExp, timeoutMs = 60_000): Promise<RegExpMatchArray> {
    return new Promise((resolve, reject) => {
      const waiter = { pattern, resolve: (m: RegExpMatchArray) => done(() => resolve(m)) };
      const timer = setTimeout(
        () =>
          done(() =>
            reject(new Error(`no line matching ${pattern} within ${timeoutMs} ms:\n${this.output}`)),
          ),
        timeoutMs,
      );
      const onExit = () =>
        done(() => reject(new Error(`the process exited before ${pattern}:\n${this.output}`)));
      const done = (settle: () => void) => {
        clearTimeout(timer);
        this.child.off('exit', onExit);
        const i = this.#lineWaiters.indexOf(waiter);
        if (i >= 0) this.#lineWaiters.splice(i, 1);
        settle();
      };
      this.#lineWaiters.push(waiter);
      this.child.once('exit', onExit);
    });
  }

  /** The pids of the worker processes that said they were ready, in order (restarted ones included). */
  get workerPids(): number[] {
    return [...this.output.matchAll(/latentkit worker: ready \(pid (\d+)/g)].map((m) => Number(m[1]));
  }

  /** Whether it still runs. */
  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Sends `signal` (default SIGTERM) and resolves with how it exited; SIGKILL after `graceMs`. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = 60_000): Promise<ServeExit> {
    if (this.running) this.child.kill(signal);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }
}

/** Whether a process with this pid exists (signal 0). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
