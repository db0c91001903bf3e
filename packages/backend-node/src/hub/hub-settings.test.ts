import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hubSettings } from './hub-settings.js';

// The rules of Python's huggingface_hub (constants.py), options first.
describe('hubSettings: options, then the environment, then the defaults', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'latentkit-hub-settings-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('defaults: ~/.cache/huggingface/hub, huggingface.co, online, no token', () => {
    const s = hubSettings({}, { HF_TOKEN_PATH: join(dir, 'absent') });
    expect(s.cacheDir).toBe(join(homedir(), '.cache', 'huggingface', 'hub'));
    expect(s.hubUrl).toBe('https://huggingface.co');
    expect(s.offline).toBe(false);
    expect(s.token).toBeUndefined();
  });

  it('XDG_CACHE_HOME, HF_HOME, HUGGINGFACE_HUB_CACHE (legacy) and HF_HUB_CACHE, in rising order', () => {
    expect(hubSettings({}, { XDG_CACHE_HOME: '/x' }).cacheDir).toBe('/x/huggingface/hub');
    expect(hubSettings({}, { XDG_CACHE_HOME: '/x', HF_HOME: '/h' }).cacheDir).toBe('/h/hub');
    expect(hubSettings({}, { HF_HOME: '/h', HUGGINGFACE_HUB_CACHE: '/legacy' }).cacheDir).toBe('/legacy');
    expect(hubSettings({}, { HUGGINGFACE_HUB_CACHE: '/legacy', HF_HUB_CACHE: '/c' }).cacheDir).toBe('/c');
    expect(hubSettings({ cacheDir: '/opt' }, { HF_HUB_CACHE: '/c' }).cacheDir).toBe('/opt');
  });

  it('HF_HUB_OFFLINE: 1/true/yes/on (any case) are on, others off; localFilesOnly wins either way', () => {
    for (const v of ['1', 'true', 'YES', 'On'])
      expect(hubSettings({}, { HF_HUB_OFFLINE: v }).offline).toBe(true);
    for (const v of ['0', 'false', 'no', ''])
      expect(hubSettings({}, { HF_HUB_OFFLINE: v }).offline).toBe(false);
    expect(hubSettings({ localFilesOnly: false }, { HF_HUB_OFFLINE: '1' }).offline).toBe(false);
    expect(hubSettings({ localFilesOnly: true }, {}).offline).toBe(true);
  });

  it('HF_ENDPOINT and hubUrl, without a trailing slash', () => {
    expect(hubSettings({}, { HF_ENDPOINT: 'https://mirror.example/' }).hubUrl).toBe('https://mirror.example');
    expect(hubSettings({ hubUrl: 'http://127.0.0.1:9/' }, { HF_ENDPOINT: 'https://m' }).hubUrl).toBe(
      'http://127.0.0.1:9',
    );
  });

  it('the token: the option, else HF_TOKEN, else the token file (HF_TOKEN_PATH or $HF_HOME/token)', async () => {
    await writeFile(join(dir, 'token'), 'hf_fromHomeFile\n');
    await writeFile(join(dir, 'other-token'), 'hf_fromPathFile');
    expect(hubSettings({}, { HF_HOME: dir })).toMatchObject({
      token: 'hf_fromHomeFile',
      tokenFrom: `the token file ${join(dir, 'token')}`,
    });
    expect(hubSettings({}, { HF_HOME: dir, HF_TOKEN_PATH: join(dir, 'other-token') }).token).toBe(
      'hf_fromPathFile',
    );
    expect(hubSettings({}, { HF_HOME: dir, HF_TOKEN: 'hf_fromEnv' })).toMatchObject({
      token: 'hf_fromEnv',
      tokenFrom: 'HF_TOKEN',
    });
    expect(hubSettings({ token: 'hf_fromOption' }, { HF_TOKEN: 'hf_fromEnv' })).toMatchObject({
      token: 'hf_fromOption',
      tokenFrom: 'the token option',
    });
  });
});
