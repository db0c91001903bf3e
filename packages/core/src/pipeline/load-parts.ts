import { InvalidArgumentError, ModelMismatchError } from '../errors.js';
import type { Backend, LoadedPipelineParts } from '../interfaces/backend.js';
import { mergePipelineLimits, type PipelineLimits, resolvePipelineLimits } from './pipeline-limits.js';

/** The options of every pipeline's `fromPretrained`: a backend, its own options, and limits. */
export type FromPretrainedOptions<O extends object> = {
  backend: Backend<O>;
  limits?: Partial<PipelineLimits>;
} & O;

/**
 * What every pipeline's `fromPretrained` does before it builds the pipeline: checks `source`, `options`
 * and the backend (typed errors that name `className` in the fix), checks `limits` before the slow load,
 * then `backend.load(source, rest)`. Returns the loaded parts and the limits to use: the backend's, with
 * the ones given here winning.
 */
export async function loadPipelineParts<O extends object>(
  className: string,
  source: string,
  options: FromPretrainedOptions<O>,
): Promise<{ parts: LoadedPipelineParts; limits: PipelineLimits }> {
  if (typeof source !== 'string' || source === '') {
    throw new InvalidArgumentError({
      name: 'source',
      value: source,
      expected: 'a model folder path or URL (a non-empty string)',
      fix: `pass e.g. ${className}.fromPretrained('./model', { backend: nodeBackend })`,
    });
  }
  if (typeof options !== 'object' || options === null) {
    throw new InvalidArgumentError({
      name: 'options',
      value: options,
      expected: 'an options object with a backend, e.g. { backend: nodeBackend }',
      fix: "pass { backend: nodeBackend } from '@latentkit/backend-node' (Node) or { backend: webBackend } from '@latentkit/backend-web' (browser)",
    });
  }
  const { backend, ...rest } = options;
  if (typeof backend?.load !== 'function') {
    throw new InvalidArgumentError({
      name: 'options.backend',
      value: backend,
      expected: 'a Backend with load(source, options)',
      fix: "pass e.g. { backend: nodeBackend } from '@latentkit/backend-node'",
    });
  }
  // A bad limit fails before the (slow) load; the limits given here win over the backend's.
  if (options.limits !== undefined) resolvePipelineLimits(options.limits);
  const parts = await backend.load(source, rest as unknown as O);
  return { parts, limits: mergePipelineLimits(parts.limits, options.limits) };
}

/**
 * Refuses loaded parts that do not fit the pipeline: releases their sessions, then throws `error`
 * (every pipeline's `fromPretrained` does this, so a refused model holds nothing).
 */
export async function rejectParts(parts: LoadedPipelineParts, error: Error): Promise<never> {
  await parts.dispose?.();
  throw error;
}

/**
 * The error of a pipeline other than StableDiffusionXLPipeline given an SDXL model (`parts.sdxl`): its
 * two text encoders and micro-conditioned UNet need the SDXL pipeline.
 */
export function sdxlModelError(source: string, className: string): ModelMismatchError {
  return new ModelMismatchError(
    `${source} is an SDXL model (its UNet takes text_embeds and time_ids, and it has two text encoders), which ${className} cannot run. Fix: load it with StableDiffusionXLPipeline.fromPretrained, or DiffusionPipeline.fromPretrained to pick the class from the model.`,
  );
}
