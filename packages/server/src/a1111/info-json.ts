import type { GenerationRequest, GenerationResult } from '../generation-request.js';

/** A1111's `job_timestamp`: local time as `YYYYMMDDhhmmss`. */
export function jobTimestamp(ms: number): string {
  const d = new Date(ms);
  const two = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}${two(d.getMonth() + 1)}${two(d.getDate())}${two(d.getHours())}${two(d.getMinutes())}${two(d.getSeconds())}`;
}

/** What the info JSON needs besides the job and its result. */
export interface InfoContext {
  /** The served model (`sd_model_name`). */
  modelName: string;
  /** A1111's subseed, resolved (it changes nothing: variation seeds are not built). */
  subseed: number;
  /** `denoising_strength` as A1111 reports it (txt2img: the body's value, unused). */
  denoisingStrength: number | null;
  /** When the job was accepted (ms since the epoch). */
  startedAt: number;
  /** The server's version string (`version`). */
  version: string;
}

/**
 * The `info` string of A1111's txt2img / img2img response: `Processed.js()` — the JSON of the job as run,
 * with one entry per image in `all_prompts`, `all_seeds`, `infotexts`, ….
 */
export function infoJson(job: GenerationRequest, result: GenerationResult, ctx: InfoContext): string {
  const n = result.images.length;
  const seeds = result.seeds.length > 0 ? result.seeds : job.seeds;
  const info = {
    prompt: job.prompt,
    all_prompts: Array.from({ length: n }, () => job.prompt),
    negative_prompt: job.negativePrompt,
    all_negative_prompts: Array.from({ length: n }, () => job.negativePrompt),
    seed: seeds[0] ?? -1,
    all_seeds: seeds,
    subseed: ctx.subseed,
    all_subseeds: seeds.map((_, i) => ctx.subseed + i),
    subseed_strength: 0,
    width: job.width,
    height: job.height,
    sampler_name: result.sampler,
    cfg_scale: job.guidanceScale,
    steps: job.steps,
    batch_size: job.batchSize,
    restore_faces: false,
    face_restoration_model: null,
    sd_model_name: ctx.modelName,
    sd_model_hash: null,
    sd_vae_name: null,
    sd_vae_hash: null,
    seed_resize_from_w: -1,
    seed_resize_from_h: -1,
    denoising_strength: ctx.denoisingStrength,
    extra_generation_params: {},
    index_of_first_image: 0,
    infotexts: result.infotexts,
    styles: [],
    job_timestamp: jobTimestamp(ctx.startedAt),
    clip_skip: job.clipSkip ?? 1,
    is_using_inpainting_conditioning: false,
    version: ctx.version,
    interrupted: result.interrupted,
  };
  return JSON.stringify(info);
}
