/** Where `latentkit serve` / `latentkit worker` write: stdout for the URL and ready lines, stderr for the rest. */
export interface ServerCliIo {
  /** Standard output. */
  stdout: NodeJS.WritableStream;
  /** Standard error. */
  stderr: NodeJS.WritableStream;
}

/**
 * Resolves with the first SIGTERM or SIGINT after it is called (and stops listening); a second one while
 * shutting down exits at once with 128 + its number. Without handlers Node would exit before the jobs
 * finish and the sessions are released (a process.exit while onnxruntime runs on a worker thread aborts).
 */
export function shutdownSignal(io: ServerCliIo, who: string): { promise: Promise<string>; dispose(): void } {
  let resolve!: (signal: string) => void;
  const promise = new Promise<string>((r) => {
    resolve = r;
  });
  let received: string | undefined;
  const handler = (signal: NodeJS.Signals) => {
    if (received !== undefined) {
      io.stderr.write(`${who}: second ${signal}: exiting now, without waiting for running jobs.\n`);
      process.exit(signal === 'SIGINT' ? 130 : 143);
    }
    received = signal;
    resolve(signal);
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
  return {
    promise,
    dispose() {
      process.off('SIGTERM', handler);
      process.off('SIGINT', handler);
    },
  };
}

/**
 * Waits for `promise` at most `ms` milliseconds; past that calls `onTimeout` and resolves anyway. For
 * closing Redis clients when Redis does not answer (BullMQ's close waits for its connections), once
 * nothing is left that needs Redis.
 */
export async function atMost(promise: Promise<unknown>, ms: number, onTimeout: () => void): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => {
    timer = setTimeout(() => resolve('late'), ms);
  });
  try {
    if ((await Promise.race([promise.then(() => 'done' as const), late])) === 'late') onTimeout();
  } finally {
    clearTimeout(timer);
  }
}
