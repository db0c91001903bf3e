/**
 * examples/load-from-hub.ts and tests/support/serve-test-hub.ts as a user runs them (`npx tsx …`, child
 * processes): the example loads the shipped model by id from the local hub — downloading it once, then
 * from the cache without a request — and draws what the shipped folder draws.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { loadPipeline, readPng } from '@latentkit/backend-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SHAPES_REPO, TestHub } from './support/test-hub.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

let hub: TestHub;
let work: string;
beforeAll(async () => {
  hub = await TestHub.start();
  work = await mkdtemp(join(tmpdir(), 'latentkit-hub-example-'));
});
afterAll(async () => {
  await hub.close();
  await rm(work, { recursive: true, force: true });
});

function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    TSX_TSCONFIG_PATH: join(root, 'tsconfig.json'),
    HF_HOME: join(work, 'hf-home'),
  };
  for (const key of ['HF_TOKEN', 'HF_ENDPOINT', 'HF_HUB_CACHE', 'HF_HUB_OFFLINE', 'LATENTKIT_EXAMPLES_OUT'])
    delete env[key];
  return env;
}

function runExample(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', tsx, join(root, 'examples/load-from-hub.ts'), ...args],
      { cwd: root, env: childEnv(), timeout: 120_000 },
      (error, stdout, stderr) =>
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr }),
    );
  });
}

describe('examples/load-from-hub.ts', () => {
  it('downloads latentkit/shapes from --hub-url with progress, then loads it from the cache without a request', async () => {
    const out = join(work, 'out');
    const first = await runExample(['--hub-url', hub.url, out]);
    expect(first.code, first.stderr).toBe(0);
    const unet = hub.file(SHAPES_REPO, 'unet/model.onnx').bytes.length;
    expect(first.stdout).toContain(`unet/model.onnx: ${unet}/${unet} bytes`);
    expect(first.stdout).toMatch(
      /load-from-hub: "a red circle on a blue background" → .*load-from-hub\.png \(32×32\)/,
    );
    const image = await readPng(join(out, 'load-from-hub.png'));
    const local = await loadPipeline();
    const { images } = await local.generate({
      prompt: 'a red circle on a blue background',
      numInferenceSteps: 20,
      guidanceScale: 5,
      seed: 42,
    });
    await local.dispose();
    expect(Buffer.from(image.data).equals(Buffer.from(images[0]!.data))).toBe(true);

    hub.clearRequests();
    const second = await runExample(['--hub-url', hub.url, out]);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).not.toContain('bytes (all:');
    expect(hub.requests).toEqual([]);
  });
});

describe('tests/support/serve-test-hub.ts', () => {
  it('serves the standard repos until stopped', async () => {
    const child: ChildProcess = spawn(
      process.execPath,
      ['--import', tsx, join(root, 'tests/support/serve-test-hub.ts')],
      {
        cwd: root,
        env: childEnv(),
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let text = '';
        child.stdout!.on('data', (chunk: Buffer) => {
          text += chunk.toString();
          const m = /test hub: (http:\/\/127\.0\.0\.1:\d+)/.exec(text);
          if (m) resolve(m[1]!);
        });
        child.once('exit', (code) => reject(new Error(`serve-test-hub exited with ${code}`)));
      });
      const res = await fetch(`${url}/api/models/${SHAPES_REPO}/revision/main`);
      expect(res.status).toBe(200);
      expect(((await res.json()) as { sha: string }).sha).toMatch(/^[0-9a-f]{40}$/);
    } finally {
      child.kill('SIGINT');
    }
  });
});
