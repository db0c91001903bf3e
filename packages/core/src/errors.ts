/**
 * Typed errors. Every error latentkit throws on purpose is a {@link LatentkitError} with a stable
 * `code`, so callers can branch on `err.code` instead of parsing messages. Messages name the value,
 * what was expected, and how to fix it.
 */

/** The stable codes of latentkit's errors. See docs/errors.md for each cause and fix. */
export type LatentkitErrorCode =
  | 'INVALID_ARGUMENT'
  | 'SHAPE_MISMATCH'
  | 'NOT_IMPLEMENTED'
  | 'UNKNOWN_SCHEDULER'
  | 'MODEL_NOT_FOUND'
  | 'MODEL_INVALID'
  | 'MODEL_MISMATCH'
  | 'BACKEND_UNAVAILABLE'
  | 'INFERENCE_FAILED'
  | 'NON_FINITE_OUTPUT'
  | 'LIMIT_EXCEEDED'
  | 'DOWNLOAD_FAILED';

/** What went wrong with one value: used to build a consistent message. */
export interface ProblemDetails {
  /** The name of the option or value, e.g. `width` or `generator[1]`. */
  readonly name: string;
  /** The value as received (shown with `JSON.stringify`-like formatting). */
  readonly value?: unknown;
  /** What was expected, e.g. `a multiple of 8`. */
  readonly expected: string;
  /** How to fix it, e.g. `use 512 or 520`. */
  readonly fix?: string;
}

/** Formats a value for an error message: short, and readable for arrays and shapes. */
export function formatValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'bigint') return `${value}n`;
  if (Array.isArray(value)) return `[${value.map(formatValue).join(', ')}]`;
  if (value === undefined) return 'undefined';
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return String(value);
  if (typeof value === 'object' && value !== null && 'shape' in value) {
    return `a tensor of shape ${formatValue((value as { shape: unknown }).shape)}`;
  }
  return Object.prototype.toString.call(value);
}

function describe(details: ProblemDetails): string {
  const got = 'value' in details ? ` = ${formatValue(details.value)}` : '';
  const fix = details.fix ? ` Fix: ${details.fix}` : '';
  return `${details.name}${got} is invalid: expected ${details.expected}.${fix}`;
}

/** Base class of every error latentkit throws on purpose. */
export class LatentkitError extends Error {
  /** A stable, machine-readable code. */
  readonly code: LatentkitErrorCode;
  /** The offending value's details, when the error is about one value. */
  readonly details?: ProblemDetails;

  constructor(
    code: LatentkitErrorCode,
    message: string,
    options?: { cause?: unknown; details?: ProblemDetails },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'LatentkitError';
    this.code = code;
    if (options?.details) this.details = options.details;
  }
}

/** A value passed to an API is out of range or of the wrong kind. */
export class InvalidArgumentError extends LatentkitError {
  override readonly name = 'InvalidArgumentError';

  constructor(details: ProblemDetails | string) {
    if (typeof details === 'string') super('INVALID_ARGUMENT', details);
    else super('INVALID_ARGUMENT', describe(details), { details });
  }
}

/** Tensors or embeddings whose shapes do not fit together. */
export class ShapeMismatchError extends LatentkitError {
  override readonly name = 'ShapeMismatchError';

  constructor(details: ProblemDetails | string) {
    if (typeof details === 'string') super('SHAPE_MISMATCH', details);
    else super('SHAPE_MISMATCH', describe(details), { details });
  }
}

/** A feature or configuration that latentkit does not implement (yet). */
export class NotImplementedError extends LatentkitError {
  override readonly name = 'NotImplementedError';

  constructor(message: string) {
    super('NOT_IMPLEMENTED', message);
  }
}

/** A scheduler name or class that is not in the registry. */
export class UnknownSchedulerError extends LatentkitError {
  override readonly name = 'UnknownSchedulerError';

  constructor(name: string, known: readonly string[]) {
    super(
      'UNKNOWN_SCHEDULER',
      `Unknown scheduler ${JSON.stringify(name)}. Known names: ${known.join(', ')}.`,
      { details: { name: 'scheduler', value: name, expected: `one of ${known.join(', ')}` } },
    );
  }
}

/** A model folder or URL, or a file inside it, that does not exist. */
export class ModelNotFoundError extends LatentkitError {
  override readonly name = 'ModelNotFoundError';

  constructor(message: string, options?: { cause?: unknown }) {
    super('MODEL_NOT_FOUND', message, options);
  }
}

/** A model file or config that exists but cannot be used (bad JSON, unexpected inputs, bad paths). */
export class ModelInvalidError extends LatentkitError {
  override readonly name = 'ModelInvalidError';

  constructor(message: string, options?: { cause?: unknown }) {
    super('MODEL_INVALID', message, options);
  }
}

/** Components of one model that do not fit together (hidden sizes, latent channels, …). */
export class ModelMismatchError extends LatentkitError {
  override readonly name = 'ModelMismatchError';

  constructor(message: string) {
    super('MODEL_MISMATCH', message);
  }
}

/** An execution provider or runtime that is not available here. */
export class BackendUnavailableError extends LatentkitError {
  override readonly name = 'BackendUnavailableError';

  constructor(message: string, options?: { cause?: unknown }) {
    super('BACKEND_UNAVAILABLE', message, options);
  }
}

/** The runtime failed while running a model. */
export class InferenceFailedError extends LatentkitError {
  override readonly name = 'InferenceFailedError';

  constructor(message: string, options?: { cause?: unknown }) {
    super('INFERENCE_FAILED', message, options);
  }
}

/**
 * A computation produced NaN or ±Infinity (a model, a config or inputs that overflow float32). latentkit
 * checks the latents before decoding and never turns non-finite numbers into an image.
 */
export class NonFiniteOutputError extends LatentkitError {
  override readonly name = 'NonFiniteOutputError';
  /** The 0-based denoising step after which non-finite values first appeared, when known. */
  readonly step: number | undefined;

  constructor(message: string, options?: { step?: number; cause?: unknown }) {
    super('NON_FINITE_OUTPUT', message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.step = options?.step;
  }
}

/**
 * A request over one of latentkit's documented limits (pixels per call, images per call, prompt chunks,
 * download size, …), caught before anything is allocated. The message names the limit and how to raise it.
 */
export class LimitExceededError extends LatentkitError {
  override readonly name = 'LimitExceededError';

  constructor(details: ProblemDetails | string) {
    if (typeof details === 'string') super('LIMIT_EXCEEDED', details);
    else super('LIMIT_EXCEEDED', describe(details), { details });
  }
}

/**
 * A download that failed or could not be verified: a network or stream error, a body shorter or longer
 * than announced, or a hash that does not match. Nothing is cached.
 */
export class DownloadFailedError extends LatentkitError {
  override readonly name = 'DownloadFailedError';
  /** The URL that was fetched (without credentials). */
  readonly url: string;

  constructor(url: string, message: string, options?: { cause?: unknown }) {
    super('DOWNLOAD_FAILED', message, options);
    this.url = url;
  }
}
