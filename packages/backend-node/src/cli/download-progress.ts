import { SingleBar } from 'cli-progress';
import type { HubDownloadProgress } from '../hub/hub-options.js';

/** A download bar on stderr (bytes of all files, the current file); silent unless enabled. */
export interface DownloadProgressBar {
  /** Give it to `onProgress`. */
  update(progress: HubDownloadProgress): void;
  /** Clears the bar. */
  stop(): void;
}

function megabytes(bytes: number): string {
  return (bytes / 1e6).toFixed(bytes < 1e7 ? 2 : 1);
}

/** Makes the download bar; a no-op object when `enabled` is false (not a TTY, or `--json`). */
export function createDownloadProgress(stream: NodeJS.WritableStream, enabled: boolean): DownloadProgressBar {
  if (!enabled) return { update() {}, stop() {} };
  let bar: SingleBar | undefined;
  return {
    update(p) {
      const payload = {
        file: p.file,
        done: megabytes(p.bytes),
        size: megabytes(p.total),
        files: `${p.filesDone}/${p.filesTotal}`,
      };
      if (!bar) {
        bar = new SingleBar({
          stream,
          format: 'download |{bar}| {percentage}% | {done}/{size} MB | files {files} | {file}',
          barsize: 30,
          hideCursor: true,
          clearOnComplete: true,
        });
        bar.start(p.total, p.bytes, payload);
      }
      bar.setTotal(p.total);
      bar.update(p.bytes, payload);
    },
    stop() {
      bar?.stop();
      bar = undefined;
    },
  };
}
