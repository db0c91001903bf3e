import { InvalidArgumentError, LatentkitError, type LatentkitErrorCode } from '@latentkit/core';
import { InterruptRequest } from '../run-generation.js';
import { type ErrorCode, ServerError } from '../server-error.js';

/**
 * What the API processes ({@link BullmqQueue}) and the workers ({@link GenerationWorker}) share besides the
 * BullMQ queue itself: connection options, the control channel (cancel, interrupt) and how a job's error
 * travels through Redis with its code.
 */

/** ioredis options for a `redis://host:port[/db]` URL: reconnect within 2 s of Redis coming back. */
export function redisConnection(url: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  if (typeof url !== 'string' || !/^rediss?:\/\/[^/]/.test(url)) {
    throw new InvalidArgumentError({
      name: 'connection',
      value: url,
      expected: 'a redis:// or rediss:// URL',
      fix: 'pass e.g. redis://127.0.0.1:6379 (redis://:password@host:port/db with a password)',
    });
  }
  return {
    url,
    retryStrategy: (times: number) => Math.min(200 * times, 2000),
    ...extra,
  };
}

/** Checks an optional whole-number option: at least `min` when given. */
export function checkWholeOption(owner: string, name: string, value: number | undefined, min: number): void {
  if (value === undefined) return;
  if (!Number.isSafeInteger(value) || value < min) {
    throw new InvalidArgumentError({
      name: `${owner} ${name}`,
      value,
      expected: `a whole number ≥ ${min}`,
      fix: `pass ${name}: ${Math.max(min, 1)} or more, or leave it out for the default`,
    });
  }
}

/** The Redis pub/sub channel the API processes send cancels and interrupts on, per queue. */
export function controlChannel(prefix: string, queueName: string): string {
  return `${prefix}:${queueName}:latentkit:control`;
}

/** The key that marks a job cancelled, for a worker that takes it before the cancel message arrives. */
export function cancelKey(prefix: string, queueName: string, jobId: string): string {
  return `${prefix}:${queueName}:latentkit:cancelled:${jobId}`;
}

/** A message on the control channel. */
export interface ControlMessage {
  /** `cancel` (the client went away: the job fails with CANCELLED) or `interrupt` (A1111: the job returns what it has). */
  type: 'cancel' | 'interrupt';
  /** The job; absent: every running job (interrupt only). */
  jobId?: string;
}

/** The abort reason a cancel reaches the running generation with. */
export function cancelReason(jobId: string): ServerError {
  return new ServerError('CANCELLED', `job ${jobId} was cancelled: the client closed the connection`);
}

/** The abort reason for the control message, on the worker side. */
export function abortReasonFor(message: ControlMessage, jobId: string): Error {
  return message.type === 'interrupt' ? new InterruptRequest() : cancelReason(jobId);
}

const MARK = 'latentkit-error:';

/** A job error as it is stored in the job's `failedReason`. */
interface JobErrorData {
  code: ErrorCode;
  name: string;
  message: string;
  param?: string;
}

/** Writes an error with a code (`LatentkitError`, `ServerError`) as the text a job fails with. */
export function encodeJobError(error: LatentkitError | ServerError): string {
  const data: JobErrorData = { code: error.code, name: error.name, message: error.message };
  if (error instanceof LatentkitError && error.details?.name) data.param = error.details.name;
  return MARK + JSON.stringify(data);
}

const SERVER_CODES = new Set<string>([
  'UNAUTHORIZED',
  'TOO_MANY_REQUESTS',
  'QUEUE_UNAVAILABLE',
  'CANCELLED',
  'NOT_FOUND',
  'PAYLOAD_TOO_LARGE',
  'JOB_FAILED',
]);

/**
 * The error a failed job's `failedReason` stands for: the worker's `LatentkitError` or `ServerError` with
 * its code, name, message and parameter; any other failure (a worker crashed on every try, an unexpected
 * exception) is a `ServerError` JOB_FAILED.
 */
export function decodeJobError(failedReason: string | undefined, jobId: string): Error {
  const text = failedReason ?? '';
  if (text.startsWith(MARK)) {
    try {
      const data = JSON.parse(text.slice(MARK.length)) as JobErrorData;
      let error: Error;
      if (SERVER_CODES.has(data.code)) {
        error = new ServerError(data.code, data.message);
      } else {
        error = new LatentkitError(
          data.code as LatentkitErrorCode,
          data.message,
          data.param ? { details: { name: data.param, expected: '' } } : undefined,
        );
      }
      Object.defineProperty(error, 'name', { value: data.name, configurable: true, writable: true });
      return error;
    } catch {
      // fall through: not ours after all
    }
  }
  return new ServerError(
    'JOB_FAILED',
    `job ${jobId} failed on the workers: ${text || 'no reason given'}. Fix: see the worker logs; the request may be retried.`,
  );
}
