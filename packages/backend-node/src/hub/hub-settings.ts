import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { InvalidArgumentError } from '@latentkit/core';
import { DEFAULT_HUB_URL } from '@latentkit/onnx';
import type { HubOptions } from './hub-options.js';

/** The hub options after the environment is applied: what a download actually uses. */
export interface HubSettings {
  /** The hub's base URL, without a trailing `/`. */
  readonly hubUrl: string;
  /** The cache folder (absolute). */
  readonly cacheDir: string;
  /** The token, if any (never put it in a message). */
  readonly token: string | undefined;
  /** Where the token came from, for messages: `token option`, `HF_TOKEN`, or the token file's path. */
  readonly tokenFrom: string | undefined;
  /** No requests at all. */
  readonly offline: boolean;
}

const TRUE_VALUES = new Set(['1', 'on', 'yes', 'true']);

/** Whether an environment variable is set to a true value, as `huggingface_hub` reads them. */
function envFlag(value: string | undefined): boolean {
  return value !== undefined && TRUE_VALUES.has(value.trim().toLowerCase());
}

/** `HF_HOME`, else `$XDG_CACHE_HOME/huggingface`, else `~/.cache/huggingface` (Python's rule). */
export function hfHome(env: NodeJS.ProcessEnv = process.env): string {
  if (env['HF_HOME']) return resolve(env['HF_HOME']);
  const xdg = env['XDG_CACHE_HOME'];
  return join(xdg ? resolve(xdg) : join(homedir(), '.cache'), 'huggingface');
}

function readTokenFile(path: string): string | undefined {
  try {
    const text = readFileSync(path, 'utf8').trim();
    return text === '' ? undefined : text;
  } catch {
    return undefined;
  }
}

function checkHubUrl(hubUrl: string, from: string): string {
  let url: URL | undefined;
  try {
    url = new URL(hubUrl);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:') || url.username || url.password) {
    throw new InvalidArgumentError({
      name: from,
      value: hubUrl,
      expected: 'an http(s) URL without credentials, such as "https://huggingface.co"',
      fix: 'pass the base URL of the hub or of its mirror (the token goes in the token option or HF_TOKEN)',
    });
  }
  return hubUrl.replace(/\/+$/, '');
}

/**
 * Applies the environment to {@link HubOptions}, options first: `hubUrl` / `HF_ENDPOINT`, `cacheDir` /
 * `HF_HUB_CACHE` (legacy `HUGGINGFACE_HUB_CACHE`) / `$HF_HOME/hub`, `token` / `HF_TOKEN` / the token
 * file (`HF_TOKEN_PATH`, default `$HF_HOME/token`), `localFilesOnly` / `HF_HUB_OFFLINE`.
 *
 * @throws {@link @latentkit/core!InvalidArgumentError} for a hub URL that is not http(s), or options of the
 *   wrong type.
 */
export function hubSettings(options: HubOptions, env: NodeJS.ProcessEnv = process.env): HubSettings {
  for (const key of ['revision', 'token', 'cacheDir', 'hubUrl', 'variant'] as const) {
    const value = options[key];
    if (value !== undefined && (typeof value !== 'string' || value === '')) {
      throw new InvalidArgumentError({
        name: key,
        ...(key === 'token' ? {} : { value }),
        expected: 'a non-empty string',
        fix: `leave ${key} out for the default`,
      });
    }
  }
  if (options.localFilesOnly !== undefined && typeof options.localFilesOnly !== 'boolean') {
    throw new InvalidArgumentError({
      name: 'localFilesOnly',
      value: options.localFilesOnly,
      expected: 'true or false',
    });
  }
  if (options.onProgress !== undefined && typeof options.onProgress !== 'function') {
    throw new InvalidArgumentError({
      name: 'onProgress',
      value: options.onProgress,
      expected: 'a function called with the download progress',
    });
  }
  const hubUrl =
    options.hubUrl !== undefined
      ? checkHubUrl(options.hubUrl, 'hubUrl')
      : env['HF_ENDPOINT']
        ? checkHubUrl(env['HF_ENDPOINT'], 'HF_ENDPOINT')
        : DEFAULT_HUB_URL;
  const home = hfHome(env);
  const cacheDir = resolve(
    options.cacheDir ?? env['HF_HUB_CACHE'] ?? env['HUGGINGFACE_HUB_CACHE'] ?? join(home, 'hub'),
  );
  let token: string | undefined;
  let tokenFrom: string | undefined;
  if (options.token !== undefined) {
    token = options.token;
    tokenFrom = 'the token option';
  } else if (env['HF_TOKEN']) {
    token = env['HF_TOKEN'].trim();
    tokenFrom = 'HF_TOKEN';
  } else {
    const path = env['HF_TOKEN_PATH'] ? resolve(env['HF_TOKEN_PATH']) : join(home, 'token');
    token = readTokenFile(path);
    if (token !== undefined) tokenFrom = `the token file ${path}`;
  }
  if (token !== undefined && !token.startsWith('hf_')) {
    throw new InvalidArgumentError({
      name: tokenFrom === 'the token option' ? 'token' : `the token from ${tokenFrom}`,
      expected: 'a Hugging Face access token, which starts with "hf_" (its value is not shown)',
      fix: "copy a token from the hub's settings page (Access Tokens), or leave it out for public models",
    });
  }
  const offline = options.localFilesOnly ?? envFlag(env['HF_HUB_OFFLINE']);
  return { hubUrl, cacheDir, token, tokenFrom, offline };
}
