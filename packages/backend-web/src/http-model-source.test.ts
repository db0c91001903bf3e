import { DownloadFailedError, ModelNotFoundError } from '@latentkit/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type DownloadProgress, HttpModelSource } from './http-model-source.js';
import { clearCachedModel, clearModelCache, listCachedModels } from './model-cache.js';
import { installMemoryCaches, uninstallMemoryCaches } from './test-support/memory-cache-storage.js';

const BASE = 'https://models.example/sd/';
const FILES: Record<string, Uint8Array> = {
  'model_index.json': new TextEncoder().encode('{"_class_name": "StableDiffusionPipeline"}'),
  'unet/model.onnx': new Uint8Array(100_000).map((_, i) => i % 251),
};

/** A fake server: FILES, in 4 KiB chunks with Content-Length (or without, when told), logging requests. */
function fakeFetch(log: string[], options: { contentLength?: boolean } = {}): typeof fetch {
  return (async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = String(input);
    const method = init?.method ?? 'GET';
    log.push(`${method} ${url}`);
    const body = FILES[url.slice(BASE.length)];
    if (!body) return new Response(null, { status: 404, statusText: 'Not Found' });
    const headers: Record<string, string> =
      options.contentLength === false ? {} : { 'content-length': String(body.length) };
    if (method === 'HEAD') return new Response(null, { status: 200, headers });
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < body.length; i += 4096) controller.enqueue(body.slice(i, i + 4096));
        controller.close();
      },
    });
    return new Response(stream, { status: 200, headers });
  }) as typeof fetch;
}

