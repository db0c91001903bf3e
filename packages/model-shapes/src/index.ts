/**
 * @packageDocumentation
 * `@latentkit/model-shapes`: the model latentkit ships as its default — a tiny Stable Diffusion–style
 * model trained on coloured shapes ("a red circle on a blue background"), 32×32 images, in the
 * diffusers ONNX layout. Node loads it from {@link shapesModelPath}; a browser app serves the folder
 * and fetches {@link shapesModelFiles} relative to its URL. How it was made: `tools/shapes-model/`.
 *
 * @module @latentkit/model-shapes
 */

/**
 * The settings the model card recommends (DDIM is the model's own scheduler): the CLI uses them when
 * it runs the shipped model without `--steps` / `--guidance`.
 */
export const shapesModelDefaults = { numInferenceSteps: 50, guidanceScale: 5 } as const;

/** The model's name, as written in the `Model:` field of generated images' parameters. */
export const shapesModelName = 'shapes';

/** The model folder's URL (`file:` in Node; wherever the bundler put the package otherwise). */
export const shapesModelUrl: URL = new URL('../model/', import.meta.url);

// `node:url`'s fileURLToPath would make this module Node-only; a file URL's path is simple enough.
function fileUrlToPath(url: URL): string {
  const path = decodeURIComponent(url.pathname);
  const windows = typeof process !== 'undefined' && process.platform === 'win32';
  return windows ? path.replace(/^\/([A-Za-z]:)/, '$1').replaceAll('/', '\\') : path;
}

/** A folder's path without the trailing separator for a `file:` URL (Node), else the URL itself. */
function folderPath(url: URL): string {
  return url.protocol === 'file:' ? fileUrlToPath(url).replace(/[\\/]$/, '') : url.href;
}

/** The absolute path of the model folder (Node). Pass it to `fromPretrained` or `latentkit --model`. */
export const shapesModelPath: string = folderPath(shapesModelUrl);

/**
 * Every file of the model folder, relative, with `/` separators — for serving it over HTTP or
 * pre-caching it (a browser cannot list a folder).
 */
export const shapesModelFiles: readonly string[] = [
  'heldout.json',
  'model_index.json',
  'scheduler/scheduler_config.json',
  'text_encoder/config.json',
  'text_encoder/model.onnx',
  'tokenizer/merges.txt',
  'tokenizer/special_tokens_map.json',
  'tokenizer/tokenizer_config.json',
  'tokenizer/vocab.json',
  'unet/config.json',
  'unet/model.onnx',
  'vae_decoder/config.json',
  'vae_decoder/model.onnx',
  'vae_encoder/config.json',
  'vae_encoder/model.onnx',
];

/**
 * The settings the model card recommends for the shapes x4 upscaler ({@link shapesUpscalerPath}), measured
 * on held-out renders by `tools/shapes-upscaler/evaluate.py`: the CLI's `--upscale 4` uses them unless
 * `--upscale-steps` / `--upscale-guidance` / `--noise-level` say otherwise.
 */
export const shapesUpscalerDefaults = { numInferenceSteps: 1, guidanceScale: 1, noiseLevel: 20 } as const;

/** The x4 upscaler folder's URL (`file:` in Node; wherever the bundler put the package otherwise). */
export const shapesUpscalerUrl: URL = new URL('../upscaler/', import.meta.url);

/**
 * The absolute path of the shapes world's x4 upscaler (Node): a `StableDiffusionUpscalePipeline` folder
 * (diffusers' x4 upscaler layout, ONNX) that turns the shipped model's 32×32 images into 128×128 ones.
 * How it was trained and how well it does: `MODEL_CARD.md`, `tools/shapes-upscaler/`.
 */
export const shapesUpscalerPath: string = folderPath(shapesUpscalerUrl);

/**
 * Every file of the upscaler folder, relative, with `/` separators — for serving it over HTTP or
 * pre-caching it (a browser cannot list a folder).
 */
