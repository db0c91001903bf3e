import type { QueueStatus } from '../queue/job-queue.js';
import { jobTimestamp } from './info-json.js';

/** A1111's `ProgressResponse` (`GET /sdapi/v1/progress`). */
export interface ProgressResponse {
  /** 0..1 over the whole job (all its batches). */
  progress: number;
  /** Seconds left, estimated from the time so far. */
  eta_relative: number;
  /** A1111's `shared.state.dict()`. */
  state: {
    skipped: boolean;
    interrupted: boolean;
    job: string;
    job_count: number;
    job_timestamp: string;
    job_no: number;
    sampling_step: number;
    sampling_steps: number;
  };
  /** The live preview of the running job's first image, a base64 PNG; null when there is none yet. */
  current_image: string | null;
  /** A line of text about the job. */
  textinfo: string | null;
}

/**
 * The progress of the oldest running job, as A1111 reports its one running job: progress is steps done
 * over the job's steps, `eta_relative` = elapsed / progress − elapsed (A1111's estimate), `current_image`
 * the job's latest preview unless `skipCurrentImage`. Idle: progress 0 and `job_count` 0.
 */
export function progressResponse(
  status: QueueStatus,
  options: { skipCurrentImage: boolean; interrupted: ReadonlySet<string>; now: number },
): ProgressResponse {
  const job = status.active[0];
  const jobCount = status.active.length + status.waiting;
  if (!job) {
    return {
      progress: 0,
      eta_relative: 0,
      state: {
        skipped: false,
        interrupted: false,
        job: '',
        job_count: jobCount,
        job_timestamp: '0',
        job_no: 0,
        sampling_step: 0,
        sampling_steps: 0,
      },
      current_image: null,
      textinfo: null,
    };
  }
  const { step, totalSteps, preview } = job.progress;
  const progress = totalSteps > 0 ? Math.min(1, step / totalSteps) : 0;
  const elapsed = Math.max(0, (options.now - job.startedAt) / 1000);
  return {
    progress,
    eta_relative: progress > 0 ? elapsed / progress - elapsed : 0,
    state: {
      skipped: false,
      interrupted: options.interrupted.has(job.id),
      job: `job ${job.id}`,
      job_count: jobCount,
      job_timestamp: jobTimestamp(job.startedAt),
      job_no: 0,
      sampling_step: step,
      sampling_steps: totalSteps,
    },
    current_image: options.skipCurrentImage ? null : (preview ?? null),
    textinfo: `Step ${step}/${totalSteps}`,
  };
}
