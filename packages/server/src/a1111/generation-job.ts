import { InvalidArgumentError, NotImplementedError } from '@latentkit/core';
import type { GenerationRequest } from '../generation-request.js';
import { base64Bytes, decodeImageField, imageAtSize } from '../init-image.js';
import { consecutiveSeeds, resolveSeed } from '../request-checks.js';
import type { ServerContext } from '../server-context.js';
import type { A1111Body } from './body-fields.js';
import { a1111Mask, flattenOnWhite } from './inpaint-mask.js';
import { resolveSampler, usesAncestralEta } from './sampler-names.js';
import { checkUnbuiltFeatures, overrideSettings } from './unsupported-values.js';

/** A body turned into a job, with what the response echoes besides. */
export interface A1111Job {
  /** The job for the queue. */
  job: GenerationRequest;
  /** A1111's subseed, resolved (reported in `info`; variation seeds are not built). */
  subseed: number;
  /** `n_iter` as resolved. */
  nIter: number;
}

/** A1111 η: null is the sampler's default; DDIM takes the value; ancestral / SDE samplers only their default 1. */
function resolveEta(eta: number | null | undefined, sampler: string | undefined): number | undefined {
  if (eta === undefined || eta === null) return undefined;
  if (sampler !== undefined && usesAncestralEta(sampler)) {
    if (eta === 1) return undefined;
    throw new NotImplementedError(
      `"eta": ${eta} with sampler ${JSON.stringify(sampler)}: η other than 1 for ancestral / SDE samplers is not built here. Fix: send "eta": null (or 1), or use DDIM for another η.`,
    );
  }
  // DDIM uses it (diffusers' η); deterministic samplers ignore it, as in A1111.
  return eta;
}

/** The job of a txt2img body (img2img adds its image through {@link img2imgJob}). */
export function txt2imgJob(
  ctx: ServerContext,
  body: A1111Body,
  route: 'txt2img' | 'img2img' = 'txt2img',
): A1111Job {
  checkUnbuiltFeatures(route, body);
  const { clipSkip } = overrideSettings(body.override_settings, ctx.modelName);
  const sampler = resolveSampler(body);
  const eta = resolveEta(body.eta, sampler);
  const batchSize = body.batch_size ?? 1;
  const nIter = body.n_iter ?? 1;
  const job: GenerationRequest = {
    model: ctx.modelName,
    prompt: body.prompt ?? '',
    negativePrompt: body.negative_prompt ?? '',
    width: body.width ?? ctx.defaults.width,
    height: body.height ?? ctx.defaults.height,
    steps: body.steps ?? ctx.defaults.steps,
    guidanceScale: body.cfg_scale ?? ctx.defaults.guidanceScale,
    seeds: consecutiveSeeds(resolveSeed(body.seed ?? -1), batchSize * nIter),
    batchSize,
    livePreview: true, // /sdapi/v1/progress shows a current_image
  };
  if (sampler !== undefined) job.sampler = sampler;
  if (clipSkip !== undefined) job.clipSkip = clipSkip;
  if (eta !== undefined) job.eta = eta;
  const subseed =
    body.subseed === undefined || body.subseed === null || body.subseed === -1
      ? resolveSeed(-1)
      : body.subseed;
  return { job, subseed, nIter };
}

/**
 * The job of an img2img body: the first init image (base64 or a data: URL), flattened onto white and
 * resized to width × height with Lanczos (A1111's resize mode 0); `denoising_strength` (0.75); with a
 * `mask`, inpainting: the mask prepared as A1111 does (alpha or luminance, `inpainting_mask_invert`,
 * `mask_blur`), then resized as the image.
 */
export function img2imgJob(ctx: ServerContext, body: A1111Body): A1111Job {
  const result = txt2imgJob(ctx, body, 'img2img');
  const { job } = result;
  const first = body.init_images?.[0];
  if (first === undefined) {
    throw new InvalidArgumentError({
      name: 'init_images',
      value: body.init_images ?? null,
      expected: 'one image, a base64 PNG (or a data: URL)',
      fix: 'send "init_images": ["<base64 PNG>"]',
    });
  }
  const image = flattenOnWhite(decodeImageField('init_images[0]', base64Bytes('init_images[0]', first)));
  job.initImage = imageAtSize(image, job.width, job.height);
  job.strength = body.denoising_strength ?? ctx.defaults.strength;
  if (body.mask) {
    const mask = decodeImageField('mask', base64Bytes('mask', body.mask));
    const blur = body.mask_blur;
    const prepared = a1111Mask(mask, {
      invert: body.inpainting_mask_invert === 1,
      blurX: blur ?? body.mask_blur_x ?? 4,
      blurY: blur ?? body.mask_blur_y ?? 4,
    });
    job.mask = imageAtSize(prepared, job.width, job.height);
  }
  return result;
}
