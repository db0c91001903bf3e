import { NonFiniteOutputError } from '../errors.js';
import type { Tensor } from '../tensor.js';

/**
 * The index of the first NaN or ±Infinity in `data`, or −1 when every value is finite. One pass, no
 * allocation: cheap next to a denoiser call (`v − v` is 0 for finite values and NaN otherwise).
 */
export function firstNonFinite(data: Float32Array): number {
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if (v - v !== 0) return i;
  }
  return -1;
}

/** Where non-finite values were found, and what to tell the user about it. */
export interface NonFiniteContext {
  /** What holds the values, e.g. `the latents after step 3 of 20`. */
  where: string;
  /** The 0-based denoising step, when the values appeared in the loop. */
  step?: number;
  /** What usually causes it there. */
  causes: string;
  /** How to fix it. */
  fix: string;
}

/**
 * Throws a {@link NonFiniteOutputError} when `t` holds NaN or ±Infinity; returns `t` otherwise. The
 * message says where, how many values, the first one, the likely causes and the fix.
 */
export function checkFinite(t: Tensor, context: NonFiniteContext): Tensor {
  const first = firstNonFinite(t.data);
  if (first < 0) return t;
  let count = 0;
  for (let i = first; i < t.data.length; i++) if (!Number.isFinite(t.data[i]!)) count++;
  const message =
    `Non-finite values in ${context.where}: ${count} of ${t.data.length} values are NaN or ±Infinity ` +
    `(the first, at flat index ${first}, is ${t.data[first]}). Likely causes: ${context.causes}. ` +
    `Fix: ${context.fix}`;
  throw new NonFiniteOutputError(message, context.step === undefined ? undefined : { step: context.step });
}

/**
 * The check after each scheduler step of the denoising loop: the latents after 0-based `step` of
 * `totalSteps` must be finite, so that NaN never reaches the decoder and the error names the step where
 * it first appeared.
 */
export function checkStepLatents(
  latents: Tensor,
  step: number,
  totalSteps: number,
  timestep: number,
  guidanceScale: number,
): Tensor {
  return checkFinite(latents, {
    where: `the latents after step ${step} of ${totalSteps} (0-based; timestep ${timestep})`,
    step,
    causes:
      `a guidance scale too large for float32 (guidanceScale = ${guidanceScale}), prompt weights far ` +
      'from 1 (e.g. "(word:90)"; the parser refuses weights beyond ±100), or a model or scheduler ' +
      'config that produces NaN (betas outside (0, 1), a broken UNet export); NaN from step 0 on often ' +
      'means the inputs (latents, promptEmbeds) already held it',
    fix:
      'use a usual guidance scale (1–15) and prompt weights near 1 (e.g. "(word:1.3)"), and check the ' +
      "model's scheduler_config.json and UNet",
  });
}

/**
 * The check of the starting latents, before the first step: the caller's noise times
 * `initNoiseSigma`, or (img2img, inpainting) the image's VAE encoding noised with `addNoise`.
 */
export function checkInitialLatents(latents: Tensor): Tensor {
  return checkFinite(latents, {
    where: 'the initial latents (before the first step)',
    causes:
      'NaN in the `latents` option, a VAE encoder whose output overflows (img2img and inpainting), or a scheduler config whose initNoiseSigma or noise levels are not finite',
    fix: "pass finite latents, run the VAE encoder in fp32, and check the model's scheduler_config.json and vae_encoder/config.json",
  });
}

/** The check of the VAE decoder's output (`codec.decode`), before it is turned into pixels. */
export function checkDecodedImage(image: Tensor): Tensor {
  return checkFinite(image, {
    where: "the VAE decoder's output (codec.decode), before conversion to pixels",
    causes:
      'a VAE decoder that overflows (fp16 VAEs overflow on some latents), or a VAE scaling_factor of 0 or far from the one the model was trained with',
    fix: "run the VAE decoder in fp32 (or use a VAE fixed for fp16), and check scaling_factor in the model's vae_decoder/config.json",
  });
}
