import { NotImplementedError } from '@latentkit/core';
import type { A1111Body } from './body-fields.js';

/**
 * A field whose A1111 feature this server does not build: its neutral values (what A1111 clients send by
 * default, and what leaves the image as latentkit makes it) are accepted; any other value is refused with
 * 501 NOT_IMPLEMENTED naming the field and what to send instead — never ignored, since that would return a
 * silently different image.
 */
interface Unbuilt {
  field: string;
  /** Whether the value changes nothing here (`undefined` and `null` always do). */
  neutral: (value: unknown, body: A1111Body) => boolean;
  /** The feature, for the message. */
  feature: string;
  /** What to send instead. */
  send: string;
}

const isFalse = (v: unknown) => v === false || v === 0;
const isEmptyText = (v: unknown) => v === '' || v === 'None' || v === 'none';
const isEmpty = (v: unknown) =>
  (Array.isArray(v) && v.length === 0) ||
  (typeof v === 'object' && v !== null && Object.keys(v).length === 0);

/** Both routes. */
const COMMON: readonly Unbuilt[] = [
  {
    field: 'styles',
    neutral: isEmpty,
    feature: 'prompt styles',
    send: '"styles": [] (put the style text into the prompt)',
  },
  {
    field: 'subseed_strength',
    neutral: (v) => v === 0,
    feature: 'variation seeds',
    send: '"subseed_strength": 0',
  },
  {
    field: 'seed_resize_from_h',
    neutral: (v) => typeof v === 'number' && v <= 0,
    feature: '"resize seed from"',
    send: '"seed_resize_from_h": -1',
  },
  {
    field: 'seed_resize_from_w',
    neutral: (v) => typeof v === 'number' && v <= 0,
    feature: '"resize seed from"',
    send: '"seed_resize_from_w": -1',
  },
  { field: 'restore_faces', neutral: isFalse, feature: 'face restoration', send: '"restore_faces": false' },
  { field: 'tiling', neutral: isFalse, feature: 'tiling (seamless images)', send: '"tiling": false' },
  {
    field: 's_min_uncond',
    neutral: (v) => v === 0,
    feature: 'negative guidance minimum sigma (NGMS)',
    send: '"s_min_uncond": 0',
  },
  { field: 's_churn', neutral: (v) => v === 0, feature: 'sigma churn', send: '"s_churn": 0' },
  { field: 's_noise', neutral: (v) => v === 1, feature: 'sigma noise', send: '"s_noise": 1' },
  {
    field: 'refiner_checkpoint',
    neutral: isEmptyText,
    feature: 'a refiner model',
    send: '"refiner_checkpoint": null (serve the refiner as a model of its own)',
  },
  {
    field: 'firstpass_image',
    neutral: isEmptyText,
    feature: 'a given first-pass image',
    send: '"firstpass_image": null (or use /sdapi/v1/img2img)',
  },
  {
    field: 'script_name',
    neutral: isEmptyText,
    feature: 'scripts',
    send: '"script_name": null',
  },
  {
    field: 'alwayson_scripts',
    neutral: isEmpty,
    feature: 'always-on scripts (ControlNet and other extensions)',
    send: '"alwayson_scripts": {}',
  },
  {
    field: 'infotext',
    neutral: isEmptyText,
    feature: 'settings from an infotext',
    send: 'the settings as fields, and "infotext": null',
  },
];

/** txt2img only. */
const TXT2IMG: readonly Unbuilt[] = [
  {
    field: 'enable_hr',
    neutral: isFalse,
    feature: 'hires fix',
    send: '"enable_hr": false (then upscale and run /sdapi/v1/img2img on the result)',
  },
];

