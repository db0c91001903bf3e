import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { ServerCliIo } from './cli-io.js';
import type { WorkerLaunch } from './serve-command.js';

/** A worker that lived this long before it died is restarted at once; one that dies sooner waits longer each time. */
const HEALTHY_AFTER_MS = 60_000;
const MAX_RESTART_DELAY_MS = 30_000;

interface Slot {
  index: number;
  child: ChildProcess | undefined;
  startedAt: number;
  quickDeaths: number;
  timer: NodeJS.Timeout | undefined;
  exited: Promise<void>;
}

/**
 * Runs `count` `latentkit worker` processes for `latentkit serve --redis`: their output is passed on with
 * a `[worker i]` prefix; one that exits while the server runs (a crash, SIGKILL, the OOM killer) is
 * started again after a delay that grows while it keeps dying quickly (1 s, 2 s, 4 s … 30 s). `stop()`
 * sends SIGTERM to each (a worker finishes its current job, or hands it back, and exits) and waits.
 * The workers have an IPC channel to this process: when it dies they shut down too.
 */
export class WorkerSupervisor {
  readonly #launch: WorkerLaunch;
  readonly #args: readonly string[];
  readonly #io: ServerCliIo;
  readonly #slots: Slot[];
  #stopping = false;

  constructor(launch: WorkerLaunch, args: readonly string[], count: number, io: ServerCliIo) {
    this.#launch = launch;
    this.#args = args;
    this.#io = io;
    this.#slots = Array.from({ length: count }, (_, i) => ({
      index: i + 1,
      child: undefined,
      startedAt: 0,
      quickDeaths: 0,
      timer: undefined,
      exited: Promise.resolve(),
    }));
  }

  /** The process ids of the workers running now (for tests and the bench's fault phase). */
  get pids(): number[] {
    return this.#slots.flatMap((s) =>
      s.child?.pid !== undefined && s.child.exitCode === null ? [s.child.pid] : [],
    );
  }

  /** Starts every worker. */
  start(): void {
    for (const slot of this.#slots) this.#spawn(slot);
  }

  #spawn(slot: Slot): void {
    slot.timer = undefined;
    const child = spawn(this.#launch.command, [...this.#launch.args, ...this.#args], {
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      env: process.env,
    });
    slot.child = child;
    slot.startedAt = Date.now();
    const prefix = `[worker ${slot.index}] `;
    for (const [stream, out] of [
      [child.stdout, this.#io.stdout],
      [child.stderr, this.#io.stderr],
    ] as const) {
      if (stream) {
        createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY }).on('line', (line) =>
          out.write(`${prefix}${line}\n`),
        );
      }
    }
    // The IPC channel only tells the worker when this process is gone; nothing is sent on it.
    child.channel?.unref();
    slot.exited = new Promise<void>((resolve) => {
      child.on('exit', (code, signal) => {
        resolve();
        if (slot.child !== child) return;
        slot.child = undefined;
        if (this.#stopping) return;
        const lived = Date.now() - slot.startedAt;
        slot.quickDeaths = lived >= HEALTHY_AFTER_MS ? 0 : slot.quickDeaths + 1;
        const delay = Math.min(
          MAX_RESTART_DELAY_MS,
          slot.quickDeaths <= 1 ? 0 : 1000 * 2 ** (slot.quickDeaths - 2),
        );
        this.#io.stderr.write(
          `latentkit serve: worker ${slot.index} (pid ${child.pid}) exited (${signal ?? `code ${code}`}); starting it again${delay > 0 ? ` in ${delay / 1000} s` : ''}.\n`,
        );
        slot.timer = setTimeout(() => this.#spawn(slot), delay);
      });
      child.on('error', (error) => {
        this.#io.stderr.write(`latentkit serve: worker ${slot.index} could not start: ${error.message}\n`);
      });
    });
  }

  /**
   * Stops the workers: SIGTERM to each (it finishes or hands back its job), SIGKILL to any still running
   * after `graceMs`, and resolves when all have exited.
   */
  async stop(graceMs = 120_000): Promise<void> {
    this.#stopping = true;
    for (const slot of this.#slots) {
      if (slot.timer) clearTimeout(slot.timer);
      slot.child?.kill('SIGTERM');
    }
    const all = Promise.all(this.#slots.map((s) => s.exited));
    let force: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>((resolve) => {
      force = setTimeout(() => resolve(true), graceMs);
    });
    if (await Promise.race([all.then(() => false), timedOut])) {
      for (const slot of this.#slots) slot.child?.kill('SIGKILL');
      await all;
    }
    clearTimeout(force);
  }
}
