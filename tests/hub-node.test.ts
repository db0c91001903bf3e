/**
 * Loading by Hugging Face Hub id in Node (issue 17 item 1), against the local test hub
 * (tests/support/test-hub.ts: a real HTTP server with an LFS CDN on another origin) — the same code path
 * a user's `fromPretrained('org/name')` takes against huggingface.co. Each test has its own cache folder.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import {
  lstat,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  readlink,
  rm,
  symlink,
  utimes,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  downloadHubModel,
  type HubDownloadProgress,
  loadPipeline,
  type NodeBackendOptions,
  nodeBackend,
} from '@latentkit/backend-node';
import {
  DownloadFailedError,
  ModelNotFoundError,
  type RgbaImage,
  StableDiffusionPipeline,
} from '@latentkit/core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  GATED_REPO,
  PRIVATE_REPO,
  PRIVATE_TOKEN,
  SD1_EXTERNAL_FOLDER,
  SD1_EXTERNAL_REPO,
  SHAPES_REPO,
  standardRepos,
  TestHub,
  UNNEEDED_FILES,
} from './support/test-hub.js';

let hub: TestHub;
const caches: string[] = [];
const savedEnv = { ...process.env };

const SD1 = fileURLToPath(new URL('./fixtures/models/sd1', import.meta.url));
const SD1_FP16 = fileURLToPath(new URL('./fixtures/models/sd1-fp16', import.meta.url));
const fp16 = (component: string) => readFileSync(join(SD1_FP16, component, 'model.onnx'));
/** The sd1 fixture with fp16 graphs beside the fp32 ones, named both ways ONNX repos name them. */
const VARIANTS_REPO = 'latentkit/sd1-variants';

beforeAll(async () => {
  hub = await TestHub.start([
    ...standardRepos(),
    {
      id: VARIANTS_REPO,
      branches: {
        main: {
          folder: SD1,
          files: {
            'text_encoder/model.fp16.onnx': fp16('text_encoder'),
            'unet/model_fp16.onnx': fp16('unet'),
            'vae_decoder/model.fp16.onnx': fp16('vae_decoder'),
          },
        },
      },
    },
  ]);
});
afterAll(async () => {
  await hub.close();
  await Promise.all(caches.map((c) => rm(c, { recursive: true, force: true })));
});
afterEach(() => {
  for (const key of Object.keys(process.env)) if (!(key in savedEnv)) delete process.env[key];
  Object.assign(process.env, savedEnv);
  hub.clearRequests();
});

async function newCache(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'latentkit-hub-cache-'));
  caches.push(dir);
  return dir;
}

const prompt = 'a red circle on a blue background';
async function render(pipe: StableDiffusionPipeline): Promise<RgbaImage> {
  const { images } = await pipe.generate({ prompt, seed: 7, numInferenceSteps: 4, guidanceScale: 4 });
  return (images as RgbaImage[])[0]!;
}

async function load(source: string, options: NodeBackendOptions): Promise<StableDiffusionPipeline> {
  return StableDiffusionPipeline.fromPretrained(source, { backend: nodeBackend, ...options });
}

/** Every file under a folder (links not followed), relative, sorted. */
async function listTree(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
      const full = join(dir, e.name);
      if (e.isDirectory()) await walk(full);
      else out.push(relative(root, full).split('\\').join('/'));
    }
  };
  await walk(root);
  return out.sort();
}

