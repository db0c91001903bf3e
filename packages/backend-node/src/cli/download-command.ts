import { downloadHubModel } from '../hub/download-hub-model.js';
import { createDownloadProgress } from './download-progress.js';
import type { CommandIo } from './generate-command.js';

/** The flags of `latentkit download`. */
export interface DownloadFlags {
  revision?: string;
  cacheDir?: string;
  variant?: string;
  hubUrl?: string;
  json?: boolean;
}

/** What `latentkit download --json` prints. */
export interface DownloadSummary {
  repo: string;
  revision: string;
  commit: string;
  /** The snapshot folder: pass it (or the id) to `--model`. */
  folder: string;
  /** Files fetched by this run (none when the cache already had them). */
  downloaded: string[];
  downloadedBytes: number;
  /** Whether the cache already held every file of the revision's current commit (nothing was fetched). */
  cached: boolean;
}

/**
 * `latentkit download org/name`: fetches what a pipeline needs of a hub model into the Hugging Face
 * cache (the one Python's `huggingface_hub` uses), with a progress bar on a TTY, so that later runs — and
 * `fromPretrained('org/name')` — load it without the network (`HF_HUB_OFFLINE=1` works then). Unlike
 * `fromPretrained`, it always asks the hub which commit the revision points to now (a branch may have
 * moved), and fetches only the files the cache lacks.
 */
export async function runDownload(id: string, flags: DownloadFlags, io: CommandIo): Promise<DownloadSummary> {
  const bar = createDownloadProgress(io.stderr, Boolean(io.stderr.isTTY) && !flags.json);
  try {
    const snap = await downloadHubModel(id, {
      ...(flags.revision !== undefined ? { revision: flags.revision } : {}),
      ...(flags.cacheDir !== undefined ? { cacheDir: flags.cacheDir } : {}),
      ...(flags.variant !== undefined ? { variant: flags.variant } : {}),
      ...(flags.hubUrl !== undefined ? { hubUrl: flags.hubUrl } : {}),
      onProgress: (p) => bar.update(p),
      // `download` makes the cache current: it asks the hub where the revision points now
      checkForUpdates: true,
    });
    return {
      repo: snap.repo,
      revision: snap.revision,
      commit: snap.commit,
      folder: snap.folder,
      downloaded: [...snap.downloaded],
      downloadedBytes: snap.downloadedBytes,
      cached: snap.downloaded.length === 0,
    };
  } finally {
    bar.stop();
  }
}

/** The line `latentkit download` prints on stderr when done. */
export function formatDownloadSummary(s: DownloadSummary): string {
  const what = `${s.repo} (revision "${s.revision}", commit ${s.commit.slice(0, 10)})`;
  const fetched = s.cached
    ? 'already in the cache, nothing fetched'
    : `${s.downloaded.length} file(s), ${(s.downloadedBytes / 1e6).toFixed(1)} MB downloaded`;
  return `latentkit: ${what}: ${fetched}; in ${s.folder}`;
}
