/**
 * The options of loading a model by its Hugging Face Hub id (`fromPretrained('org/name', { backend:
 * nodeBackend, ... })`, {@link downloadHubModel}, `latentkit download`). Names as diffusers'
 * `from_pretrained` (camelCase); each falls back to the environment variable Python's `huggingface_hub`
 * reads, so one cache and one token serve both.
 */

/** Where a hub download stands: given to {@link HubOptions.onProgress} as bytes arrive. */
export interface HubDownloadProgress {
  /** The file being downloaded, e.g. `unet/model.onnx_data`. */
  readonly file: string;
  /** Bytes of that file received so far. */
  readonly fileBytes: number;
  /** That file's size. */
  readonly fileTotal: number;
  /** Bytes of all files to download received so far. */
  readonly bytes: number;
  /**
   * Bytes of all files to download. It grows once when the external weight files of the ONNX graphs are
   * known (they are named inside the `.onnx` files, which are downloaded first).
   */
  readonly total: number;
  /** Files finished (downloaded and verified). */
  readonly filesDone: number;
  /** Files to download (grows with `total`). */
  readonly filesTotal: number;
}

/** How to find and fetch a model on the Hugging Face Hub (or a mirror). */
export interface HubOptions {
  /** A branch, tag or 40-hex commit (default `main`, or the `/tree/<revision>` of a hub URL). */
  revision?: string;
  /**
   * An access token (`hf_…`) for private or gated repositories; sent only to the hub's origin (a
   * redirect to the file storage drops it). Default: `HF_TOKEN`, else the file `$HF_HOME/token`
   * (`HF_TOKEN_PATH`) that `huggingface-cli login` writes.
   */
  token?: string;
  /**
   * The cache folder, in the layout of Python's `huggingface_hub` (`models--org--name/{blobs,snapshots,refs}`).
   * Default: `HF_HUB_CACHE`, else `$HF_HOME/hub` (`HF_HOME` defaults to `~/.cache/huggingface`).
   */
  cacheDir?: string;
  /**
   * Use only the cache: no request at all, and a `ModelNotFoundError` when the revision's files are not all
   * there. Default: `HF_HUB_OFFLINE` (`1`, `true`, `yes`, `on`), else `false`.
   */
  localFilesOnly?: boolean;
  /** Called as each file's bytes arrive (files found in the cache are not reported). */
  onProgress?: (progress: HubDownloadProgress) => void;
  /** The hub's base URL (a mirror, an enterprise hub). Default: `HF_ENDPOINT`, else `https://huggingface.co`. */
  hubUrl?: string;
  /**
   * Load each component's `model.<variant>.onnx` (diffusers' naming) or `model_<variant>.onnx`
   * (transformers.js' naming) instead of `model.onnx`, e.g. `'fp16'`; works for local folders too. Many
   * hub repos keep fp16 ONNX weights on a branch (`revision: 'fp16'`) or in a repo of their own instead.
   */
  variant?: string;
}

/** Every key of {@link HubOptions}: typed so that tsc fails when an option is added without it. */
export const HUB_OPTION_KEYS: Readonly<Record<keyof HubOptions, true>> = {
  revision: true,
  token: true,
  cacheDir: true,
  localFilesOnly: true,
  onProgress: true,
  hubUrl: true,
  variant: true,
};
