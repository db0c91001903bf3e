import { LatentkitError, type LatentkitErrorCode } from '@latentkit/core';

/** The codes the server adds to the library's own ({@link LatentkitErrorCode}). */
export type ServerErrorCode =
  | 'UNAUTHORIZED'
  | 'TOO_MANY_REQUESTS'
  | 'QUEUE_UNAVAILABLE'
  | 'CANCELLED'
  | 'NOT_FOUND'
  | 'PAYLOAD_TOO_LARGE'
  | 'JOB_FAILED';

/** Every code an error response of the server may carry: the library's, then the server's own. */
export type ErrorCode = LatentkitErrorCode | ServerErrorCode;

/**
 * An error with an HTTP status. The routes turn it (and any {@link LatentkitError}) into the error body
 * of the API that was called; see {@link httpStatusFor}.
 */
export class ServerError extends Error {
  /** A stable, machine-readable code. */
  readonly code: ErrorCode;
  /** The HTTP status it is answered with. */
  readonly statusCode: number;
  /** Seconds a client should wait before trying again (sent as `Retry-After`), when it makes sense. */
  readonly retryAfterSeconds: number | undefined;

  /**
   * @param code - The error code.
   * @param message - What went wrong, the value, what was expected and the fix.
   * @param options - `statusCode` overrides the code's usual status; `retryAfterSeconds` adds `Retry-After`.
   */
  constructor(
    code: ErrorCode,
    message: string,
    options: { statusCode?: number; retryAfterSeconds?: number; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ServerError';
    this.code = code;
    this.statusCode = options.statusCode ?? httpStatusFor(code);
    this.retryAfterSeconds = options.retryAfterSeconds;
  }
}

const STATUS: Readonly<Record<ErrorCode, number>> = {
  INVALID_ARGUMENT: 400,
  SHAPE_MISMATCH: 400,
  UNKNOWN_SCHEDULER: 400,
  LIMIT_EXCEEDED: 413,
  PAYLOAD_TOO_LARGE: 413,
  UNAUTHORIZED: 401,
  NOT_FOUND: 404,
  MODEL_NOT_FOUND: 404,
  CANCELLED: 499,
  TOO_MANY_REQUESTS: 429,
  NOT_IMPLEMENTED: 501,
  QUEUE_UNAVAILABLE: 503,
  BACKEND_UNAVAILABLE: 503,
  DOWNLOAD_FAILED: 502,
  MODEL_INVALID: 500,
  MODEL_MISMATCH: 500,
  INFERENCE_FAILED: 500,
  NON_FINITE_OUTPUT: 500,
  JOB_FAILED: 500,
};

/** The HTTP status of an error code: 4xx for what the client can fix, 5xx for the server's own trouble. */
export function httpStatusFor(code: ErrorCode): number {
  return STATUS[code] ?? 500;
}

/** What an error response says: the code, the status, the message, and `Retry-After` when set. */
export interface ErrorReply {
  /** The error code. */
  code: ErrorCode;
  /** The HTTP status. */
  statusCode: number;
  /** The message. */
  message: string;
  /** The error's class name (`InvalidArgumentError`, `ServerError`, …): A1111 clients show it. */
  name: string;
  /** The option the error is about, when it is about one. */
  param?: string;
  /** Seconds to wait before a retry. */
  retryAfterSeconds?: number;
}

/**
 * Turns anything thrown while handling a request into an {@link ErrorReply}: a {@link ServerError} or
 * {@link LatentkitError} keeps its code; a job error that came back from a worker as plain data (`code`,
 * `message`, `name`) keeps its code; Fastify's own errors (a body over the limit, a schema mismatch)
 * become PAYLOAD_TOO_LARGE / INVALID_ARGUMENT; anything else is a 500 INFERENCE_FAILED.
 */
export function errorReplyFor(error: unknown): ErrorReply {
  if (error instanceof ServerError) {
    const reply: ErrorReply = {
      code: error.code,
      statusCode: error.statusCode,
      message: error.message,
      name: error.name,
    };
    if (error.retryAfterSeconds !== undefined) reply.retryAfterSeconds = error.retryAfterSeconds;
    return reply;
  }
  if (error instanceof LatentkitError) {
    const reply: ErrorReply = {
      code: error.code,
      statusCode: httpStatusFor(error.code),
      message: error.message,
      name: error.name,
    };
    if (error.details?.name) reply.param = error.details.name;
    return reply;
  }
  const e = error as {
    code?: unknown;
    statusCode?: unknown;
    message?: unknown;
    name?: unknown;
    validation?: unknown;
  };
  const message = typeof e?.message === 'string' ? e.message : String(error);
  if (typeof e?.code === 'string' && e.code in STATUS) {
    const code = e.code as ErrorCode;
    return {
      code,
      statusCode: httpStatusFor(code),
      message,
      name: typeof e.name === 'string' ? e.name : 'Error',
    };
  }
  if (e?.code === 'FST_ERR_CTP_BODY_TOO_LARGE' || e?.statusCode === 413) {
    return {
      code: 'PAYLOAD_TOO_LARGE',
      statusCode: 413,
      message: `${message}. Fix: send a smaller body, or start the server with a larger bodyLimit (--body-limit).`,
      name: 'ServerError',
    };
  }
  if (
    e?.validation !== undefined ||
    (typeof e?.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500)
  ) {
    return { code: 'INVALID_ARGUMENT', statusCode: 400, message, name: 'InvalidArgumentError' };
  }
  return {
    code: 'INFERENCE_FAILED',
    statusCode: 500,
    message,
    name: typeof e?.name === 'string' ? e.name : 'Error',
  };
}
