/**
 * Everything a user can get wrong when loading by hub id, each a typed error that names the value, what
 * was expected and the fix, and never the token. Runs against the local test hub (real HTTP servers).
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DownloadFailedError,
  InvalidArgumentError,
  type LatentkitError,
  ModelNotFoundError,
  NotImplementedError,
  StableDiffusionPipeline,
} from '@latentkit/core';
import { shapesModelPath } from '@latentkit/model-shapes';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  GATED_REPO,
  PRIVATE_REPO,
  SD1_EXTERNAL_FOLDER,
  SHAPES_MODEL_FOLDER,
  SHAPES_REPO,
  standardRepos,
  TestHub,
} from '../../../../tests/support/test-hub.js';
import { type NodeBackendOptions, nodeBackend } from '../node-backend.js';
import { downloadHubModel } from './download-hub-model.js';

let hub: TestHub;
let cacheDir: string;
const savedEnv = { ...process.env };

const sd1xlIndex = JSON.stringify({
  _class_name: 'StableDiffusionXLPipeline',
  text_encoder_2: ['transformers', 'CLIPTextModelWithProjection'],
});
const unetOnnx = readFileSync(join(SD1_EXTERNAL_FOLDER, 'unet/model.onnx'));

beforeAll(async () => {
  hub = await TestHub.start([
    ...standardRepos(),
    { id: 'latentkit/not-diffusers', branches: { main: { files: { 'README.md': '# a text model\n' } } } },
    {
      id: 'latentkit/no-unet',
      branches: { main: { folder: SHAPES_MODEL_FOLDER, files: { 'unet/model.onnx': null } } },
    },
    {
      id: 'latentkit/sdxl',
      branches: { main: { folder: SHAPES_MODEL_FOLDER, files: { 'model_index.json': sd1xlIndex } } },
    },
    {
      id: 'latentkit/no-weights',
      branches: {
        main: {
          folder: SD1_EXTERNAL_FOLDER,
          files: { 'unet/model.onnx_data': null, 'unet/model.onnx': unetOnnx },
        },
      },
    },
  ]);
  cacheDir = await mkdtemp(join(tmpdir(), 'latentkit-hub-bad-'));
});
afterAll(async () => {
  await hub.close();
  await rm(cacheDir, { recursive: true, force: true });
});
afterEach(() => {
  for (const key of Object.keys(process.env)) if (!(key in savedEnv)) delete process.env[key];
  Object.assign(process.env, savedEnv);
});

async function loadError(source: string, options: NodeBackendOptions = {}): Promise<LatentkitError> {
  const error = await StableDiffusionPipeline.fromPretrained(source, {
    backend: nodeBackend,
    hubUrl: hub.url,
    cacheDir,
    ...options,
  }).then(
    (p) => p.dispose().then(() => undefined),
    (e: unknown) => e,
  );
  expect(error, 'the load should fail').toBeDefined();
  return error as LatentkitError;
}

type Case = [
  name: string,
  source: string,
  options: NodeBackendOptions,
  type: abstract new (...args: never[]) => Error,
  message: RegExp,
];

const cases: Case[] = [
  [
    'a repo the hub does not have (404)',
    'latentkit/nope',
    {},
    ModelNotFoundError,
    /^Hub repository "latentkit\/nope" not found on http:\/\/127\.0\.0\.1:\d+ \(404\)\. Fix: check the id .*\(No local folder .*latentkit\/nope exists either\.\)$/,
  ],
  [
    'a revision the repo does not have (404)',
    SHAPES_REPO,
    { revision: 'no-such-branch' },
    ModelNotFoundError,
    /^Revision "no-such-branch" not found in latentkit\/shapes .*Fix: pass a branch, tag or commit/,
  ],
  [
    'a private repo without a token (401)',
    PRIVATE_REPO,
    {},
    DownloadFailedError,
    /401 Unauthorized \(no token was sent\).*Fix: set HF_TOKEN or pass the token option/,
  ],
  [
    'a private repo with a wrong token (401)',
    PRIVATE_REPO,
    { token: 'hf_wrongWrongWrong' },
    DownloadFailedError,
    /401 Unauthorized \(the token from the token option was refused\)/,
  ],
  [
    'a gated repo whose licence was not accepted (403)',
    GATED_REPO,
    {},
    DownloadFailedError,
    /403 Forbidden.*Fix: accept the model's licence on http:\/\/127\.0\.0\.1:\d+\/latentkit\/shapes-gated/,
  ],
  [
    'a token that is not a hub token',
    SHAPES_REPO,
    { token: 'ghp_notAHubToken' },
    InvalidArgumentError,
    /^token is invalid: expected a Hugging Face access token, which starts with "hf_" \(its value is not shown\)/,
  ],
  [
    'a revision that would leave refs/',
    SHAPES_REPO,
    { revision: '../../escape' },
    InvalidArgumentError,
    /^revision = "\.\.\/\.\.\/escape" is invalid: expected a branch, tag or 40-hex commit/,
  ],
  [
    'a hub URL that is not http(s)',
    SHAPES_REPO,
    { hubUrl: 'ftp://mirror.example' },
    InvalidArgumentError,
    /^hubUrl = "ftp:\/\/mirror\.example" is invalid: expected an http\(s\) URL without credentials/,
  ],
  [
    'a source that is neither a folder nor a hub id',
    './no/such/model/folder',
    {},
    ModelNotFoundError,
    /^Model folder .*no\/such\/model\/folder does not exist, and "\.\/no\/such\/model\/folder" is not a Hugging Face Hub id \("org\/name"\) either\. Fix:/,
  ],
  [
    'a file instead of a folder',
    join(shapesModelPath, 'model_index.json'),
    {},
    ModelNotFoundError,
    /model_index\.json is a file, not a model folder\. Fix:/,
  ],
  [
    'a repo without model_index.json',
    'latentkit/not-diffusers',
    {},
    ModelNotFoundError,
    /has no model_index\.json: it is not a diffusers model repository\. Fix:/,
  ],
  [
    'a repo without unet/model.onnx',
    'latentkit/no-unet',
    {},
    ModelNotFoundError,
    /^unet\/model\.onnx not found in latentkit\/no-unet \(revision "main"\) on .* \(its ONNX files: text_encoder\/model\.onnx, .*\)\. Fix:/,
  ],
  [
    'an SDXL repo without text_encoder_2/model.onnx: refused after model_index.json, before any weights',
    'latentkit/sdxl',
    {},
    ModelNotFoundError,
    /^text_encoder_2\/model\.onnx not found in latentkit\/sdxl \(revision "main"\)/,
  ],
  [
    'a graph whose external weights the repo lacks',
    'latentkit/no-weights',
    {},
    ModelNotFoundError,
    /unet\/model\.onnx in latentkit\/no-weights .* keeps its weights in "model\.onnx_data", but the repository has no unet\/model\.onnx_data/,
  ],
  [
    'a variant the repo does not have',
    SHAPES_REPO,
    { variant: 'fp16' },
    InvalidArgumentError,
    /^variant = "fp16" is invalid: expected a variant that latentkit\/shapes \(revision "main"\) has for text_encoder: text_encoder\/model\.fp16\.onnx or text_encoder\/model_fp16\.onnx\. Fix: leave variant out/,
  ],
  [
    'a malformed variant name',
    SHAPES_REPO,
    { variant: '../fp16' },
    InvalidArgumentError,
    /^variant = "\.\.\/fp16" is invalid: expected a variant name of letters/,
  ],
  [
    'localFilesOnly that is not a boolean',
    SHAPES_REPO,
    { localFilesOnly: 'yes' as unknown as boolean },
    InvalidArgumentError,
    /^localFilesOnly = "yes" is invalid: expected true or false/,
  ],
  [
    'a misspelt hub option',
    SHAPES_REPO,
    { revison: 'main' } as NodeBackendOptions,
    InvalidArgumentError,
    /nodeBackend options key "revison".*did you mean revision\?/,
  ],
];

describe('loading by hub id: bad input', () => {
  for (const [name, source, options, type, message] of cases) {
    it(name, async () => {
      hub.clearRequests();
      const error = await loadError(source, options);
      expect(error).toBeInstanceOf(type);
      expect(error.message).toMatch(message);
      for (const r of hub.requests) expect(r.server === 'cdn' ? r.authorization : undefined).toBeUndefined();
    });
  }

  it('a hub URL naming a folder inside the repository: NotImplementedError in Node, before any request', async () => {
    hub.clearRequests();
    const error = await loadError(`${hub.url}/${SHAPES_REPO}/tree/main/onnx`);
    expect(error).toBeInstanceOf(NotImplementedError);
    expect(error.message).toMatch(
      /names the folder "onnx" inside latentkit\/shapes; in Node latentkit loads a model from the root/,
    );
    expect(hub.requests).toHaveLength(0);
  });

  it('an SDXL repo fetches nothing but model_index.json', async () => {
    hub.clearRequests();
    await loadError('latentkit/sdxl', { cacheDir: join(cacheDir, 'sdxl') });
    const resolved = hub.requests
      .filter((r) => r.url.includes('/resolve/'))
      .map((r) => r.url.split('/').pop());
    expect(new Set(resolved)).toEqual(new Set(['model_index.json']));
  });

  it('a wrong token never appears in a message', async () => {
    const token = 'hf_secretSecretSecret123';
    for (const repo of [PRIVATE_REPO, GATED_REPO, 'latentkit/nope']) {
      const error = await loadError(repo, { token });
      expect(error.message).not.toContain(token);
      expect(JSON.stringify(error.details ?? {})).not.toContain(token);
    }
  });

  it('HF_TOKEN that is not a hub token: an error for hub ids, none for local folders', async () => {
    process.env['HF_TOKEN'] = 'not-a-token';
    const error = await loadError(SHAPES_REPO);
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect(error.message).toMatch(
      /^the token from HF_TOKEN is invalid: expected a Hugging Face access token/,
    );
    expect(error.message).not.toContain('not-a-token');
    const pipe = await StableDiffusionPipeline.fromPretrained(shapesModelPath, { backend: nodeBackend });
    await pipe.dispose();
  });

  it('a server error (500) is a DownloadFailedError that suggests the cache', async () => {
    hub.setFault(SHAPES_REPO, 'vae_decoder/model.onnx', { kind: 'status', status: 500 });
    try {
      const error = await loadError(SHAPES_REPO, { cacheDir: join(cacheDir, 'five-hundred') });
      expect(error).toBeInstanceOf(DownloadFailedError);
      expect(error.message).toMatch(
        /The hub answered 500 for "vae_decoder\/model\.onnx" of latentkit\/shapes .*localFilesOnly: true/,
      );
    } finally {
      hub.setFault(SHAPES_REPO, 'vae_decoder/model.onnx', undefined);
    }
  });

  it('an unreachable hub is a DownloadFailedError naming it', async () => {
    const dead = await TestHub.start([]);
    const url = dead.url;
    await dead.close();
    const error = await loadError(SHAPES_REPO, { hubUrl: url, cacheDir: join(cacheDir, 'dead') });
    expect(error).toBeInstanceOf(DownloadFailedError);
    expect(error.message).toContain(`Could not download latentkit/shapes (revision "main") from ${url}`);
    expect(error.message).toContain('ECONNREFUSED');
  });

  it('downloadHubModel refuses a local path and a misspelt option', async () => {
    await expect(downloadHubModel('./model', { hubUrl: hub.url })).rejects.toThrow(
      /"\.\/model" is not a Hugging Face Hub model id: expected "org\/name"/,
    );
    await expect(downloadHubModel(SHAPES_REPO, { cachedir: cacheDir } as never)).rejects.toBeInstanceOf(
      InvalidArgumentError,
    );
  });

  it('a broken model in the cache is not taken as complete (no request is skipped wrongly)', async () => {
    const dir = join(cacheDir, 'partial');
    await downloadHubModel(SHAPES_REPO, {
      hubUrl: hub.url,
      cacheDir: dir,
      components: ['unet', 'vae_decoder'],
    });
    // a load that needs the text encoder too must go back to the hub
    hub.clearRequests();
    const snap = await downloadHubModel(SHAPES_REPO, { hubUrl: hub.url, cacheDir: dir });
    expect(snap.requested).toBe(true);
    expect(snap.downloaded).toEqual(
      expect.arrayContaining(['text_encoder/model.onnx', 'vae_encoder/model.onnx']),
    );
    expect(snap.downloaded).not.toContain('unet/model.onnx');
  });
});
