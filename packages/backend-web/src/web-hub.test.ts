import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { nodeBackend } from '@latentkit/backend-node';
import { type RgbaImage, StableDiffusionPipeline } from '@latentkit/core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { TestHub } from '../../../tests/support/test-hub.js';
import { HttpModelSource } from './http-model-source.js';
import { resolveModelSource } from './hub-source.js';
import { clearCachedModel } from './model-cache.js';
import { connectInProcess } from './test-support/in-process-worker.js';
import {
  installMemoryCaches,
  type MemoryCacheStorage,
  uninstallMemoryCaches,
} from './test-support/memory-cache-storage.js';
import { webBackend } from './web-backend.js';

// Loading by Hugging Face id in the web backend (onnxruntime-web's wasm build, in Node, with the real
// fetch) against a real hub-like server on 127.0.0.1 (tests/support/test-hub.ts): the `.onnx` files are
// Git LFS files there, redirected to a CDN on another origin, as huggingface.co does. The browser's side
// of it (the redirect hidden from the page) is tests/browser/web-hub.test.ts.

const shapes = fileURLToPath(new URL('../../model-shapes/model/', import.meta.url));
const sd1 = fileURLToPath(new URL('../../../tests/fixtures/models/sd1/', import.meta.url));
const TOKEN = 'hf_test_token_not_a_secret_1234';
const REPO = 'latentkit/shapes';
const PRIVATE = 'latentkit/private-shapes';

function maxDifference(a: RgbaImage, b: RgbaImage): number {
  let max = 0;
  for (let i = 0; i < a.data.length; i++) max = Math.max(max, Math.abs(a.data[i]! - b.data[i]!));
  return max;
}

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
const isLfs = (path: string) => path.endsWith('.onnx');

describe('resolveModelSource: ids and hub URLs become resolve/<revision>/ base URLs', () => {
  const hub = 'http://127.0.0.1:9';
  it.each([
    ['org/name', {}, 'https://huggingface.co/org/name/resolve/main/', 'org/name', 'main'],
    ['org/name', { revision: 'v1.0' }, 'https://huggingface.co/org/name/resolve/v1.0/', 'org/name', 'v1.0'],
    [
      'org/name',
      { revision: 'refs/pr/3' },
      'https://huggingface.co/org/name/resolve/refs%2Fpr%2F3/',
      'org/name',
      'refs/pr/3',
    ],
    ['org/name', { hubUrl: `${hub}/` }, `${hub}/org/name/resolve/main/`, 'org/name', 'main'],
    [`${hub}/org/name/tree/dev`, { hubUrl: hub }, `${hub}/org/name/resolve/dev/`, 'org/name', 'dev'],
    [
      `${hub}/org/name/tree/dev/onnx`,
      { hubUrl: hub },
      `${hub}/org/name/resolve/dev/onnx/`,
      'org/name',
      'dev',
    ],
    [
      'https://huggingface.co/org/name/tree/main/onnx',
      {},
      'https://huggingface.co/org/name/resolve/main/onnx/',
      'org/name',
      'main',
    ],
    [
      'https://huggingface.co/org/name',
      { revision: 'refs/pr/3' },
      'https://huggingface.co/org/name/resolve/refs%2Fpr%2F3/',
      'org/name',
      'refs/pr/3',
    ],
  ])('%s %j → %s', (source, options, base, repo, revision) => {
    const resolved = resolveModelSource(source, options);
    expect(resolved.base).toBe(base);
    expect(resolved.hub?.repo).toBe(repo);
    expect(resolved.hub?.revision).toBe(revision);
  });

  it('plain folder URLs are not hub sources; a subfolder of a hub URL is kept', () => {
    expect(resolveModelSource('http://127.0.0.1:9/models/org/name')).toEqual({
      base: 'http://127.0.0.1:9/models/org/name/',
      fromId: false,
    });
    expect(resolveModelSource('https://huggingface.co/org/name/tree/main/onnx').hub?.subfolder).toBe('onnx/');
    expect(resolveModelSource('org/name').fromId).toBe(true);
  });
});

