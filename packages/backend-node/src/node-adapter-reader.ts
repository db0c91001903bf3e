import { readFile, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import {
  DownloadFailedError,
  InvalidArgumentError,
  LimitExceededError,
  ModelNotFoundError,
} from '@latentkit/core';
import type { AdapterReader } from '@latentkit/onnx';

/**
 * The largest LoRA or embedding file read (2 GiB): community LoRAs are 2–800 MB, embeddings a few KB; a
 * larger file is a full model or a mistake, refused before it is read.
 */
export const MAX_ADAPTER_BYTES = 2 ** 31;

function tooLarge(what: string, size: number): LimitExceededError {
  return new LimitExceededError({
    name: `the size of ${what}`,
    value: size,
    expected: `at most ${MAX_ADAPTER_BYTES} bytes (a LoRA or embedding file; full models are loaded with fromPretrained)`,
    fix: 'pass the LoRA or embedding file, not a model checkpoint',
  });
}

/** The URL without user name and password, for messages. */
function shown(source: string): string {
  try {
    const url = new URL(source);
    url.username = '';
    url.password = '';
    return url.href;
  } catch {
    return source.replace(/\/\/[^/@]*@/, '//…@');
  }
}

async function readUrl(source: string): Promise<Uint8Array> {
  const url = shown(source);
  if (url !== source && /\/\/[^/]*@/.test(source)) {
    throw new InvalidArgumentError({
      name: 'adapter URL',
      value: url.replace('//', '//…@'),
      expected: 'an http(s) URL without user name or password (fetch refuses them)',
      fix: 'download the file and pass its path, or serve it without credentials in the URL',
    });
  }
  let response: Response;
  try {
    response = await fetch(source, { redirect: 'follow' });
  } catch (cause) {
    throw new DownloadFailedError(
      url,
      `Downloading the adapter file ${url} failed: ${(cause as Error)?.message ?? String(cause)}. Fix: check the URL and the connection, or download the file and pass its path.`,
      { cause },
    );
  }
  if (!response.ok) {
    await response.body?.cancel().catch(() => undefined);
    throw new DownloadFailedError(
      url,
      `Downloading the adapter file ${url} failed: HTTP ${response.status} ${response.statusText}. Fix: check the URL (a private file needs to be downloaded first and passed by path).`,
    );
  }
  const length = Number(response.headers.get('content-length') ?? Number.NaN);
  if (length > MAX_ADAPTER_BYTES) {
    await response.body?.cancel().catch(() => undefined);
    throw tooLarge(url, length);
  }
  let bytes: ArrayBuffer;
  try {
    bytes = await response.arrayBuffer();
  } catch (cause) {
    throw new DownloadFailedError(
      url,
      `Downloading the adapter file ${url} broke off: ${(cause as Error)?.message ?? String(cause)}. Fix: check the connection and try again.`,
      { cause },
    );
  }
  if (Number.isFinite(length) && bytes.byteLength !== length) {
    throw new DownloadFailedError(
      url,
      `Downloading the adapter file ${url} gave ${bytes.byteLength} bytes, but the server announced ${length}. Fix: try again.`,
    );
  }
  return new Uint8Array(bytes);
}

/**
 * The adapter reader of `nodeBackend` (see {@link @latentkit/onnx!AdapterReader}): an `http://` or
 * `https://` URL is fetched; anything else is a file path, relative to the working directory.
 *
 * @throws {@link @latentkit/core!ModelNotFoundError} for a path that is not a file;
 *   {@link @latentkit/core!InvalidArgumentError} for a URL with a user name or password;
 *   {@link @latentkit/core!DownloadFailedError} for a failed download;
 *   {@link @latentkit/core!LimitExceededError} for a file over {@link MAX_ADAPTER_BYTES}.
 */
export const nodeAdapterReader: AdapterReader = async (source) => {
  if (/^https?:\/\//i.test(source)) return readUrl(source);
  const path = resolve(source);
  const info = await stat(path).catch(() => undefined);
  if (!info?.isFile()) {
    throw new ModelNotFoundError(
      `The adapter file ${source} ${info ? 'is not a file' : 'does not exist'} (looked for ${path}). Fix: pass the path of a .safetensors LoRA or embedding file, or its http(s) URL.`,
    );
  }
  if (info.size > MAX_ADAPTER_BYTES) throw tooLarge(source, info.size);
  return new Uint8Array(await readFile(path));
};
