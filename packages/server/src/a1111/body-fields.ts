/**
 * The bodies of A1111's `POST /sdapi/v1/txt2img` and `/img2img` (A1111 1.10's
 * `StableDiffusionTxt2ImgProcessingAPI` / `StableDiffusionImg2ImgProcessingAPI`): every field, its JSON
 * type and A1111's default. Clients send them all (with the defaults), so every field is accepted; which
 * values this server acts on, ignores, or refuses with 501 is `unsupported-values.ts`.
 */

type JsonSchema = Record<string, unknown>;

// Every field of A1111's models is Optional: null means "the default".
const nullable = (type: string, extra: JsonSchema = {}): JsonSchema => ({ type: [type, 'null'], ...extra });
const STRING = nullable('string');
const INT = nullable('integer');
const NUMBER = nullable('number');
const BOOL = nullable('boolean');
const OBJECT = nullable('object');
const ARRAY = nullable('array');
const COUNT = nullable('integer', { minimum: 1 });

/** The fields both routes share (A1111's `StableDiffusionProcessing`), with their JSON schemas. */
const COMMON: Readonly<Record<string, JsonSchema>> = {
  prompt: STRING,
  negative_prompt: STRING,
  styles: nullable('array', { items: { type: 'string' } }),
  seed: INT,
  subseed: INT,
  subseed_strength: NUMBER,
  seed_resize_from_h: INT,
  seed_resize_from_w: INT,
  sampler_name: STRING,
  scheduler: STRING,
  batch_size: COUNT,
  n_iter: COUNT,
  steps: COUNT,
  cfg_scale: nullable('number', { minimum: 0 }),
  width: COUNT,
  height: COUNT,
  restore_faces: BOOL,
  tiling: BOOL,
  do_not_save_samples: BOOL,
  do_not_save_grid: BOOL,
  eta: NUMBER,
  denoising_strength: nullable('number', { minimum: 0, maximum: 1 }),
  s_min_uncond: NUMBER,
  s_churn: NUMBER,
  s_tmax: NUMBER,
  s_tmin: NUMBER,
  s_noise: NUMBER,
  override_settings: OBJECT,
  override_settings_restore_afterwards: BOOL,
  refiner_checkpoint: STRING,
  refiner_switch_at: NUMBER,
  disable_extra_networks: BOOL,
  firstpass_image: STRING,
  comments: OBJECT,
  sampler_index: STRING,
  script_name: STRING,
  script_args: ARRAY,
  send_images: BOOL,
  save_images: BOOL,
  alwayson_scripts: OBJECT,
  force_task_id: STRING,
  infotext: STRING,
};

/** txt2img's own fields (hires fix). */
const TXT2IMG_ONLY: Readonly<Record<string, JsonSchema>> = {
  enable_hr: BOOL,
  firstphase_width: INT,
  firstphase_height: INT,
  hr_scale: NUMBER,
  hr_upscaler: STRING,
  hr_second_pass_steps: INT,
  hr_resize_x: INT,
  hr_resize_y: INT,
  hr_checkpoint_name: STRING,
  hr_sampler_name: STRING,
  hr_scheduler: STRING,
  hr_prompt: STRING,
  hr_negative_prompt: STRING,
};

/** img2img's own fields (init image, mask, inpainting). */
const IMG2IMG_ONLY: Readonly<Record<string, JsonSchema>> = {
  init_images: nullable('array', { items: { type: 'string' } }),
  resize_mode: INT,
  image_cfg_scale: NUMBER,
  mask: STRING,
  mask_blur_x: nullable('integer', { minimum: 0 }),
  mask_blur_y: nullable('integer', { minimum: 0 }),
  mask_blur: nullable('integer', { minimum: 0 }),
  mask_round: BOOL,
  inpainting_fill: INT,
  // A bool in A1111; clients also send 0 / 1 (pydantic takes both).
  inpaint_full_res: {
    anyOf: [{ type: 'boolean' }, { type: 'integer', minimum: 0, maximum: 1 }, { type: 'null' }],
  },
  inpaint_full_res_padding: INT,
  inpainting_mask_invert: nullable('integer', { minimum: 0, maximum: 1 }),
  initial_noise_multiplier: NUMBER,
  latent_mask: STRING,
  include_init_images: BOOL,
};

function bodySchema(properties: Readonly<Record<string, JsonSchema>>): JsonSchema {
  return { type: 'object', properties };
}

