import { DownloadFailedError, InvalidArgumentError } from '@latentkit/core';
import type { AdapterReader } from '@latentkit/onnx';
import { DEFAULT_MAX_FILE_BYTES, readVerifiedBody } from './verified-download.js';

/** Options of {@link webAdapterReader}: the backend's own. */
export interface WebAdapterReaderOptions {
  /** The fetch function (default `globalThis.fetch`). */
  fetch?: typeof fetch;
  /** The largest file read, in bytes (default 4 GiB). */
  maxFileBytes?: number;
}

/** The page's or worker's own URL, to resolve relative adapter URLs against (undefined in Node). */
function documentBase(): string | undefined {
  const location = (globalThis as { location?: { href?: string } }).location;
  return typeof location?.href === 'string' ? location.href : undefined;
}

/**
 * The adapter reader of `webBackend` (see {@link @latentkit/onnx!AdapterReader}): the LoRA or embedding
 * URL, absolute or relative to the page, is fetched (http(s) only, no credentials in the URL: the model's
 * token and request options are not sent with it) and its body read with the backend's size and length
 * checks. Adapter files are not kept in Cache Storage.
 *
 * @throws {@link @latentkit/core!InvalidArgumentError} for a URL that is not http(s) or holds credentials;
 *   {@link @latentkit/core!DownloadFailedError} for a failed download.
 */
export function webAdapterReader(options: WebAdapterReaderOptions = {}): AdapterReader {
  return async (source) => {
    let url: URL;
    try {
      url = new URL(source, documentBase());
    } catch {
      url = new URL('invalid:');
    }
    if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.username || url.password) {
      const credentials = url.username !== '' || url.password !== '';
      throw new InvalidArgumentError({
        name: 'adapter URL',
        // never the credentials themselves in a message
        value: credentials ? `${url.protocol}//…@${url.host}${url.pathname}` : source,
        expected: 'an http(s) URL without user name or password, absolute or relative to the page',
        fix: 'serve the .safetensors file over HTTP, or pass its bytes (a Uint8Array)',
      });
    }
    const href = url.href;
    const fetchFn = options.fetch ?? globalThis.fetch;
    let response: Response;
    try {
      response = await fetchFn(href);
    } catch (cause) {
      throw new DownloadFailedError(
        href,
        `Downloading the adapter file ${href} failed: ${(cause as Error)?.message ?? String(cause)}. Fix: check the URL, the server's CORS headers and the connection.`,
        { cause },
      );
    }
    if (!response.ok) {
      await response.body?.cancel().catch(() => undefined);
      throw new DownloadFailedError(
        href,
        `Downloading the adapter file ${href} failed: HTTP ${response.status}. Fix: check the URL.`,
      );
    }
    const file = url.pathname.split('/').pop() ?? href;
    return readVerifiedBody(response, {
      url: href,
      file,
      maxBytes: options.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES,
    });
  };
}
