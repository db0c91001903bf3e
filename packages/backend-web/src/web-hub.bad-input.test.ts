import { fileURLToPath } from 'node:url';
import {
  DownloadFailedError,
  InvalidArgumentError,
  LatentkitError,
  ModelNotFoundError,
} from '@latentkit/core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { TestHub } from '../../../tests/support/test-hub.js';
import { HttpModelSource } from './http-model-source.js';
import {
  installMemoryCaches,
  type MemoryCacheStorage,
  uninstallMemoryCaches,
} from './test-support/memory-cache-storage.js';
import { webBackend } from './web-backend.js';

// Hub ids in the web backend, done wrong: bad ids, revisions, hub URLs and tokens are refused before any
// request; the hub's 404 and 401 answers, a redirect whose bytes cannot be verified, bytes that do not
// match, and a revision that moved between two downloads are typed errors that name the value and the
// fix — never the token — and leave nothing in the cache.

const shapes = fileURLToPath(new URL('../../model-shapes/model/', import.meta.url));
const sd1 = fileURLToPath(new URL('../../../tests/fixtures/models/sd1/', import.meta.url));
const TOKEN = 'hf_test_token_not_a_secret_5678';
const REPO = 'latentkit/shapes';
const PRIVATE = 'latentkit/private-shapes';

async function failure(promise: Promise<unknown>): Promise<LatentkitError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(LatentkitError);
  return error as LatentkitError;
}

describe('hub ids, revisions, hub URLs and tokens that cannot be right: refused before any request', () => {
  let hub: TestHub;
  beforeAll(async () => {
    hub = await TestHub.start([{ id: REPO, branches: { main: { folder: shapes } } }]);
  });
  afterAll(() => hub.close());
  afterEach(() => expect(hub.requests).toEqual([]));

  it.each([
    ['org--x/name', /"--"/],
    ['-org/name', /not starting or ending/],
    ['org/name.', /not starting or ending/],
    ['org/na..me', /"\.\."/],
    ['my org/name', /letters, digits/],
    [`org/${'x'.repeat(97)}`, /at most 96/],
  ])('the id %j: InvalidArgumentError naming the hub rules', async (id, rule) => {
    const error = await failure(webBackend.load(id, { hubUrl: hub.url }));
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect(error.message).toContain(JSON.stringify(id));
    expect(error.message).toMatch(rule);
    expect(error.message).toMatch(/Fix: .*"\.\/org\/name"/);
  });

  it.each([
    ['', 'an empty revision'],
    ['..', 'a ".." revision (it would climb out of the repository)'],
    [' main', 'surrounding spaces'],
    ['ma\nin', 'a control character'],
    [42, 'not a string'],
  ])('the revision %j (%s): InvalidArgumentError', async (revision, _why) => {
    const error = await failure(webBackend.load(REPO, { hubUrl: hub.url, revision: revision as string }));
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect(error.message).toMatch(/revision/);
    expect(error.message).toMatch(/Fix: .*"main"/);
  });

  it.each([
    ['ftp://hub.example', /http\(s\)/],
    ['https://user:pass@hub.example', /without a user name or password/],
    ['https://hub.example/?mirror=1', /without a query/],
    ['not a url', /absolute http\(s\) URL/],
  ])('the hubUrl %j: InvalidArgumentError', async (hubUrl, rule) => {
    const error = await failure(webBackend.load(REPO, { hubUrl }));
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect(error.message).toMatch(/hubUrl/);
    expect(error.message).toMatch(rule);
  });

  it.each([
    ['', 'empty'],
    [`Bearer ${TOKEN}`, 'with "Bearer " in it'],
    [`${TOKEN}\r\nX-Evil: 1`, 'a header injection'],
  ])('the token %j (%s): InvalidArgumentError that does not repeat it', async (token, _why) => {
    const error = await failure(webBackend.load(REPO, { hubUrl: hub.url, token }));
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect(error.message).toMatch(/token/);
    expect(error.message).toMatch(/not shown/);
    if (token !== '') expect(error.message).not.toContain(TOKEN);
  });
});

