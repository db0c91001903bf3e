import { ModelInvalidError, NotImplementedError, Tensor } from '@latentkit/core';
import { parseSafetensors } from './safetensors.js';

/**
 * Reads a textual-inversion embedding file into its vectors, whatever tool wrote it:
 *
 * - diffusers (`learned_embeds.safetensors`): one tensor named by its token, `{"<cat-toy>": [D] or [n, D]}`;
 * - AUTOMATIC1111 saved as safetensors: `emb_params` `[n, D]` (the token is the metadata's `name`, else the
 *   file name);
 * - SDXL embeddings (A1111/kohya): `clip_l` `[n, 768]` and `clip_g` `[n, 1280]`, one per text encoder.
 *
 * A1111's `.pt` files (a torch zip holding a pickle) are refused with a `NotImplementedError` that says how to
 * convert them: reading a pickle means running Python's object protocol, which latentkit does not do.
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
 * @throws {@link @latentkit/core!NotImplementedError} for a torch `.pt`/`.bin` file (convert it to
 *   safetensors); {@link @latentkit/core!ModelInvalidError} for a file that is not safetensors, holds
 *   none of the known layouts (the message names its keys), an embedding that is not `[D]`/`[n, D]`, or
 *   non-finite values.
 */
export function parseTextualInversionFile(bytes: Uint8Array, what: string): TextualInversionFile {
  if (isZip(bytes) || isPickle(bytes)) {
    throw new NotImplementedError(
      `${what} is a PyTorch pickle (.pt/.bin, as A1111's string_to_param embeddings and diffusers' learned_embeds.bin are saved), which latentkit does not read: unpickling runs Python's object protocol. ` +
        'Fix: convert it to .safetensors once, e.g. with Python: `import torch; from safetensors.torch import save_file; d = torch.load("x.pt", map_location="cpu"); ' +
        'save_file({"emb_params": d["string_to_param"]["*"].contiguous()}, "x.safetensors")` (for learned_embeds.bin: save_file(torch.load("learned_embeds.bin"), "learned_embeds.safetensors")).',
    );
  }
  const { tensors, metadata } = parseSafetensors(bytes, what);
  const keys = [...tensors.keys()];
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
    const name = metadata['name'];
    return { vectors: clipL, sdxl: { clipL, clipG }, format: 'a1111', ...(name ? { token: name } : {}) };
  }
  if (tensors.has(A1111_KEY)) {
    const name = metadata['name'];
    return { vectors: read(A1111_KEY), format: 'a1111', ...(name ? { token: name } : {}) };
  }
  if (keys.length === 1) {
    const key = keys[0]!;
    return { token: key, vectors: read(key), format: 'diffusers' };
  }
  const shown =
    keys.length > 8 ? `${keys.slice(0, 8).join(', ')}, … (${keys.length} in all)` : keys.join(', ');
  throw new ModelInvalidError(
    `${what} is not a textual-inversion embedding: its tensors are [${shown}], but an embedding holds one tensor named by its token (diffusers' learned_embeds), "emb_params" (A1111) or "clip_l" and "clip_g" (SDXL). ` +
      'Fix: pass an embedding file; a LoRA goes to loadLoraWeights instead.',
  );
}