describe('webBackend loads a model by hub id (a local hub with an LFS CDN on another origin)', () => {
  let hub: TestHub;
  let storage: MemoryCacheStorage;

  beforeAll(async () => {
    hub = await TestHub.start([
      {
        id: REPO,
        branches: { main: { folder: shapes }, 'refs/pr/1': { folder: shapes }, v2: { folder: sd1 } },
      },
      { id: PRIVATE, token: TOKEN, branches: { main: { folder: shapes } } },
    ]);
  });
  afterAll(() => hub.close());
  beforeEach(() => {
    hub.reset();
    storage = installMemoryCaches();
  });
  afterEach(uninstallMemoryCaches);

  it('fromPretrained("latentkit/shapes") gives the pixels of onnxruntime-node on the folder (≤ 2/255)', async () => {
    const settings = {
      prompt: 'a red circle on a blue background',
      seed: 42,
      numInferenceSteps: 4,
      guidanceScale: 5,
    };
    const web = await StableDiffusionPipeline.fromPretrained(REPO, {
      backend: webBackend,
      hubUrl: hub.url,
      providers: ['wasm'],
      numThreads: 1,
    });
    const node = await StableDiffusionPipeline.fromPretrained(shapes, { backend: nodeBackend });
    const [a] = (await web.generate(settings)).images;
    const [b] = (await node.generate(settings)).images;
    await web.dispose();
    await node.dispose();
    expect(a!.width).toBe(b!.width);
    expect(maxDifference(a!, b!)).toBeLessThanOrEqual(2);

    // Every hub request was under the repository's resolve/main/; the .onnx files came from the CDN
    // (302 → another origin), verified by the redirect's X-Linked-ETag, so the API was never asked.
    const requests = hub.hubRequests;
    expect(requests.length).toBeGreaterThan(0);
    for (const r of requests) expect(r.url.startsWith(`/${REPO}/resolve/main/`), r.url).toBe(true);
    const cdnFiles = hub.cdnRequests.map((r) => r.url.split('?')[0]);
    const shapesFiles = [...hub.files(REPO).keys()];
    const onnx = shapesFiles.filter(isLfs).filter((f) => requests.some((r) => r.url.endsWith(f)));
    expect(onnx.length).toBeGreaterThanOrEqual(3);
    expect(new Set(cdnFiles)).toEqual(
      new Set(onnx.map((f) => `/lfs/${encodeURIComponent(REPO)}/${sha256(readFileSync(join(shapes, f)))}`)),
    );
  }, 120_000);

  it('a token goes to the hub on every request and never to the CDN, nor into the cache keys', async () => {
    const source = new HttpModelSource(PRIVATE, { hubUrl: hub.url, token: TOKEN });
    expect(await source.readText('model_index.json')).toBe(
      readFileSync(join(shapes, 'model_index.json'), 'utf8'),
    );
    const unet = await source.readBytes('unet/model.onnx');
    expect(sha256(unet)).toBe(sha256(readFileSync(join(shapes, 'unet/model.onnx'))));
    expect(await source.exists('unet/model.onnx')).toBe(true); // from the cache now
    expect(await source.exists('vae_encoder/model.onnx')).toBe(true); // a HEAD answered with a redirect
    expect(await source.exists('unet/model.onnx_data')).toBe(false);

    const requests = hub.hubRequests;
    expect(requests.map((r) => r.authorization)).toEqual(requests.map(() => `Bearer ${TOKEN}`));
    expect(hub.cdnRequests).toHaveLength(1);
    expect(hub.cdnRequests[0]!.authorization).toBeUndefined();
    const keys = [...storage.caches.values()].flatMap((c) => [...c.entries.keys()]);
    expect(keys.length).toBe(3); // two files and the manifest
    for (const key of keys) expect(key).not.toContain(TOKEN);
    for (const cache of storage.caches.values()) {
      for (const entry of cache.entries.values()) {
        expect(Buffer.from(entry.body).includes(TOKEN)).toBe(false);
      }
    }
  });

  it('without X-Linked-ETag on the redirect, the digest comes from the hub paths-info API, with the token', async () => {
    hub.configure({ linkedEtag: false });
    const source = new HttpModelSource(PRIVATE, { hubUrl: hub.url, token: TOKEN, cache: false });
    const bytes = await source.readBytes('vae_decoder/model.onnx');
    expect(sha256(bytes)).toBe(sha256(readFileSync(join(shapes, 'vae_decoder/model.onnx'))));
    const api = hub.hubRequests.filter((r) => r.method === 'POST');
    expect(api).toEqual([
      {
        server: 'hub',
        method: 'POST',
        url: `/api/models/${PRIVATE}/paths-info/main`,
        authorization: `Bearer ${TOKEN}`,
      },
    ]);
    expect(hub.cdnRequests.map((r) => r.authorization)).toEqual([undefined]);
  });

  it('each revision has its own URLs and cache entries: main, v2 and refs/pr/1 never mix', async () => {
    const main = new HttpModelSource(REPO, { hubUrl: hub.url });
    const v2 = new HttpModelSource(REPO, { hubUrl: hub.url, revision: 'v2' });
    const pr = new HttpModelSource(`${hub.url}/${REPO}/tree/refs%2Fpr%2F1`, { hubUrl: hub.url });
    const index = (dir: string) => readFileSync(join(dir, 'model_index.json'), 'utf8');
    expect(await main.readText('model_index.json')).toBe(index(shapes));
    expect(await v2.readText('model_index.json')).toBe(index(sd1));
    expect(await pr.readText('model_index.json')).toBe(index(shapes));
    expect(pr.location).toBe(`${hub.url}/${REPO}/resolve/refs%2Fpr%2F1/`);
    expect(hub.hubRequests.map((r) => r.url)).toEqual([
      `/${REPO}/resolve/main/model_index.json`,
      `/${REPO}/resolve/v2/model_index.json`,
      `/${REPO}/resolve/refs%2Fpr%2F1/model_index.json`,
    ]);
    // A second load of each revision asks nothing: its own cache entries answer.
    hub.clearRequests();
    expect(
      await new HttpModelSource(REPO, { hubUrl: hub.url, revision: 'v2' }).readText('model_index.json'),
    ).toBe(index(sd1));
    expect(await new HttpModelSource(REPO, { hubUrl: hub.url }).readText('model_index.json')).toBe(
      index(shapes),
    );
    expect(hub.hubRequests).toEqual([]);
    // clearCachedModel takes the id and revision too, and drops only that revision.
    expect(await clearCachedModel(REPO, undefined, { hubUrl: hub.url, revision: 'v2' })).toBe(2);
    const left = [...storage.caches.values()].flatMap((c) => [...c.entries.keys()]);
    expect(left.some((k) => k.includes('/resolve/v2/'))).toBe(false);
    expect(left.some((k) => k.includes('/resolve/main/'))).toBe(true);
  });

  it('the generation worker takes a hub id (and its hubUrl) where it takes a model URL', async () => {
    const gen = connectInProcess();
    try {
      const loaded = await gen.load(REPO, { hubUrl: hub.url, providers: ['wasm'], numThreads: 1 });
      expect(loaded.providers.unet).toBe('wasm');
      const result = await gen.generate({ prompt: 'a red circle', seed: 1, numInferenceSteps: 2 });
      expect(result.images).toHaveLength(1);
    } finally {
      gen.terminate();
    }
    expect(hub.hubRequests.every((r) => r.url.startsWith(`/${REPO}/resolve/main/`))).toBe(true);
  }, 120_000);
});
