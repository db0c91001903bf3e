import { LatentkitError, type LatentkitErrorCode } from '@latentkit/core';

/** Where `latentkit serve` / `latentkit worker` write: stdout for the URL and ready lines, stderr for the rest. */
export interface ServerCliIo {
  /** Standard output. */
  stdout: NodeJS.WritableStream;
  /** Standard error. */
  stderr: NodeJS.WritableStream;
}

/** A bad flag combination found after parsing (exit 2). */
export class UsageError extends Error {
  /** @param message - One line: what is wrong and the fix. */
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

// Library errors about what the user gave (flags, model folders) are usage errors, as in `latentkit generate`.
const USAGE_CODES: ReadonlySet<LatentkitErrorCode> = new Set([
  'INVALID_ARGUMENT',
  'SHAPE_MISMATCH',
  'UNKNOWN_SCHEDULER',
  'MODEL_NOT_FOUND',
  'MODEL_INVALID',
  'MODEL_MISMATCH',
  'NOT_IMPLEMENTED',
  'LIMIT_EXCEEDED',
]);

/** 2 for bad input (usage errors, the library's input errors), 1 for everything else. */
export function exitCodeFor(error: unknown): number {
  if (error instanceof UsageError) return 2;
  if (error instanceof LatentkitError) return USAGE_CODES.has(error.code) ? 2 : 1;
  return 1;
}

/** `latentkit: <message>` on one line. */
export function formatError(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const line = message
    .split('\n')
    .map((s) => s.trim())
    .filter(Boolean)
    .join(' ');
  return `latentkit: ${line.replace(/^error:\s*/i, '') || 'unknown error'}`;
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
