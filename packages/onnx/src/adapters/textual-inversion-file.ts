import { ModelInvalidError, NotImplementedError, Tensor } from '@latentkit/core';
import { parseSafetensors } from './safetensors.js';
import { readTorchZip } from './torch-pickle.js';

/**
 * Reads a textual-inversion embedding file into its vectors, whatever tool wrote it:
 *
 * - diffusers (`learned_embeds.safetensors`): one tensor named by its token, `{"<cat-toy>": [D] or [n, D]}`;
 * - AUTOMATIC1111 saved as safetensors: `emb_params` `[n, D]` (the token is the metadata's `name`, else the
 *   file name);
 * - SDXL embeddings (A1111/kohya): `clip_l` `[n, 768]` and `clip_g` `[n, 1280]`, one per text encoder.
 *
 * - AUTOMATIC1111's `.pt` (`{string_to_param: {'*': [n, D]}, name}`) and diffusers' `learned_embeds.bin`:
 *   PyTorch zip files, read without executing anything (see `torch-pickle.ts`).
 *
 * PyTorch files in the legacy format (before torch 1.6) are refused with a `NotImplementedError` that says
 * how to convert them.
 */

/** What {@link parseTextualInversionFile} found in a file. */
export interface TextualInversionFile {
  /** The token the file names (diffusers' key, A1111's `name`), when it names one. */
  readonly token?: string;
  /**
   * The vectors for the SD 1.x/2.x text encoder (for an SDXL file, `clip_l`'s): `[n, D]`, one row per token
   * (a `[D]` file gives `[1, D]`).
   */
  readonly vectors: Tensor;
  /** For an SDXL file: both encoders' vectors, `clip_l` (CLIP ViT-L, 768 wide) and `clip_g` (OpenCLIP bigG, 1280). */
  readonly sdxl?: { readonly clipL: Tensor; readonly clipG: Tensor };
  /** The format it was read as. */
  readonly format: 'a1111' | 'diffusers';
}

const A1111_KEY = 'emb_params';

/** A tensor `[D]` or `[n, D]` as `[n, D]`; anything else is a ModelInvalidError naming the key. */
function asRows(tensor: Tensor, key: string, what: string): Tensor {
  const shape = tensor.shape;
  if (shape.length === 1 && shape[0]! > 0) return new Tensor(tensor.data, [1, shape[0]!]);
  if (shape.length === 2 && shape[0]! > 0 && shape[1]! > 0) return tensor;
  throw new ModelInvalidError(
    `${what}: the embedding ${JSON.stringify(key)} has shape [${shape.join(', ')}]; expected [D] or [n, D] (n vectors of the text encoder's width D). Fix: use an embedding file made for Stable Diffusion (textual inversion), not another kind of weights.`,
  );
}

function checkFinite(vectors: Tensor, key: string, what: string): void {
  const data = vectors.data;
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i]!)) {
      const d = vectors.shape[1]!;
      throw new ModelInvalidError(
        `${what}: the embedding ${JSON.stringify(key)} holds ${data[i]} at vector ${Math.floor(i / d)}, column ${i % d}; expected finite numbers (the image would be NaN). Fix: download the file again, or retrain the embedding (its training diverged).`,
      );
    }
  }
}

function isZip(bytes: Uint8Array): boolean {
  return (
    bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04
  );
}

function isPickle(bytes: Uint8Array): boolean {
  // protocol 2+ pickles (torch's legacy format) start with PROTO (0x80) and the protocol number
  return bytes.length >= 2 && bytes[0] === 0x80 && bytes[1]! >= 2 && bytes[1]! <= 5;
}

/**
 * Parses a textual-inversion embedding file.
 *
 * @param bytes - The whole file.
 * @param what - The file's name or URL, for messages.
 * @returns The vectors `[n, D]`, the token the file names (if any) and its format.
 * @throws {@link @latentkit/core!NotImplementedError} for a legacy-format torch file (convert it to
 *   safetensors); {@link @latentkit/core!ModelInvalidError} for a file that is neither safetensors nor a torch zip, holds
 *   none of the known layouts (the message names its keys), an embedding that is not `[D]`/`[n, D]`, or
 *   non-finite values.
 */
