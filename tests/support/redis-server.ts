/**
 * A real redis-server for the Redis tests (`npm run test:redis`) and `npm run bench:serve`: Debian's
 * `/usr/bin/redis-server` on a free loopback port, stopped in `afterAll`. `stop()` then `start()` again
 * brings it back on the SAME port (fault tests: the clients reconnect to the address they know). Without
 * persistence by default (a restart loses the jobs, as a crash of a Redis without persistence does); with
 * `{ persistent: true }` an append-only file in a temporary folder, fsync'd on every write, keeps them (as a
 * production Redis with persistence does).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Where Debian installs it (`apt-get install redis-server`). */
export const REDIS_SERVER = '/usr/bin/redis-server';

/** Options of {@link RedisServer.start}. */
export interface RedisServerOptions {
  /** Keep the data over a restart: an append-only file in a temporary folder. Default false. */
  persistent?: boolean;
}

/** A free TCP port on 127.0.0.1 (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** One redis-server child process on a fixed loopback port. */
export class RedisServer {
  /** Its port on 127.0.0.1. */
  readonly port: number;
  /** Its data folder, when persistent. */
  readonly dataDir: string | undefined;
  #child: ChildProcess | undefined;
  #log = '';

  private constructor(port: number, dataDir: string | undefined) {
    this.port = port;
    this.dataDir = dataDir;
  }

  /** Starts redis-server on a free port and resolves when it accepts connections. */
  static async start(options: RedisServerOptions = {}): Promise<RedisServer> {
    const server = await RedisServer.reserve(options);
    await server.start();
    return server;
  }

  /** A server on a free port, not started yet (clients can be made before Redis is up). */
  static async reserve(options: RedisServerOptions = {}): Promise<RedisServer> {
    return new RedisServer(
      await freePort(),
      options.persistent ? mkdtempSync(join(tmpdir(), 'latentkit-redis-')) : undefined,
    );
  }

  /** `redis://127.0.0.1:<port>`. */
  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Whether the process runs now. */
  get running(): boolean {
    return this.#child !== undefined && this.#child.exitCode === null && this.#child.signalCode === null;
  }

  /** Starts (or restarts) the server on its port; resolves when it accepts connections (within 10 s). */
  async start(): Promise<void> {
    if (this.running) return;
    if (!existsSync(REDIS_SERVER)) {
      throw new Error(
        `${REDIS_SERVER} is not installed: the Redis tests and bench:serve run a real redis-server. Fix: apt-get install -y redis-server (.ci/run does).`,
      );
    }
    const persistence = this.dataDir
      ? ['--dir', this.dataDir, '--appendonly', 'yes', '--appendfsync', 'always']
      : ['--appendonly', 'no'];
    const child = spawn(
      REDIS_SERVER,
      [
        '--port',
        String(this.port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        ...persistence,
        '--protected-mode',
        'yes',
        '--loglevel',
        'warning',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.#child = child;
    child.stdout?.on('data', (d: Buffer) => {
      this.#log = (this.#log + d.toString()).slice(-4000);
    });
    child.stderr?.on('data', (d: Buffer) => {
      this.#log = (this.#log + d.toString()).slice(-4000);
    });
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      if (child.exitCode !== null) break;
      if (await canConnect(this.port)) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    child.kill('SIGKILL');
    throw new Error(`redis-server did not start on port ${this.port}: ${this.#log}`);
  }

  /**
   * Stops the server (SIGKILL by default, as a crash; `SIGTERM` for a clean stop) and resolves when the
   * process has exited. Its data is gone (no persistence).
   */
  async stop(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.#child;
    if (!child || !this.running) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill(signal);
    await exited;
  }

  /** Stops it for good and removes its data folder (when persistent). */
  async dispose(): Promise<void> {
    await this.stop('SIGKILL');
    if (this.dataDir) rmSync(this.dataDir, { recursive: true, force: true });
  }
}
