import { HubApiError } from '@huggingface/hub';
import {
  DownloadFailedError,
  InvalidArgumentError,
  LatentkitError,
  ModelNotFoundError,
} from '@latentkit/core';
import type { HubSettings } from './hub-settings.js';

/** What a failed hub request was about, for the message. */
export interface HubRequestContext {
  /** `org/name`. */
  readonly repo: string;
  /** The revision asked for. */
  readonly revision: string;
  /** The file, when the request was for one. */
  readonly path?: string;
}

/** Replaces the token wherever it might appear (defence in depth: it is never put in a message). */
export function redactToken(text: string, token: string | undefined): string {
  return token ? text.split(token).join('hf_***') : text;
}

function errorCode(error: unknown): string | undefined {
  let e: unknown = error;
  for (let i = 0; i < 4 && e instanceof Error; i++) {
    const code = (e as NodeJS.ErrnoException).code;
    if (typeof code === 'string') return code;
    e = e.cause;
  }
  return undefined;
}

/**
 * Turns what the hub client throws into latentkit's typed errors, naming the repo, revision, file and the
 * fix, and never the token:
 * - 404 repo / revision / file → {@link ModelNotFoundError};
 * - 401 / 403 → {@link DownloadFailedError} with the token fix (HF_TOKEN, the `token` option, the
 *   licence on the model page);
 * - other statuses and network errors → {@link DownloadFailedError}.
 * latentkit's own errors pass through.
 */
export function hubError(error: unknown, context: HubRequestContext, settings: HubSettings): LatentkitError {
  if (error instanceof LatentkitError) return error;
  const { repo, revision, path } = context;
  const page = `${settings.hubUrl}/${repo}`;
  const what =
    path === undefined ? `${repo} (revision "${revision}")` : `"${path}" of ${repo} (revision "${revision}")`;
  const redact = (s: string) => redactToken(s, settings.token);
  if (error instanceof HubApiError) {
    const status = error.statusCode;
    const detail = redact(error.message.split('. URL:')[0] ?? '');
    const url = redact(error.url);
    if (status === 404) {
      if (/revision|rev id/i.test(detail)) {
        return new ModelNotFoundError(
          `Revision "${revision}" not found in ${repo} on ${settings.hubUrl} (404: ${detail}). Fix: pass a branch, tag or commit that ${page} has (see its "Files and versions"), or leave revision out for "main".`,
          { cause: error },
        );
      }
      if (path !== undefined && !/repo/i.test(detail)) {
        return new ModelNotFoundError(
          `File ${what} not found on ${settings.hubUrl} (404). Fix: check that the repository is a diffusers ONNX export (${page}).`,
          { cause: error },
        );
      }
      return new ModelNotFoundError(
        `Hub repository "${repo}" not found on ${settings.hubUrl} (404). Fix: check the id (${page}); a private repository also needs a token (HF_TOKEN or the token option).`,
        { cause: error },
      );
    }
    if (status === 401) {
      const sent =
        settings.token === undefined
          ? 'no token was sent'
          : `the token from ${settings.tokenFrom} was refused`;
      return new DownloadFailedError(
        url,
        `The hub refused ${what} with 401 Unauthorized (${sent}): the repository is private, gated or does not exist, or the token is invalid. Fix: set HF_TOKEN or pass the token option (a read token from ${settings.hubUrl}/settings/tokens), and check the id at ${page}.`,
        { cause: error },
      );
    }
    if (status === 403) {
      const sent =
        settings.token === undefined ? 'no token was sent' : `with the token from ${settings.tokenFrom}`;
      return new DownloadFailedError(
        url,
        `The hub refused ${what} with 403 Forbidden (${sent}): ${detail || 'access denied'}. Fix: accept the model's licence on ${page} with the account of your token, and use a token with read access (HF_TOKEN or the token option).`,
        { cause: error },
      );
    }
    return new DownloadFailedError(
      url,
      `The hub answered ${status} for ${what}${detail ? `: ${detail}` : ''}. Fix: retry later; with the model already in the cache, load with localFilesOnly: true (or HF_HUB_OFFLINE=1).`,
      { cause: error },
    );
  }
  if (error instanceof TypeError && /access token must start with/i.test(error.message)) {
    return new InvalidArgumentError({
      name: 'token',
      expected: 'a Hugging Face access token, which starts with "hf_" (its value is not shown)',
      fix: "copy a token from the hub's settings page (Access Tokens)",
    });
  }
  const code = errorCode(error);
  const message = redact(error instanceof Error ? error.message : String(error));
  return new DownloadFailedError(
    settings.hubUrl,
    `Could not download ${what} from ${settings.hubUrl}: ${message}${code ? ` (${code})` : ''}. Fix: check the network and the hub URL (hubUrl option or HF_ENDPOINT); with the model already in the cache, load with localFilesOnly: true (or HF_HUB_OFFLINE=1).`,
    { cause: error },
  );
}