export function parseTextualInversionFile(bytes: Uint8Array, what: string): TextualInversionFile {
  if (isPickle(bytes)) {
    throw new NotImplementedError(
      `${what} is a PyTorch file in the legacy (before torch 1.6) pickle format, which latentkit does not read. ` +
        'Fix: convert it to .safetensors once, e.g. with Python: `import torch; from safetensors.torch import save_file; d = torch.load("x.pt", map_location="cpu"); ' +
        'save_file({"emb_params": d["string_to_param"]["*"].contiguous()}, "x.safetensors")`.',
    );
  }
  const { tensors, name, keys } = isZip(bytes) ? torchLayout(bytes, what) : safetensorsLayout(bytes, what);
  const read = (key: string): Tensor => {
    const rows = asRows(tensors.get(key)!, key, what);
    checkFinite(rows, key, what);
    return rows;
  };
  if (tensors.has('clip_l') && tensors.has('clip_g')) {
    const clipL = read('clip_l');
    const clipG = read('clip_g');
    if (clipL.shape[0] !== clipG.shape[0]) {
      throw new ModelInvalidError(
        `${what}: clip_l has ${clipL.shape[0]} vectors but clip_g has ${clipG.shape[0]}; an SDXL embedding has the same number for both text encoders. Fix: use an intact SDXL embedding file.`,
      );
    }
    return { vectors: clipL, sdxl: { clipL, clipG }, format: 'a1111', ...(name ? { token: name } : {}) };
  }
  if (tensors.has(A1111_KEY)) {
    return { vectors: read(A1111_KEY), format: 'a1111', ...(name ? { token: name } : {}) };
  }
  if (keys.length === 1 && tensors.size === 1) {
    const key = keys[0]!;
    return { token: key, vectors: read(key), format: 'diffusers' };
  }
  const shown =
    keys.length > 8 ? `${keys.slice(0, 8).join(', ')}, … (${keys.length} in all)` : keys.join(', ');
  throw new ModelInvalidError(
    `${what} is not a textual-inversion embedding: its entries are [${shown}], but an embedding holds one tensor named by its token (diffusers' learned_embeds), "emb_params" or "string_to_param" (A1111) or "clip_l" and "clip_g" (SDXL). ` +
      'Fix: pass an embedding file; a LoRA goes to loadLoraWeights instead.',
  );
}

/** The tensors of a file, the name it stores (A1111's `name`, safetensors metadata `name`), and its keys. */
interface Layout {
  tensors: ReadonlyMap<string, Tensor>;
  name: string | undefined;
  keys: readonly string[];
}

function safetensorsLayout(bytes: Uint8Array, what: string): Layout {
  const { tensors, metadata } = parseSafetensors(bytes, what);
  return { tensors, name: metadata['name'] || undefined, keys: [...tensors.keys()] };
}

/** A torch file: A1111's `{string_to_param: {'*': t}, name}` or a dict of tensors (`learned_embeds.bin`). */
function torchLayout(bytes: Uint8Array, what: string): Layout {
  const root = readTorchZip(bytes, what);
  if (typeof root !== 'object' || root === null || Array.isArray(root) || root instanceof Tensor) {
    throw new ModelInvalidError(
      `${what} holds a ${root instanceof Tensor ? 'bare tensor' : typeof root}, not a dict: it is not a textual-inversion embedding. Fix: pass an A1111 .pt embedding or diffusers' learned_embeds.bin.`,
    );
  }
  const dict = root as Record<string, unknown>;
  const keys = Object.keys(dict);
  const param = (dict['string_to_param'] as Record<string, unknown> | undefined)?.['*'];
  const name = typeof dict['name'] === 'string' && dict['name'] ? dict['name'] : undefined;
  if (param instanceof Tensor) return { tensors: new Map([[A1111_KEY, param]]), name, keys };
  const tensors = new Map<string, Tensor>();
  for (const [key, value] of Object.entries(dict)) if (value instanceof Tensor) tensors.set(key, value);
  return { tensors, name, keys };
}