/** img2img only; the inpainting fields matter only with a mask. */
const IMG2IMG: readonly Unbuilt[] = [
  {
    field: 'resize_mode',
    neutral: (v) => v === 0,
    feature: 'resize modes other than 0 ("Just resize")',
    send: '"resize_mode": 0 (the image is resized to width × height with Lanczos)',
  },
  {
    field: 'init_images',
    neutral: (v) => Array.isArray(v) && v.length <= 1,
    feature: 'several init images',
    send: 'one image in "init_images"',
  },
  {
    field: 'initial_noise_multiplier',
    neutral: (v) => v === 1,
    feature: 'an initial noise multiplier',
    send: '"initial_noise_multiplier": 1',
  },
  {
    field: 'latent_mask',
    neutral: isEmptyText,
    feature: 'a separate latent mask',
    send: '"latent_mask": null',
  },
  {
    field: 'inpaint_full_res',
    neutral: (v, body) => isFalse(v) || !body.mask,
    feature: 'inpainting "Only masked" (inpaint_full_res)',
    send: '"inpaint_full_res": false ("Whole picture")',
  },
  {
    field: 'inpainting_fill',
    neutral: (v, body) => v === 1 || !body.mask,
    feature: `masked content other than 1 ("original", what latentkit's inpainting does)`,
    send: '"inpainting_fill": 1',
  },
  {
    field: 'mask_round',
    neutral: (v, body) => v === true || !body.mask,
    feature: 'an unrounded latent mask (latentkit binarises the mask as diffusers does)',
    send: '"mask_round": true',
  },
];

/** The keys of `override_settings` this server knows, and their neutral values. */
const NEUTRAL_OVERRIDES: Readonly<Record<string, (v: unknown) => boolean>> = {
  sd_vae: (v) => v === 'Automatic' || v === 'None' || v === '',
  eta_noise_seed_delta: (v) => v === 0,
  // Where and whether A1111 saves files: this server keeps none, the images are in the response.
  samples_save: () => true,
  grid_save: () => true,
  save_images_add_number: () => true,
  samples_format: (v) => v === 'png',
};

/**
 * Refuses (501 NOT_IMPLEMENTED) the first field whose value asks for a feature this server does not build.
 *
 * @throws NotImplementedError naming the field, the feature and what to send instead.
 */
export function checkUnbuiltFeatures(route: 'txt2img' | 'img2img', body: A1111Body): void {
  const rules = [...COMMON, ...(route === 'txt2img' ? TXT2IMG : IMG2IMG)];
  for (const rule of rules) {
    const value = body[rule.field];
    if (value === undefined || value === null || rule.neutral(value, body)) continue;
    throw new NotImplementedError(
      `"${rule.field}": ${JSON.stringify(value)} asks for ${rule.feature}, which this server does not build. Fix: send ${rule.send}.`,
    );
  }
}

/**
 * The CLIP skip of `override_settings` (A1111's `CLIP_stop_at_last_layers`), after checking its other keys:
 * `sd_model_checkpoint` must name the served model; keys that change nothing here are accepted.
 *
 * @throws NotImplementedError for another model, or a setting this server does not apply per request.
 */
export function overrideSettings(
  overrides: Record<string, unknown> | null | undefined,
  modelName: string,
): { clipSkip?: number } {
  const out: { clipSkip?: number } = {};
  for (const [key, value] of Object.entries(overrides ?? {})) {
    if (key === 'CLIP_stop_at_last_layers') {
      if (!Number.isInteger(value) || (value as number) < 1) {
        throw new NotImplementedError(
          `override_settings.CLIP_stop_at_last_layers = ${JSON.stringify(value)} is not a CLIP skip (a whole number ≥ 1). Fix: send e.g. 2.`,
        );
      }
      out.clipSkip = value as number;
    } else if (key === 'sd_model_checkpoint') {
      if (!isServedModel(value, modelName)) {
        throw new NotImplementedError(
          `override_settings.sd_model_checkpoint = ${JSON.stringify(value)}: this server serves one model, ${JSON.stringify(modelName)}, and does not switch models. Fix: leave sd_model_checkpoint out, or send ${JSON.stringify(modelName)}.`,
        );
      }
    } else if (!NEUTRAL_OVERRIDES[key]?.(value)) {
      throw new NotImplementedError(
        `override_settings.${key} = ${JSON.stringify(value)} is not applied by this server. Fix: leave it out; per-request settings here: CLIP_stop_at_last_layers, sd_model_checkpoint (the served model).`,
      );
    }
  }
  return out;
}

/** Whether an A1111 checkpoint name (`name`, `name.safetensors`, `name [hash]`) names the served model. */
export function isServedModel(value: unknown, modelName: string): boolean {
  if (typeof value !== 'string') return false;
  const bare = value
    .replace(/\s*\[[0-9a-f]+\]\s*$/i, '')
    .replace(/\.(safetensors|ckpt)$/i, '')
    .trim();
  return bare === modelName || value === modelName;
}