/** Fastify's body schema of `POST /sdapi/v1/txt2img`. */
export const txt2imgSchema = bodySchema({ ...COMMON, ...TXT2IMG_ONLY });
/** Fastify's body schema of `POST /sdapi/v1/img2img`. */
export const img2imgSchema = bodySchema({ ...COMMON, ...IMG2IMG_ONLY });

/** The field names of a txt2img body (for the did-you-mean check). */
export const TXT2IMG_FIELDS: readonly string[] = Object.keys({ ...COMMON, ...TXT2IMG_ONLY });
/** The field names of an img2img body. */
export const IMG2IMG_FIELDS: readonly string[] = Object.keys({ ...COMMON, ...IMG2IMG_ONLY });

/** A txt2img or img2img body after schema validation: A1111's fields, each optional or null. */
export interface A1111Body {
  prompt?: string | null;
  negative_prompt?: string | null;
  styles?: string[] | null;
  seed?: number | null;
  subseed?: number | null;
  subseed_strength?: number | null;
  seed_resize_from_h?: number | null;
  seed_resize_from_w?: number | null;
  sampler_name?: string | null;
  scheduler?: string | null;
  sampler_index?: string | null;
  batch_size?: number | null;
  n_iter?: number | null;
  steps?: number | null;
  cfg_scale?: number | null;
  width?: number | null;
  height?: number | null;
  eta?: number | null;
  denoising_strength?: number | null;
  override_settings?: Record<string, unknown> | null;
  send_images?: boolean | null;
  // img2img
  init_images?: string[] | null;
  resize_mode?: number | null;
  mask?: string | null;
  mask_blur_x?: number | null;
  mask_blur_y?: number | null;
  mask_blur?: number | null;
  mask_round?: boolean | null;
  inpainting_fill?: number | null;
  inpaint_full_res?: boolean | number | null;
  inpainting_mask_invert?: number | null;
  include_init_images?: boolean | null;
  /** The other fields, checked by name in `unsupported-values.ts`. */
  [field: string]: unknown;
}

/** A1111 1.10's defaults of the shared fields (echoed in a response's `parameters`). */
const COMMON_DEFAULTS: Readonly<Record<string, unknown>> = {
  prompt: '',
  negative_prompt: '',
  styles: null,
  seed: -1,
  subseed: -1,
  subseed_strength: 0,
  seed_resize_from_h: -1,
  seed_resize_from_w: -1,
  sampler_name: null,
  scheduler: null,
  batch_size: 1,
  n_iter: 1,
  steps: 50,
  cfg_scale: 7,
  width: 512,
  height: 512,
  restore_faces: null,
  tiling: null,
  do_not_save_samples: false,
  do_not_save_grid: false,
  eta: null,
  denoising_strength: null,
  s_min_uncond: null,
  s_churn: null,
  s_tmax: null,
  s_tmin: null,
  s_noise: null,
  override_settings: null,
  override_settings_restore_afterwards: true,
  refiner_checkpoint: null,
  refiner_switch_at: null,
  disable_extra_networks: false,
  firstpass_image: null,
  comments: null,
  sampler_index: 'Euler',
  script_name: null,
  script_args: [],
  send_images: true,
  save_images: false,
  alwayson_scripts: {},
  force_task_id: null,
  infotext: null,
};

/** A1111 1.10's txt2img defaults. */
export const TXT2IMG_DEFAULTS: Readonly<Record<string, unknown>> = {
  ...COMMON_DEFAULTS,
  enable_hr: false,
  firstphase_width: 0,
  firstphase_height: 0,
  hr_scale: 2,
  hr_upscaler: null,
  hr_second_pass_steps: 0,
  hr_resize_x: 0,
  hr_resize_y: 0,
  hr_checkpoint_name: null,
  hr_sampler_name: null,
  hr_scheduler: null,
  hr_prompt: '',
  hr_negative_prompt: '',
};

/** A1111 1.10's img2img defaults. */
export const IMG2IMG_DEFAULTS: Readonly<Record<string, unknown>> = {
  ...COMMON_DEFAULTS,
  denoising_strength: 0.75,
  init_images: null,
  resize_mode: 0,
  image_cfg_scale: null,
  mask: null,
  mask_blur_x: 4,
  mask_blur_y: 4,
  mask_blur: null,
  mask_round: true,
  inpainting_fill: 0,
  inpaint_full_res: true,
  inpaint_full_res_padding: 0,
  inpainting_mask_invert: 0,
  initial_noise_multiplier: null,
  latent_mask: null,
  include_init_images: false,
};