describe('fromPretrained by hub id', () => {
  it('downloads the shipped model by id into the Python cache layout and draws the same image as the folder', async () => {
    const cacheDir = await newCache();
    const events: HubDownloadProgress[] = [];
    const pipe = await load(SHAPES_REPO, { hubUrl: hub.url, cacheDir, onProgress: (p) => events.push(p) });
    const fromHub = await render(pipe);
    await pipe.dispose();
    const local = await loadPipeline();
    const fromFolder = await render(local);
    await local.dispose();
    expect(fromHub.width).toBe(32);
    expect(Buffer.from(fromHub.data).equals(Buffer.from(fromFolder.data))).toBe(true);
    // a real image: not one flat colour
    expect(new Set(fromHub.data).size).toBeGreaterThan(8);

    const commit = hub.commit(SHAPES_REPO);
    const repoDir = join(cacheDir, 'models--latentkit--shapes');
    expect(await readFile(join(repoDir, 'refs', 'main'), 'utf8')).toBe(commit);
    const snapshot = join(repoDir, 'snapshots', commit);
    const unet = hub.file(SHAPES_REPO, 'unet/model.onnx');
    expect(await readlink(join(snapshot, 'unet/model.onnx'))).toBe(`../../../blobs/${unet.sha256}`);
    const config = hub.file(SHAPES_REPO, 'model_index.json');
    expect(await readlink(join(snapshot, 'model_index.json'))).toBe(`../../blobs/${config.gitOid}`);
    const blob = await readFile(join(repoDir, 'blobs', unet.sha256));
    expect(createHash('sha256').update(blob).digest('hex')).toBe(unet.sha256);

    // only what the pipeline reads: no README, PyTorch weights, safety checker or model card images
    const files = await listTree(snapshot);
    for (const unneeded of Object.keys(UNNEEDED_FILES)) expect(files).not.toContain(unneeded);
    expect(files).not.toContain('heldout.json');
    expect(files).toEqual(
      expect.arrayContaining([
        'model_index.json',
        'scheduler/scheduler_config.json',
        'text_encoder/model.onnx',
        'tokenizer/merges.txt',
        'tokenizer/vocab.json',
        'unet/config.json',
        'unet/model.onnx',
        'vae_decoder/model.onnx',
        'vae_encoder/model.onnx',
      ]),
    );
    const cdnPaths = hub.requests
      .filter((r) => r.server === 'cdn')
      .map((r) => new URL(r.url, hub.cdnUrl).searchParams.get('path'));
    expect(cdnPaths).not.toContain('unet/diffusion_pytorch_model.safetensors');
    expect(cdnPaths).not.toContain('safety_checker/model.onnx');
    expect((await listTree(join(repoDir, 'blobs'))).filter((f) => f.endsWith('.incomplete'))).toEqual([]);

    // progress: per file and in total, monotonic, ending at the sum of the downloaded files
    const expectedTotal = files.reduce((s, f) => s + hub.file(SHAPES_REPO, f).bytes.length, 0);
    const last = events.at(-1)!;
    expect(last.bytes).toBe(expectedTotal);
    expect(last.total).toBe(expectedTotal);
    expect(last.filesDone).toBe(files.length);
    expect(last.filesTotal).toBe(files.length);
    for (let i = 1; i < events.length; i++)
      expect(events[i]!.bytes).toBeGreaterThanOrEqual(events[i - 1]!.bytes);
    const unetEvents = events.filter((e) => e.file === 'unet/model.onnx');
    expect(unetEvents.at(-1)!.fileBytes).toBe(unet.bytes.length);
    expect(unetEvents.every((e) => e.fileTotal === unet.bytes.length)).toBe(true);
  });

  it('a second load is a cache hit: no request at all', async () => {
    const cacheDir = await newCache();
    const first = await downloadHubModel(SHAPES_REPO, { hubUrl: hub.url, cacheDir });
    expect(first.requested).toBe(true);
    expect(first.downloaded.length).toBeGreaterThan(5);
    hub.clearRequests();
    const pipe = await load(SHAPES_REPO, { hubUrl: hub.url, cacheDir });
    expect((await render(pipe)).width).toBe(32);
    await pipe.dispose();
    const again = await downloadHubModel(SHAPES_REPO, { hubUrl: hub.url, cacheDir });
    expect(again.requested).toBe(false);
    expect(again.downloaded).toEqual([]);
    expect(hub.requests).toEqual([]);
  });

  it('offline: HF_HUB_OFFLINE loads from the cache without a request; a miss is a typed error without one', async () => {
    const cacheDir = await newCache();
    process.env['HF_HUB_OFFLINE'] = '1';
    const miss = await load(SHAPES_REPO, { hubUrl: hub.url, cacheDir }).catch((e: unknown) => e);
    expect(miss).toBeInstanceOf(ModelNotFoundError);
    expect((miss as Error).message).toMatch(
      /latentkit\/shapes \(revision "main"\) is not in the cache and downloads are off \(HF_HUB_OFFLINE\)/,
    );
    expect((miss as Error).message).toContain('latentkit download latentkit/shapes');
    expect(hub.requests).toEqual([]);

    delete process.env['HF_HUB_OFFLINE'];
    await downloadHubModel(SHAPES_REPO, { hubUrl: hub.url, cacheDir });
    hub.clearRequests();
    process.env['HF_HUB_OFFLINE'] = 'true';
    const pipe = await load(SHAPES_REPO, { hubUrl: hub.url, cacheDir });
    expect((await render(pipe)).width).toBe(32);
    await pipe.dispose();
    // localFilesOnly: true does the same without the variable; another revision is a miss
    delete process.env['HF_HUB_OFFLINE'];
    const other = await load(SHAPES_REPO, {
      hubUrl: hub.url,
      cacheDir,
      localFilesOnly: true,
      revision: 'euler',
    }).catch((e: unknown) => e);
    expect(other).toBeInstanceOf(ModelNotFoundError);
    expect((other as Error).message).toContain('localFilesOnly: true');
    expect(hub.requests).toEqual([]);
  });

  it('a revision: a branch is resolved to its commit (refs/<branch>), a commit is used as is', async () => {
    const cacheDir = await newCache();
    const euler = await load(SHAPES_REPO, { hubUrl: hub.url, cacheDir, revision: 'euler' });
    expect(euler.scheduler.constructor.name).toBe('EulerDiscreteScheduler');
    await euler.dispose();
    const repoDir = join(cacheDir, 'models--latentkit--shapes');
    expect(await readFile(join(repoDir, 'refs', 'euler'), 'utf8')).toBe(hub.commit(SHAPES_REPO, 'euler'));

    const mainCommit = hub.commit(SHAPES_REPO);
    const byCommit = await load(SHAPES_REPO, { hubUrl: hub.url, cacheDir, revision: mainCommit });
    expect(byCommit.scheduler.constructor.name).toBe('DDIMScheduler');
    await byCommit.dispose();
    // no ref for a commit; the blobs both revisions share were downloaded once
    expect((await readdir(join(repoDir, 'refs'))).sort()).toEqual(['euler']);
    const unetFetches = hub.requests.filter(
      (r) =>
        r.server === 'cdn' &&
        r.range === undefined &&
        r.url.includes(hub.file(SHAPES_REPO, 'unet/model.onnx').sha256),
    );
    expect(unetFetches).toHaveLength(1);

    // a hub URL with /tree/<revision> names the revision too
    const viaUrl = await downloadHubModel(`${hub.url}/${SHAPES_REPO}/tree/euler`, {
      hubUrl: hub.url,
      cacheDir,
    });
    expect(viaUrl.commit).toBe(hub.commit(SHAPES_REPO, 'euler'));
    expect(viaUrl.requested).toBe(false);
  });

  it('a branch that moved: the cache keeps its commit until checkForUpdates (latentkit download) asks the hub', async () => {
    const cacheDir = await newCache();
    const repoDir = join(cacheDir, 'models--latentkit--shapes');
    // the cache as it was when main pointed to what is now the euler commit
    const old = hub.commit(SHAPES_REPO, 'euler');
    await downloadHubModel(SHAPES_REPO, { hubUrl: hub.url, cacheDir, revision: old });
    await mkdir(join(repoDir, 'refs'), { recursive: true });
    await writeFile(join(repoDir, 'refs', 'main'), old);
    hub.clearRequests();
    const stale = await load(SHAPES_REPO, { hubUrl: hub.url, cacheDir });
    expect(stale.scheduler.constructor.name).toBe('EulerDiscreteScheduler');
    await stale.dispose();
    expect(hub.requests).toEqual([]);
    const fresh = await downloadHubModel(SHAPES_REPO, { hubUrl: hub.url, cacheDir, checkForUpdates: true });
    expect(fresh.commit).toBe(hub.commit(SHAPES_REPO));
    // only the file that differs; the others are linked from the blobs both commits share
    expect(fresh.downloaded).toEqual(['scheduler/scheduler_config.json']);
    expect(await readFile(join(repoDir, 'refs', 'main'), 'utf8')).toBe(fresh.commit);
    const now = await load(SHAPES_REPO, { hubUrl: hub.url, cacheDir });
    expect(now.scheduler.constructor.name).toBe('DDIMScheduler');
    await now.dispose();
  });

  it('two loads of one model at once into one cache both succeed, and the cache is whole', async () => {
    const cacheDir = await newCache();
    const [a, b] = await Promise.all([
      downloadHubModel(SD1_EXTERNAL_REPO, { hubUrl: hub.url, cacheDir }),
      downloadHubModel(SD1_EXTERNAL_REPO, { hubUrl: hub.url, cacheDir }),
    ]);
    expect(a.folder).toBe(b.folder);
    const blobs = await listTree(join(cacheDir, 'models--latentkit--sd1-external', 'blobs'));
    expect(blobs.filter((f) => f.includes('incomplete'))).toEqual([]);
    hub.clearRequests();
    expect((await downloadHubModel(SD1_EXTERNAL_REPO, { hubUrl: hub.url, cacheDir })).requested).toBe(false);
    expect(hub.requests).toEqual([]);
  });

  it('external weights: the graph names unet/model.onnx_data, which is fetched and loads as the folder does', async () => {
    const cacheDir = await newCache();
    const snap = await downloadHubModel(SD1_EXTERNAL_REPO, { hubUrl: hub.url, cacheDir });
    expect(snap.downloaded).toContain('unet/model.onnx_data');
    expect(snap.downloaded).not.toContain('expected.json');
    const opts = { numInferenceSteps: 2, seed: 3, width: 32, height: 32, outputType: 'tensor' as const };
    const pipe = await load(SD1_EXTERNAL_REPO, { hubUrl: hub.url, cacheDir });
    const fromHub = (await pipe.generate({ prompt: 'a cat', ...opts })).images;
    await pipe.dispose();
    const local = await load(SD1_EXTERNAL_FOLDER, {});
    const fromFolder = (await local.generate({ prompt: 'a cat', ...opts })).images;
    await local.dispose();
    expect('data' in fromHub && 'data' in fromFolder).toBe(true);
    expect(Array.from((fromHub as { data: Float32Array }).data)).toEqual(
      Array.from((fromFolder as { data: Float32Array }).data),
    );
  });

  it('a token goes to the hub origin only: never to the LFS storage it redirects to', async () => {
    const cacheDir = await newCache();
    const pipe = await load(PRIVATE_REPO, { hubUrl: hub.url, cacheDir, token: PRIVATE_TOKEN });
    await pipe.dispose();
    const onHub = hub.requests.filter((r) => r.server === 'hub');
    const onCdn = hub.requests.filter((r) => r.server === 'cdn');
    expect(onHub.length).toBeGreaterThan(3);
    expect(onCdn.length).toBeGreaterThan(3);
    expect(onHub.every((r) => r.authorization === `Bearer ${PRIVATE_TOKEN}`)).toBe(true);
    expect(onCdn.map((r) => r.authorization)).toEqual(onCdn.map(() => undefined));
  });

  it('HF_TOKEN, $HF_HOME/token, HF_ENDPOINT and HF_HUB_CACHE are read when the options are absent', async () => {
    const home = await newCache();
    process.env['HF_HOME'] = home;
    process.env['HF_ENDPOINT'] = hub.url;
    await writeFile(join(home, 'token'), `${PRIVATE_TOKEN}\n`);
    const fromFile = await downloadHubModel(PRIVATE_REPO);
    expect(fromFile.folder.startsWith(join(home, 'hub', 'models--latentkit--shapes-private'))).toBe(true);
    const cacheDir = await newCache();
    process.env['HF_HUB_CACHE'] = cacheDir;
    process.env['HF_TOKEN'] = PRIVATE_TOKEN;
    await rm(join(home, 'token'));
    const fromEnv = await downloadHubModel(GATED_REPO);
    expect(fromEnv.folder.startsWith(join(cacheDir, 'models--latentkit--shapes-gated'))).toBe(true);
    // options win over the environment
    const other = await newCache();
    const explicit = await downloadHubModel(SHAPES_REPO, { cacheDir: other });
    expect(explicit.folder.startsWith(other)).toBe(true);
  });

  it('a truncated transfer is a typed error that leaves nothing complete-looking; the retry fetches only what is missing', async () => {
    const cacheDir = await newCache();
    const unet = hub.file(SHAPES_REPO, 'unet/model.onnx');
    const repoDir = join(cacheDir, 'models--latentkit--shapes');
    for (const fault of [
      { kind: 'truncate', bytes: 100_000 },
      { kind: 'truncate-chunked', bytes: 100_000 },
      { kind: 'corrupt' },
    ] as const) {
      hub.setFault(SHAPES_REPO, 'unet/model.onnx', fault);
      const error = await load(SHAPES_REPO, { hubUrl: hub.url, cacheDir }).catch((e: unknown) => e);
      hub.setFault(SHAPES_REPO, 'unet/model.onnx', undefined);
      expect(error, fault.kind).toBeInstanceOf(DownloadFailedError);
      expect((error as Error).message).toContain('"unet/model.onnx" from latentkit/shapes');
      expect((error as Error).message).toMatch(
        fault.kind === 'corrupt' ? /has sha256 [0-9a-f]{64}, but the hub lists/ : /of 4\d{6} bytes/,
      );
      expect((error as Error).message).toContain('nothing was cached');
      const blobs = await listTree(join(repoDir, 'blobs'));
      expect(blobs).not.toContain(unet.sha256);
      expect(blobs.filter((b) => b.includes('incomplete'))).toEqual([]);
      await expect(
        lstat(join(repoDir, 'snapshots', hub.commit(SHAPES_REPO), 'unet/model.onnx')),
      ).rejects.toThrow();
      await expect(lstat(join(repoDir, 'refs', 'main'))).rejects.toThrow();
    }
    // what a killed download leaves: an hour-old partial file is removed, a live one (or Python's) is not
    const stale = join(repoDir, 'blobs', `${unet.sha256}.999-dead.incomplete`);
    const live = join(repoDir, 'blobs', `${unet.sha256}.998-live.incomplete`);
    const python = join(repoDir, 'blobs', `${unet.sha256}.incomplete`);
    for (const f of [stale, live, python]) await writeFile(f, 'partial');
    const twoHoursAgo = new Date(Date.now() - 2 * 3600_000);
    await utimes(stale, twoHoursAgo, twoHoursAgo);
    await utimes(python, twoHoursAgo, twoHoursAgo);
    hub.clearRequests();
    const snap = await downloadHubModel(SHAPES_REPO, { hubUrl: hub.url, cacheDir });
    const left = await listTree(join(repoDir, 'blobs'));
    expect(left).not.toContain(`${unet.sha256}.999-dead.incomplete`);
    expect(left).toContain(`${unet.sha256}.998-live.incomplete`);
    expect(left).toContain(`${unet.sha256}.incomplete`);
    expect(snap.downloaded).toContain('unet/model.onnx');
    expect(snap.downloaded).not.toContain('model_index.json'); // kept from the failed runs
    expect(await readFile(join(repoDir, 'refs', 'main'), 'utf8')).toBe(hub.commit(SHAPES_REPO));
  });

  it("finds a snapshot made by hand in Python huggingface_hub's layout without a request", async () => {
    const cacheDir = await newCache();
    const commit = hub.commit(SD1_EXTERNAL_REPO);
    const repoDir = join(cacheDir, 'models--latentkit--sd1-external');
    // as `huggingface_hub.snapshot_download` leaves it: every file of the revision, blobs by etag
    for (const file of hub.files(SD1_EXTERNAL_REPO).values()) {
      const etag = file.lfs ? file.sha256 : file.gitOid;
      const blob = join(repoDir, 'blobs', etag);
      await mkdir(dirname(blob), { recursive: true });
      await writeFile(blob, file.bytes);
      const link = join(repoDir, 'snapshots', commit, ...file.path.split('/'));
      await mkdir(dirname(link), { recursive: true });
      await symlink(relative(dirname(link), blob), link);
    }
    await mkdir(join(repoDir, 'refs'), { recursive: true });
    await writeFile(join(repoDir, 'refs', 'main'), commit);
    const pipe = await load(SD1_EXTERNAL_REPO, { hubUrl: hub.url, cacheDir });
    const { images } = await pipe.generate({
      prompt: 'a cat',
      numInferenceSteps: 1,
      width: 32,
      height: 32,
      seed: 1,
    });
    await pipe.dispose();
    expect((images as RgbaImage[])[0]!.width).toBe(32);
    expect(hub.requests).toEqual([]);
  });

  it("variant 'fp16' fetches model.fp16.onnx / model_fp16.onnx (not model.onnx) and runs them as the fp16 folder does", async () => {
    const cacheDir = await newCache();
    const snap = await downloadHubModel(VARIANTS_REPO, { hubUrl: hub.url, cacheDir, variant: 'fp16' });
    expect(snap.modelFiles).toEqual({
      text_encoder: 'text_encoder/model.fp16.onnx',
      unet: 'unet/model_fp16.onnx',
      vae_decoder: 'vae_decoder/model.fp16.onnx',
    });
    expect(snap.downloaded).not.toContain('unet/model.onnx');
    expect(snap.downloaded).not.toContain('text_encoder/model.onnx');
    expect(snap.downloaded).toContain('vae_encoder/model.onnx'); // the optional encoder keeps its model.onnx
    const opts = { numInferenceSteps: 2, seed: 5, width: 32, height: 32, outputType: 'tensor' as const };
    const pipe = await load(VARIANTS_REPO, { hubUrl: hub.url, cacheDir, variant: 'fp16' });
    const fromHub = (await pipe.generate({ prompt: 'a cat', ...opts })).images as { data: Float32Array };
    await pipe.dispose();
    const local = await load(SD1_FP16, {});
    const fromFolder = (await local.generate({ prompt: 'a cat', ...opts })).images as { data: Float32Array };
    await local.dispose();
    expect(Array.from(fromHub.data)).toEqual(Array.from(fromFolder.data));
    // the same variant rule on a local folder: the snapshot folder itself, loaded by path
    const byPath = await load(snap.folder, { variant: 'fp16', allowSymlinksOutside: true });
    const again = (await byPath.generate({ prompt: 'a cat', ...opts })).images as { data: Float32Array };
    await byPath.dispose();
    expect(Array.from(again.data)).toEqual(Array.from(fromFolder.data));
  });

  it('an existing local folder wins over a hub id of the same name', async () => {
    const cwd = await newCache();
    const previous = process.cwd();
    const folder = join(cwd, 'latentkit', 'shapes');
    await mkdir(dirname(folder), { recursive: true });
    await symlink(SD1_EXTERNAL_FOLDER, folder);
    process.chdir(cwd);
    try {
      const pipe = await load(SHAPES_REPO, { hubUrl: hub.url, cacheDir: join(cwd, 'cache') });
      await pipe.dispose();
    } finally {
      process.chdir(previous);
    }
    expect(hub.requests).toEqual([]);
  });
});
