import { DownloadFailedError, InvalidArgumentError, LimitExceededError } from '@latentkit/core';

/**
 * The largest model file the web backend downloads unless told otherwise: 4 GiB (2³² bytes). An SD 1.x
 * fp32 UNet's weights are 3.4 GB; onnxruntime-web's WebAssembly build cannot hold more than 4 GiB anyway.
 * Raise it with the `maxFileBytes` option.
 */
export const DEFAULT_MAX_FILE_BYTES = 2 ** 32;

/** What {@link readVerifiedBody} checks a response's body against. */
export interface BodyExpectations {
  /** The file, relative to the model folder (for messages). */
  readonly file: string;
  /** The URL fetched (for messages and {@link @latentkit/core!DownloadFailedError.url}). */
  readonly url: string;
  /** Refuse bodies larger than this many bytes (announced or received). */
  readonly maxBytes: number;
  /** The file's SHA-256 (64 hex digits) when the caller knows it; else the response's `X-Linked-ETag` is used when it is one. */
  readonly sha256?: string | undefined;
  /** Told of each chunk: bytes so far, and the expected total when known. */
  readonly onProgress?: (loaded: number, total: number | undefined) => void;
}

const SHA256 = /^[0-9a-f]{64}$/;

/** Checks a `sha256` option value: 64 hex digits (any case). */
export function checkSha256(name: string, value: unknown): string {
  if (typeof value !== 'string' || !SHA256.test(value.toLowerCase())) {
    throw new InvalidArgumentError({
      name,
      value,
      expected: 'a SHA-256 digest as 64 hex digits',
      fix: 'copy it from `sha256sum <file>` or the file page of the Hugging Face repository',
    });
  }
  return value.toLowerCase();
}

/** Checks the `maxFileBytes` option: a positive safe integer. */
export function checkMaxFileBytes(value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw new InvalidArgumentError({
      name: 'maxFileBytes',
      value,
      expected: 'a whole number of bytes ≥ 1',
      fix: `leave it out for the default (${DEFAULT_MAX_FILE_BYTES} bytes = 4 GiB)`,
    });
  }
  return value;
}

/** A header holding a byte count, or undefined when absent or not a plain decimal number. */
function byteCount(response: Response, header: string): number | undefined {
  const text = response.headers.get(header)?.trim();
  return text !== undefined && /^\d{1,16}$/.test(text) ? Number(text) : undefined;
}

