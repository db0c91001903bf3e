import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  DownloadFailedError,
  InvalidArgumentError,
  type LatentkitError,
  LimitExceededError,
} from '@latentkit/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { webAdapterReader } from './web-adapter-reader.js';

// The browser's adapter reader, run in Node against a real HTTP server on 127.0.0.1 (fetch is the same API).
const BODY = new Uint8Array(Array.from({ length: 1000 }, (_, i) => i % 251));
let server: Server;
let base: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    if (req.url === '/a.safetensors') res.end(BODY);
    else {
      res.statusCode = 404;
      res.end('no');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe('webAdapterReader', () => {
  it('reads an http URL', async () => {
    expect(await webAdapterReader()(`${base}/a.safetensors`)).toEqual(BODY);
  });

  type ErrorClass = new (...args: never[]) => LatentkitError;
  const cases: [string, () => string, { maxFileBytes?: number }, ErrorClass, RegExp][] = [
    [
      'a file: URL',
      () => 'file:///etc/passwd',
      {},
      InvalidArgumentError,
      /adapter URL = "file:\/\/\/etc\/passwd" is invalid: expected an http\(s\) URL/,
    ],
    [
      'a URL with a user name and password',
      () => base.replace('//', '//user:secret@') + '/a.safetensors',
      {},
      InvalidArgumentError,
      /without user name or password/,
    ],
    [
      'a relative path with no page to resolve it against',
      () => 'loras/a.safetensors',
      {},
      InvalidArgumentError,
      /absolute or relative to the page/,
    ],
    ['a 404', () => `${base}/missing.safetensors`, {}, DownloadFailedError, /HTTP 404\. Fix: check the URL/],
    [
      'a server that is not there',
      () => 'http://127.0.0.1:9/a.safetensors',
      {},
      DownloadFailedError,
      /failed: .*Fix: check the URL, the server's CORS headers/,
    ],
    [
      'a file over maxFileBytes',
      () => `${base}/a.safetensors`,
      { maxFileBytes: 100 },
      LimitExceededError,
      /100/,
    ],
  ];
  it.each(cases)('%s → a typed error', async (_what, url, options, error, message) => {
    let thrown: unknown;
    try {
      await webAdapterReader(options)(url());
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(error);
    expect((thrown as Error).message).toMatch(message);
    expect((thrown as Error).message).not.toMatch(/secret/);
  });
});