describe('what the hub answers, done wrong: typed errors, the token never in them, nothing cached', () => {
  let hub: TestHub;
  let storage: MemoryCacheStorage;
  const cachedKeys = () => [...storage.caches.values()].flatMap((c) => [...c.entries.keys()]);

  beforeAll(async () => {
    hub = await TestHub.start([
      { id: REPO, branches: { main: { folder: shapes }, v2: { folder: sd1 } } },
      { id: PRIVATE, token: TOKEN, branches: { main: { folder: shapes } } },
    ]);
  });
  afterAll(() => hub.close());
  beforeEach(() => {
    hub.reset();
    storage = installMemoryCaches();
  });
  afterEach(uninstallMemoryCaches);

  it('a repository the hub does not have (asked with a token): ModelNotFoundError naming the id and revision', async () => {
    const error = await failure(
      webBackend.load('latentkit/no-such-model', { hubUrl: hub.url, token: TOKEN }),
    );
    expect(error).toBeInstanceOf(ModelNotFoundError);
    expect(error.message).toMatch(/HTTP 404.*RepoNotFound/);
    expect(error.message).toContain('"latentkit/no-such-model"');
    expect(error.message).toContain('revision "main"');
    expect(error.message).not.toContain(TOKEN);
  });

  it('a revision the repository does not have: ModelNotFoundError naming it', async () => {
    const error = await failure(webBackend.load(REPO, { hubUrl: hub.url, revision: 'v9' }));
    expect(error).toBeInstanceOf(ModelNotFoundError);
    expect(error.message).toMatch(/RevisionNotFound/);
    expect(error.message).toContain('revision "v9"');
    expect(error.message).toMatch(/Fix: check the repository id "latentkit\/shapes" and the revision "v9"/);
  });

  it('a private repository without a token (401): DownloadFailedError saying to pass the token option', async () => {
    const error = await failure(webBackend.load(PRIVATE, { hubUrl: hub.url }));
    expect(error).toBeInstanceOf(DownloadFailedError);
    expect(error.message).toMatch(/HTTP 401/);
    expect(error.message).toMatch(/pass the token option/);
    expect(hub.hubRequests.map((r) => r.authorization)).toEqual([undefined]);
  });

  it('a private repository with a wrong token (401): DownloadFailedError "refused the token", the token not shown', async () => {
    const wrong = 'hf_wrong_token_0000';
    const error = await failure(webBackend.load(PRIVATE, { hubUrl: hub.url, token: wrong }));
    expect(error).toBeInstanceOf(DownloadFailedError);
    expect(error.message).toMatch(/HTTP 401/);
    expect(error.message).toMatch(/refused the token/);
    expect(error.message).not.toContain(wrong);
    expect(JSON.stringify(error)).not.toContain(wrong);
    expect(hub.hubRequests.map((r) => r.authorization)).toEqual([`Bearer ${wrong}`]);
  });

  it('a redirect off the base URL with no X-Linked-ETag and no paths-info API: refused, the CDN never asked', async () => {
    hub.configure({ linkedEtag: false, pathsInfo: false });
    const source = new HttpModelSource(PRIVATE, { hubUrl: hub.url, token: TOKEN });
    const error = await failure(source.readBytes('unet/model.onnx'));
    expect(error).toBeInstanceOf(DownloadFailedError);
    expect(error.message).toContain(`redirected it to ${hub.cdnUrl}`);
    expect(error.message).toMatch(/cannot be verified and are not fetched/);
    expect(error.message).toMatch(/paths-info API answered HTTP 404/);
    expect(error.message).toMatch(/Fix: pass its digest as the sha256 option/);
    expect(error.message).not.toContain(TOKEN);
    expect(hub.cdnRequests).toEqual([]);
    expect(cachedKeys().filter((k) => k.endsWith('.onnx'))).toEqual([]);
  });

  it('… and with the sha256 option the same redirect is followed and verified', async () => {
    hub.configure({ linkedEtag: false, pathsInfo: false });
    const { createHash } = await import('node:crypto');
    const { readFileSync } = await import('node:fs');
    const digest = createHash('sha256')
      .update(readFileSync(`${shapes}unet/model.onnx`))
      .digest('hex');
    const source = new HttpModelSource(PRIVATE, {
      hubUrl: hub.url,
      token: TOKEN,
      sha256: { 'unet/model.onnx': digest },
    });
    expect((await source.readBytes('unet/model.onnx')).length).toBeGreaterThan(1000);
    expect(hub.cdnRequests.map((r) => r.authorization)).toEqual([undefined]);
  });

  it('the CDN serves bytes other than the hub says (X-Linked-ETag): DownloadFailedError, nothing cached', async () => {
    hub.setFault(REPO, 'unet/model.onnx', { kind: 'corrupt' });
    const error = await failure(new HttpModelSource(REPO, { hubUrl: hub.url }).readBytes('unet/model.onnx'));
    expect(error).toBeInstanceOf(DownloadFailedError);
    expect(error.message).toMatch(/does not match its SHA-256/);
    expect(cachedKeys()).toEqual([]);
  });

  it('the CDN serves bytes other than the paths-info API says: DownloadFailedError, nothing cached', async () => {
    hub.setFault(REPO, 'vae_decoder/model.onnx', { kind: 'corrupt' });
    hub.configure({ linkedEtag: false });
    const error = await failure(
      new HttpModelSource(REPO, { hubUrl: hub.url }).readBytes('vae_decoder/model.onnx'),
    );
    expect(error).toBeInstanceOf(DownloadFailedError);
    expect(error.message).toMatch(/does not match its SHA-256/);
    expect(hub.hubRequests.filter((r) => r.method === 'POST')).toHaveLength(1);
    expect(cachedKeys()).toEqual([]);
  });

  it('a revision that moves on the hub between two downloads: DownloadFailedError, the revision cache dropped', async () => {
    hub.moveBranch(REPO, 'main', 'a'.repeat(40));
    const first = new HttpModelSource(REPO, { hubUrl: hub.url });
    await first.readText('model_index.json');
    await first.readText('unet/config.json');
    expect(cachedKeys()).toHaveLength(3);
    hub.moveBranch(REPO, 'main', 'b'.repeat(40));
    // A later load: model_index.json comes from the cache (commit a…), the next file from commit b….
    const second = new HttpModelSource(REPO, { hubUrl: hub.url });
    await second.readText('model_index.json');
    const error = await failure(second.readText('text_encoder/config.json'));
    expect(error).toBeInstanceOf(DownloadFailedError);
    expect(error.message).toContain(`came from commit ${'b'.repeat(40)}`);
    expect(error.message).toContain(`came from commit ${'a'.repeat(40)}`);
    expect(error.message).toMatch(/2 cached files of this revision were dropped/);
    expect(error.message).toMatch(/Fix: load again/);
    expect(cachedKeys()).toEqual([]);
    // Loading again downloads commit b… whole.
    const third = new HttpModelSource(REPO, { hubUrl: hub.url });
    await third.readText('model_index.json');
    await third.readText('text_encoder/config.json');
    expect(cachedKeys()).toHaveLength(3);
  });

  it('revision v2 never answers from the cache of main (a different model), nor main from v2', async () => {
    const main = await new HttpModelSource(REPO, { hubUrl: hub.url }).readText('model_index.json');
    const v2 = await new HttpModelSource(REPO, { hubUrl: hub.url, revision: 'v2' }).readText(
      'model_index.json',
    );
    expect(v2).not.toBe(main);
    expect(hub.hubRequests.map((r) => r.url)).toEqual([
      `/${REPO}/resolve/main/model_index.json`,
      `/${REPO}/resolve/v2/model_index.json`,
    ]);
  });
});