/** Hugging Face's `X-Linked-ETag` (the SHA-256 of an LFS file), when the response carries one. */
export function linkedSha256(response: Response): string | undefined {
  const etag = response.headers
    .get('x-linked-etag')
    ?.trim()
    .replace(/^W\//, '')
    .replace(/"/g, '')
    .toLowerCase();
  return etag !== undefined && SHA256.test(etag) ? etag : undefined;
}

function tooLarge(expect: BodyExpectations, bytes: number, announced: boolean): LimitExceededError {
  return new LimitExceededError({
    name: `the size of ${expect.url}`,
    value: bytes,
    expected: `at most maxFileBytes = ${expect.maxBytes} bytes (${announced ? 'announced by Content-Length' : 'received so far'})`,
    fix: 'check the URL; for a larger model file pass a larger maxFileBytes option',
  });
}

async function sha256Hex(bytes: Uint8Array<ArrayBuffer>): Promise<string | undefined> {
  const subtle = (globalThis.crypto as Crypto | undefined)?.subtle;
  if (!subtle) return undefined;
  const digest = new Uint8Array(await subtle.digest('SHA-256', bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * Reads a response's body and verifies it before anyone may cache it — every download check of the web
 * backend lives here:
 *
 * - a `Content-Length` (or `X-Linked-Size`) over `maxBytes` is refused before any memory is allocated,
 *   and so is a body that grows past `maxBytes` while it streams;
 * - a stream that breaks off (connection closed, `TypeError: terminated`) is a `DownloadFailedError`;
 * - the body's length must equal `Content-Length` (uncompressed responses) and `X-Linked-Size` when given;
 * - the body's SHA-256 must equal the expected one: the caller's (`sha256` option), else Hugging Face's
 *   `X-Linked-ETag` when the response carries one.
 *
 * A truncated gzip body whose transport completed cannot be told from a whole one by fetch (browsers and
 * Node decode leniently); a hash catches it, and the web backend drops what a failed load downloaded.
 *
 * @throws {@link @latentkit/core!LimitExceededError} over `maxBytes`;
 *   {@link @latentkit/core!DownloadFailedError} for a broken, short, long or mismatching body.
 */
export async function readVerifiedBody(
  response: Response,
  expect: BodyExpectations,
): Promise<Uint8Array<ArrayBuffer>> {
  const { url, file } = expect;
  const encoded =
    (response.headers.get('content-encoding') ?? 'identity').trim().toLowerCase() !== 'identity';
  const contentLength = byteCount(response, 'content-length');
  // A compressed response's Content-Length counts compressed bytes: a cap, but not the size of the file.
  let announced = encoded ? undefined : contentLength;
  const linkedSize = byteCount(response, 'x-linked-size');
  const total = announced ?? linkedSize;
  for (const size of [contentLength, linkedSize]) {
    if (size !== undefined && size > expect.maxBytes) {
      await response.body?.cancel().catch(() => undefined);
      throw tooLarge(expect, size, true);
    }
  }
  expect.onProgress?.(0, total);

  let out: Uint8Array<ArrayBuffer>;
  try {
    out = new Uint8Array(total ?? Math.min(1 << 16, expect.maxBytes));
  } catch {
    await response.body?.cancel().catch(() => undefined);
    throw new LimitExceededError({
      name: `the size of ${url}`,
      value: total,
      expected: 'a size this browser can allocate in one ArrayBuffer',
      fix: 'use a smaller model file (e.g. an fp16 export) or a browser/device with more memory',
    });
  }
  let loaded = 0;
  const broken = (why: string, cause?: unknown) =>
    new DownloadFailedError(
      url,
      `Download of "${file}" from ${url} ${why} after ${loaded}${total !== undefined ? ` of ${total}` : ''} bytes; nothing was cached. Fix: check the connection and the server, then load again.`,
      cause === undefined ? undefined : { cause },
    );

  if (response.body) {
    const reader = response.body.getReader();
    for (;;) {
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await reader.read();
      } catch (error) {
        throw broken(`broke off (${(error as Error)?.message ?? String(error)})`, error);
      }
      if (chunk.done) break;
      const value = chunk.value;
      if (loaded + value.length > expect.maxBytes) {
        await reader.cancel().catch(() => undefined);
        throw tooLarge(expect, loaded + value.length, false);
      }
      if (announced !== undefined && loaded + value.length > announced) {
        // HTTP cannot deliver more than Content-Length: the browser decoded a compressed body whose
        // Content-Encoding CORS hides from us. Its length cannot be checked (a hash still can).
        announced = undefined;
      }
      if (loaded + value.length > out.length) {
        const grown = new Uint8Array(
          Math.min(expect.maxBytes, Math.max(out.length * 2, loaded + value.length)),
        );
        grown.set(out.subarray(0, loaded));
        out = grown;
      }
      out.set(value, loaded);
      loaded += value.length;
      expect.onProgress?.(loaded, total);
    }
  }
  if (announced !== undefined && loaded !== announced)
    throw broken('ended early (Content-Length not reached)');
  if (linkedSize !== undefined && loaded !== linkedSize)
    throw broken(`ended with a size other than X-Linked-Size`);
  const bytes = loaded === out.length ? out : out.slice(0, loaded);

  const wanted = expect.sha256 ?? linkedSha256(response);
  if (wanted !== undefined) {
    const got = await sha256Hex(bytes);
    if (got === undefined) {
      if (expect.sha256 !== undefined) {
        throw new DownloadFailedError(
          url,
          `Cannot verify the SHA-256 of "${file}" from ${url}: this page has no crypto.subtle (it is not a secure context). Fix: serve the page over https or from localhost, or drop the sha256 option for this file.`,
        );
      }
    } else if (got !== wanted) {
      throw new DownloadFailedError(
        url,
        `Download of "${file}" from ${url} does not match its SHA-256: expected ${wanted}, got ${got} (${loaded} bytes; a truncated or altered file); nothing was cached. Fix: load again; if it persists, check the server's file and the sha256 you passed.`,
      );
    }
  }
  return bytes;
}