export const shapesUpscalerFiles: readonly string[] = [
  'low_res_scheduler/scheduler_config.json',
  'model_index.json',
  'scheduler/scheduler_config.json',
  'text_encoder/config.json',
  'text_encoder/model.onnx',
  'tokenizer/merges.txt',
  'tokenizer/special_tokens_map.json',
  'tokenizer/tokenizer_config.json',
  'tokenizer/vocab.json',
  'unet/config.json',
  'unet/model.onnx',
  'upscaler.json',
  'vae_decoder/config.json',
  'vae_decoder/model.onnx',
];

/**
 * The settings the layout model's card recommends (`layout/layout.json` `recommended`, the best of
 * `tools/shapes-layout/evaluate.py` on the held-out layouts): the CLI's `--box` uses them unless `--steps`,
 * `--guidance` or `--gligen-beta` say otherwise.
 */
export const shapesLayoutDefaults = {
  numInferenceSteps: 25,
  guidanceScale: 4,
  gligenScheduledSamplingBeta: 1,
} as const;

/** The layout model folder's URL (`file:` in Node; wherever the bundler put the package otherwise). */
export const shapesLayoutModelUrl: URL = new URL('../layout/', import.meta.url);

/**
 * The absolute path of the shapes world's layout-to-image model (Node): a `StableDiffusionGLIGENPipeline`
 * folder — the shipped model with GLIGEN text-box grounding layers trained on scenes of 1–3 shapes in
 * given boxes (diffusers ONNX layout, the UNet in latentkit's grounded-UNet convention). How it was trained
 * and how well it does: `MODEL_CARD.md`, `tools/shapes-layout/`.
 */
export const shapesLayoutModelPath: string = folderPath(shapesLayoutModelUrl);

/**
 * Every file of the layout model folder, relative, with `/` separators — for serving it over HTTP or
 * pre-caching it (a browser cannot list a folder). `layout.json` holds the recommended settings and the
 * evaluation figures, `heldout-layouts.json` the evaluation layouts.
 */
export const shapesLayoutModelFiles: readonly string[] = [
  'heldout-layouts.json',
  'layout.json',
  'model_index.json',
  'scheduler/scheduler_config.json',
  'text_encoder/config.json',
  'text_encoder/model.onnx',
  'tokenizer/merges.txt',
  'tokenizer/special_tokens_map.json',
  'tokenizer/tokenizer_config.json',
  'tokenizer/vocab.json',
  'unet/config.json',
  'unet/model.onnx',
  'vae_decoder/config.json',
  'vae_decoder/model.onnx',
  'vae_encoder/config.json',
  'vae_encoder/model.onnx',
];

/** The adapters folder's URL (`file:` in Node; wherever the bundler put the package otherwise). */
export const shapesAdaptersUrl: URL = new URL('../adapters/', import.meta.url);

/**
 * The absolute path of the shipped model's adapters (Node): `pink-lora.safetensors`, a kohya-format LoRA
 * (rank 4 on the UNet and text-encoder attention, rank 8 on the UNet ResNet convolutions) that teaches the
 * model the colour pink (best at guidance 3, `adapters.json` `recommended`), and
 * `pink-embedding.safetensors`, a textual-inversion embedding (diffusers format) of the token `<pink>` for
 * the same colour. Load them with `pipe.loadLoraWeights(join(shapesAdaptersPath, 'pink-lora.safetensors'))`
 * or `pipe.loadTextualInversion(...)`; `adapters.json` gives the colour's RGB for the judge. How they were
 * trained and how well they do: `MODEL_CARD.md` ("Adapters: pink"), `tools/shapes-adapters/`.
 */
export const shapesAdaptersPath: string = folderPath(shapesAdaptersUrl);

/** Every file of the adapters folder, relative — for serving it over HTTP (a browser cannot list a folder). */
export const shapesAdapterFiles: readonly string[] = [
  'adapters.json',
  'pink-embedding.safetensors',
  'pink-lora.safetensors',
];

export * from './evaluation/index.js';
