import type { GenerationProgress, GenerationRequest, GenerationResult } from '../generation-request.js';

/** Options of {@link JobQueue.submit}. */
export interface SubmitOptions {
  /** Aborting cancels the job: removed while it waits, its generation aborted while it runs. */
  signal?: AbortSignal;
  /** Called with the job's progress after each step. */
  onProgress?: (progress: GenerationProgress) => void;
}

/** A job that is running now. */
export interface ActiveJob {
  /** The job's id. */
  id: string;
  /** When it started running (ms since the epoch). */
  startedAt: number;
  /** Its latest progress. */
  progress: GenerationProgress;
}

/** What {@link JobQueue.status} reports. */
export interface QueueStatus {
  /** Jobs waiting for a slot. */
  waiting: number;
  /** Jobs running now, the oldest first. */
  active: ActiveJob[];
}

/** Whether a queue can take jobs, and why not. */
export interface ReadyState {
  /** True when jobs submitted now will run. */
  ready: boolean;
  /** Why not, when not ready. */
  reason?: string;
}

/**
 * Where the HTTP API sends generation jobs. Two implementations, one contract: {@link InProcessQueue}
 * runs them in this process on a loaded pipeline; {@link BullmqQueue} puts them on Redis for worker
 * processes. Both run a job with `runGeneration`.
 */
export interface JobQueue {
  /** `in-process` or `redis`. */
  readonly mode: 'in-process' | 'redis';
  /** Runs `request` and resolves with its result; rejects with a `ServerError` or the library's error. */
  submit(request: GenerationRequest, options?: SubmitOptions): Promise<GenerationResult>;
  /** Jobs waiting and running now. */
  status(): Promise<QueueStatus>;
  /** Interrupts every running job (A1111's interrupt): each returns what it has. Resolves with how many. */
  interruptAll(): Promise<number>;
  /** Whether jobs can run now (`/readyz`). */
  ready(): Promise<ReadyState>;
  /** Stops taking jobs; running jobs finish (or are handed back), then resources are released. */
  close(): Promise<void>;
}
