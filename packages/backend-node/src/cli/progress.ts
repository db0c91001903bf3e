import { SingleBar } from 'cli-progress';

/** A step counter with ETA on stderr; silent unless enabled (a TTY and not `--json`). */
export interface StepProgress {
  /** Called after each step with 1-based `done` of `total`. */
  update(done: number, total: number): void;
  /** Clears the bar; the next {@link StepProgress.update} starts a new one (the next image). */
  stop(): void;
}

/** Makes the progress bar; a no-op object when `enabled` is false. */
export function createStepProgress(stream: NodeJS.WritableStream, enabled: boolean): StepProgress {
  if (!enabled) return { update() {}, stop() {} };
  let bar: SingleBar | undefined;
  return {
    update(done, total) {
      if (!bar) {
        bar = new SingleBar({
          stream,
          format: 'latentkit |{bar}| step {value}/{total} | {percentage}% | ETA {eta_formatted}',
          barsize: 30,
          hideCursor: true,
          clearOnComplete: true,
          etaBuffer: 5,
        });
        bar.start(total, 0);
      }
      bar.update(done);
    },
    stop() {
      bar?.stop();
      bar = undefined;
    },
  };
}
