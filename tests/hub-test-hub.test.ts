/**
 * The local test hub (tests/support/test-hub.ts) answers the official `@huggingface/hub` client the way
 * the real hub does: model info with the revision's commit, the tree listing with LFS sha256s, files
 * through `resolve/` (LFS ones redirected to another origin, which never sees the token), and the hub's
 * error codes. Other hub tests rely on it, so its behaviour is pinned here.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { downloadFile, downloadFileToCacheDir, HubApiError, listFiles, modelInfo } from '@huggingface/hub';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  GATED_REPO,
  PRIVATE_REPO,
  PRIVATE_TOKEN,
  SD1_EXTERNAL_REPO,
  SHAPES_REPO,
  TestHub,
} from './support/test-hub.js';

let hub: TestHub;
beforeAll(async () => {
  hub = await TestHub.start();
});
afterAll(async () => {
  await hub.close();
});

const status = async (p: Promise<unknown>): Promise<number> => {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(HubApiError);
  return (err as HubApiError).statusCode;
};

describe('test hub with the official client', () => {
  it('gives each branch its own stable commit, and a commit resolves to itself', async () => {
    const main = await modelInfo({ name: SHAPES_REPO, hubUrl: hub.url, additionalFields: ['sha'] });
    const euler = await modelInfo({
      name: SHAPES_REPO,
      hubUrl: hub.url,
      revision: 'euler',
      additionalFields: ['sha'],
    });
    expect(main.sha).toMatch(/^[0-9a-f]{40}$/);
    expect(main.sha).toBe(hub.commit(SHAPES_REPO));
    expect(euler.sha).toBe(hub.commit(SHAPES_REPO, 'euler'));
    expect(euler.sha).not.toBe(main.sha);
    const byCommit = await modelInfo({
      name: SHAPES_REPO,
      hubUrl: hub.url,
      revision: main.sha,
      additionalFields: ['sha'],
    });
    expect(byCommit.sha).toBe(main.sha);
  });

  it('lists files with git oids, sizes and LFS sha256s', async () => {
    const entries = [];
    for await (const e of listFiles({ repo: SD1_EXTERNAL_REPO, hubUrl: hub.url, recursive: true }))
      entries.push(e);
    const data = entries.find((e) => e.path === 'unet/model.onnx_data');
    const bytes = await readFile(
      new URL('./fixtures/models/sd1-external/unet/model.onnx_data', import.meta.url),
    );
    expect(data?.lfs?.oid).toBe(createHash('sha256').update(bytes).digest('hex'));
    expect(data?.size).toBe(bytes.length);
    const config = entries.find((e) => e.path === 'unet/config.json');
    const configBytes = await readFile(
      new URL('./fixtures/models/sd1-external/unet/config.json', import.meta.url),
    );
    expect(config?.oid).toBe(
      createHash('sha1').update(`blob ${configBytes.length}\0`).update(configBytes).digest('hex'),
    );
    expect(config?.lfs).toBeUndefined();
    expect(entries.some((e) => e.type === 'directory' && e.path === 'unet')).toBe(true);
  });

  it('serves regular files from the hub and LFS files from the CDN origin, token only to the hub', async () => {
    hub.clearRequests();
    const blob = await downloadFile({
      repo: PRIVATE_REPO,
      path: 'unet/model.onnx',
      hubUrl: hub.url,
      accessToken: PRIVATE_TOKEN,
      xet: false,
    });
    const bytes = new Uint8Array(await blob!.arrayBuffer());
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(
      hub.file(PRIVATE_REPO, 'unet/model.onnx').sha256,
    );
    const cdn = hub.requests.filter((r) => r.server === 'cdn');
    const onHub = hub.requests.filter((r) => r.server === 'hub');
    expect(cdn.length).toBeGreaterThan(0);
    expect(onHub.length).toBeGreaterThan(0);
    expect(onHub.every((r) => r.authorization === `Bearer ${PRIVATE_TOKEN}`)).toBe(true);
    expect(cdn.every((r) => r.authorization === undefined)).toBe(true);
  });

  it("downloads into the Python cache layout with the client's own downloadFileToCacheDir", async () => {
    const cacheDir = await mkdtemp(join(tmpdir(), 'latentkit-testhub-'));
    try {
      const commit = hub.commit(SHAPES_REPO);
      const path = await downloadFileToCacheDir({
        repo: SHAPES_REPO,
        path: 'model_index.json',
        revision: commit,
        hubUrl: hub.url,
        cacheDir,
      });
      expect(path).toBe(join(cacheDir, 'models--latentkit--shapes', 'snapshots', commit, 'model_index.json'));
      expect(await readFile(path, 'utf8')).toContain('OnnxStableDiffusionPipeline');
    } finally {
      await rm(cacheDir, { recursive: true, force: true });
    }
  });

  it('answers the hub status codes: 404 repo/revision/file, 401 private, 403 gated', async () => {
    expect(await status(modelInfo({ name: 'latentkit/nope', hubUrl: hub.url }))).toBe(404);
    expect(await status(modelInfo({ name: SHAPES_REPO, hubUrl: hub.url, revision: 'no-such-branch' }))).toBe(
      404,
    );
    expect(await downloadFile({ repo: SHAPES_REPO, path: 'nope.json', hubUrl: hub.url })).toBeNull();
    expect(await status(modelInfo({ name: PRIVATE_REPO, hubUrl: hub.url }))).toBe(401);
    expect(await status(modelInfo({ name: PRIVATE_REPO, hubUrl: hub.url, accessToken: 'hf_wrong' }))).toBe(
      401,
    );
    expect(await status(modelInfo({ name: GATED_REPO, hubUrl: hub.url }))).toBe(403);
    const ok = await modelInfo({
      name: GATED_REPO,
      hubUrl: hub.url,
      accessToken: PRIVATE_TOKEN,
      additionalFields: ['sha'],
    });
    expect(ok.sha).toBe(hub.commit(GATED_REPO));
  });

  it('cuts a body short when told to (the client sees an error or fewer bytes)', async () => {
    const file = hub.file(SHAPES_REPO, 'vae_decoder/model.onnx');
    hub.setFault(SHAPES_REPO, 'vae_decoder/model.onnx', { kind: 'truncate', bytes: 1000 });
    try {
      const blob = await downloadFile({
        repo: SHAPES_REPO,
        path: 'vae_decoder/model.onnx',
        hubUrl: hub.url,
        xet: false,
      });
      const got = await blob!.arrayBuffer().then(
        (b) => b.byteLength,
        () => -1,
      );
      expect(got).not.toBe(file.bytes.length);
    } finally {
      hub.setFault(SHAPES_REPO, 'vae_decoder/model.onnx', undefined);
    }
  });
});
