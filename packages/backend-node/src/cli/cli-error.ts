import { LatentkitError, type LatentkitErrorCode } from '@latentkit/core';

/** Exit codes of the `latentkit` CLI. */
export const ExitCode = {
  /** Success. */
  ok: 0,
  /** A runtime failure: onnxruntime failed, a provider is missing, a file could not be written. */
  failure: 1,
  /** Bad input: an unknown option, a value out of range, a missing or invalid model folder or image. */
  usage: 2,
  /** Interrupted with Ctrl-C (128 + SIGINT, as shells report it). */
  interrupted: 130,
} as const;

// Errors about what the user gave us (flags, files, model folders) are usage errors.
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

/** A CLI usage error raised by the CLI itself (not by the library). */
export class UsageError extends Error {
  /** @param message one line, without the `latentkit:` prefix. */
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** Ctrl-C during a generation. */
export class InterruptedError extends Error {
  constructor() {
    super('interrupted.');
    this.name = 'InterruptedError';
  }
}

/**
 * The exit code for an error: 2 for bad input (a usage error, or a library error about the input: invalid
 * argument, shape mismatch, unknown scheduler, missing/invalid/mismatched model, not implemented, over a
 * limit), 130 for Ctrl-C, 1 for everything else (inference failures, non-finite output, I/O).
 */
export function exitCodeFor(error: unknown): number {
  if (error instanceof InterruptedError) return ExitCode.interrupted;
  if (error instanceof UsageError) return ExitCode.usage;
  if (error instanceof LatentkitError) return USAGE_CODES.has(error.code) ? ExitCode.usage : ExitCode.failure;
  return ExitCode.failure;
}

/**
 * The one line printed for an error: `latentkit: <message>`. Library messages already name the value,
 * what was expected and the fix; a multi-line native message is folded onto one line.
 */
export function formatCliError(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const line = message
    .split('\n')
    .map((s) => s.trim())
    .filter(Boolean)
    .join(' ');
  return `latentkit: ${line.replace(/^error:\s*/i, '') || 'unknown error'}`;
}