describe('HttpModelSource', () => {
  beforeEach(() => {
    installMemoryCaches();
  });
  afterEach(uninstallMemoryCaches);

  it('downloads with progress per file and in total, from Content-Length', async () => {
    const log: string[] = [];
    const events: DownloadProgress[] = [];
    const source = new HttpModelSource(BASE, { fetch: fakeFetch(log), onProgress: (p) => events.push(p) });
    const [a, b] = await Promise.all([
      source.readBytes('unet/model.onnx'),
      source.readText('model_index.json'),
    ]);
    expect(a).toEqual(FILES['unet/model.onnx']);
    expect(b).toContain('StableDiffusionPipeline');
    const unet = events.filter((e) => e.file === 'unet/model.onnx');
    // 100 000 bytes in 4096-byte chunks: 25 chunk reports, a start and an end.
    expect(unet.length).toBe(27);
    expect(unet[0]).toMatchObject({ loaded: 0, total: 100_000, done: false, fromCache: false });
    expect(unet[1]).toMatchObject({ loaded: 4096, total: 100_000 });
    expect(unet.at(-1)).toMatchObject({ loaded: 100_000, total: 100_000, done: true });
    const last = events.at(-1)!;
    expect(last.totalLoaded).toBe(100_000 + FILES['model_index.json']!.length);
    expect(last.totalBytes).toBe(last.totalLoaded);
    expect(events.every((e) => e.totalLoaded <= e.totalBytes)).toBe(true);
  });

  it('without Content-Length: total is undefined until the file is done', async () => {
    const events: DownloadProgress[] = [];
    const source = new HttpModelSource(BASE, {
      fetch: fakeFetch([], { contentLength: false }),
      onProgress: (p) => events.push(p),
      cache: false,
    });
    await source.readBytes('unet/model.onnx');
    expect(events[1]).toMatchObject({ loaded: 4096, total: undefined, totalBytes: 4096 });
    expect(events.at(-1)).toMatchObject({ loaded: 100_000, total: 100_000, done: true });
  });

  it('a second source for the same URL downloads nothing: files come from the cache, absences are asked again', async () => {
    const log: string[] = [];
    const first = new HttpModelSource(BASE, { fetch: fakeFetch(log) });
    expect(await first.exists('unet/model.onnx')).toBe(true);
    expect(await first.exists('unet/config.json')).toBe(false);
    await first.readBytes('unet/model.onnx');
    expect(log).toEqual([
      `HEAD ${BASE}unet/model.onnx`,
      `HEAD ${BASE}unet/config.json`,
      `GET ${BASE}unet/model.onnx`,
    ]);

    log.length = 0;
    const events: DownloadProgress[] = [];
    const second = new HttpModelSource(`${BASE}?ignored`, {
      fetch: fakeFetch(log),
      onProgress: (p) => events.push(p),
    });
    expect(await second.exists('unet/model.onnx')).toBe(true);
    expect(await second.exists('unet/config.json')).toBe(false);
    expect(await second.readBytes('unet/model.onnx')).toEqual(FILES['unet/model.onnx']);
    // A 404 is not remembered across loads: the file may have appeared since.
    expect(log).toEqual([`HEAD ${BASE}unet/config.json`]);
    expect(events).toEqual([
      expect.objectContaining({ file: 'unet/model.onnx', loaded: 100_000, fromCache: true, done: true }),
    ]);
  });

  it('lists and clears cached models', async () => {
    await new HttpModelSource(BASE, { fetch: fakeFetch([]) }).readBytes('unet/model.onnx');
    await new HttpModelSource('https://models.example/other', { fetch: fakeFetch([]) }).exists('x.json');
    const models = await listCachedModels();
    expect(models.map((m) => m.url)).toEqual(['https://models.example/other/', BASE]);
    expect(models[1]).toMatchObject({ files: ['unet/model.onnx'], totalBytes: 100_000 });

    expect(await clearCachedModel(BASE)).toBe(2); // the file and the manifest
    expect((await listCachedModels()).map((m) => m.url)).toEqual(['https://models.example/other/']);
    const log: string[] = [];
    await new HttpModelSource(BASE, { fetch: fakeFetch(log) }).readBytes('unet/model.onnx');
    expect(log).toEqual([`GET ${BASE}unet/model.onnx`]);

    expect(await clearModelCache()).toBe(true);
    expect(await listCachedModels()).toEqual([]);
  });

  it('concurrent reads of one file download it once', async () => {
    const log: string[] = [];
    const source = new HttpModelSource(BASE, { fetch: fakeFetch(log), cache: false });
    await Promise.all([source.readBytes('unet/model.onnx'), source.readBytes('unet/model.onnx')]);
    expect(log).toEqual([`GET ${BASE}unet/model.onnx`]);
  });

  it('a missing file is a ModelNotFoundError naming the file, the URL and the HTTP status', async () => {
    const source = new HttpModelSource(BASE, { fetch: fakeFetch([]) });
    const error = await source.readBytes('vae/model.onnx').catch((e) => e);
    expect(error).toBeInstanceOf(ModelNotFoundError);
    expect(error.message).toContain(`${BASE}vae/model.onnx`);
    expect(error.message).toContain('HTTP 404');
  });

  it('an HTML page answered for a missing file (single-page-app fallback) counts as missing', async () => {
    const spa = (async () =>
      new Response('<!doctype html><title>app</title>', {
        status: 200,
        headers: { 'content-type': 'text/html; charset=utf-8' },
      })) as typeof fetch;
    const source = new HttpModelSource(BASE, { fetch: spa });
    expect(await source.exists('vae/config.json')).toBe(false);
    await expect(source.readText('unet/config.json')).rejects.toThrow(/answered with an HTML page/);
  });

  it('a network failure is a DownloadFailedError that says so', async () => {
    const source = new HttpModelSource(BASE, {
      fetch: (async () => {
        throw new TypeError('Failed to fetch');
      }) as typeof fetch,
    });
    const error = await source.exists('model_index.json').catch((e) => e);
    expect(error).toBeInstanceOf(DownloadFailedError);
    expect(error.message).toMatch(/Could not fetch .*Failed to fetch/);
  });

  it('refuses paths that leave the model folder', async () => {
    const source = new HttpModelSource(BASE, { fetch: fakeFetch([]) });
    await expect(source.readBytes('../secret')).rejects.toMatchObject({ code: 'MODEL_INVALID' });
  });
});
