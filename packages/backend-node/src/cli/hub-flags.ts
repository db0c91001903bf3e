import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseHubModelId } from '@latentkit/onnx';
import type { HubOptions } from '../hub/hub-options.js';
import { UsageError } from './cli-error.js';
import { createDownloadProgress } from './download-progress.js';

/** The hub flags of `latentkit generate`. */
export interface HubFlags {
  model?: string;
  /** `--revision`: with `--model org/name`, the branch, tag or commit. */
  revision?: string;
}

/** Whether `--model` names a Hugging Face Hub id (`org/name` or a hub URL) rather than a path. */
export function isHubModelFlag(model: string): boolean {
  return parseHubModelId(model, process.env['HF_ENDPOINT'] || undefined) !== undefined;
}

/**
 * Refuses `--revision` unless `--model` is a hub id (an existing local folder of that name wins, as in
 * the library, and has no revisions).
 */
export async function checkHubFlags(flags: HubFlags): Promise<void> {
  if (flags.revision === undefined) return;
  const folder =
    flags.model !== undefined &&
    (await stat(flags.model).then(
      (s) => s.isDirectory(),
      () => false,
    ));
  if (flags.model === undefined || folder || !isHubModelFlag(flags.model)) {
    throw new UsageError(
      `--revision needs --model org/name (a Hugging Face Hub id)${flags.model === undefined ? '' : `; ${JSON.stringify(flags.model)} is a local folder or not an id`}.`,
    );
  }
}

/**
 * The load options of the hub flags: the revision, and a download bar on stderr while a hub model is
 * fetched (on a TTY without `--json`). Call `stop()` once the model is loaded.
 */
export function hubLoadOptions(
  flags: HubFlags,
  stderr: NodeJS.WritableStream & { isTTY?: boolean },
  json: boolean,
): { options: Pick<HubOptions, 'revision' | 'onProgress'>; stop(): void } {
  const bar = createDownloadProgress(stderr, Boolean(stderr.isTTY) && !json);
  return {
    options: {
      ...(flags.revision !== undefined ? { revision: flags.revision } : {}),
      onProgress: (p) => bar.update(p),
    },
    stop: () => bar.stop(),
  };
}

/**
 * How to name the model in messages and the `--json` summary: the absolute folder, or for a hub id that
 * is not a local folder the id itself (with `@revision` when one was given).
 */
export async function modelLabel(model: string, revision?: string): Promise<string> {
  const folder = await stat(model).then(
    (s) => s.isDirectory(),
    () => false,
  );
  if (folder || !isHubModelFlag(model)) return resolve(model);
  return revision === undefined ? model : `${model}@${revision}`;
}
