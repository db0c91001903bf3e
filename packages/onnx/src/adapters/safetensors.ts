import { ModelInvalidError, Tensor } from '@latentkit/core';
import { float16ToFloat32 } from '../float16.js';

/**
 * Reads the safetensors format (Hugging Face's weight files: LoRA adapters, textual-inversion embeddings):
 * an 8-byte little-endian header length, a JSON header `{name: {dtype, shape, data_offsets}, __metadata__}`,
 * then the raw little-endian tensor bytes. Written here rather than taken from a package because npm has no
 * maintained safetensors reader for JavaScript (`@huggingface/hub` only reads the headers of files on the hub)
 * and the format is this small; every offset is checked, so a truncated or hostile file fails as a
 * {@link @latentkit/core!ModelInvalidError} naming it, never as a `RangeError` or an out-of-bounds read.
 */

/** A safetensors file: its tensors (widened to float32) and its `__metadata__` strings. */
export interface SafetensorsFile {
  /** The tensors by name, as float32 (F16, BF16 and F64 are converted). */
  readonly tensors: ReadonlyMap<string, Tensor>;
  /** The `__metadata__` entries (e.g. kohya's `ss_network_alpha`), empty when there are none. */
  readonly metadata: Readonly<Record<string, string>>;
}

const BYTES: Readonly<Record<string, number>> = { F32: 4, F16: 2, BF16: 2, F64: 8 };
/** The largest header we accept (the format's own reference reader refuses more than 100 MB). */
const MAX_HEADER = 100_000_000;

function toFloat32(dtype: string, raw: Uint8Array): Float32Array {
  // a copy (aligned, offset 0): a Node Buffer's slice() would share the pooled buffer instead
  const copy = new Uint8Array(raw);
  switch (dtype) {
    case 'F32':
      return new Float32Array(copy.buffer, 0, copy.byteLength / 4);
    case 'F16':
      return float16ToFloat32(new Uint16Array(copy.buffer, 0, copy.byteLength / 2));
    case 'BF16': {
      // bfloat16 is the top half of a float32
      const half = new Uint16Array(copy.buffer, 0, copy.byteLength / 2);
      const bits = new Uint32Array(half.length);
      for (let i = 0; i < half.length; i++) bits[i] = half[i]! << 16;
      return new Float32Array(bits.buffer);
    }
    default:
      return Float32Array.from(new Float64Array(copy.buffer, 0, copy.byteLength / 8));
  }
}

/**
 * Parses a safetensors file.
 *
 * @param bytes - The whole file.
 * @param what - The file's name or URL, for messages.
 * @throws {@link @latentkit/core!ModelInvalidError} for a file that is not safetensors, is truncated, or holds a
 *   tensor that is not a float (F32, F16, BF16, F64).
 */
export function parseSafetensors(bytes: Uint8Array, what: string): SafetensorsFile {
  const fail = (why: string): never => {
    throw new ModelInvalidError(
      `${what} could not be read as a safetensors file: ${why}. Fix: download the file again, or convert it to .safetensors (LoRA and embedding files as kohya, A1111 or diffusers save them).`,
    );
  };
  if (bytes.byteLength < 8) fail(`it has ${bytes.byteLength} bytes, fewer than the 8-byte header length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = view.getUint32(0, true) + view.getUint32(4, true) * 2 ** 32;
  if (headerLength > MAX_HEADER || 8 + headerLength > bytes.byteLength) {
    fail(`its header claims ${headerLength} bytes but the file has ${bytes.byteLength}`);
  }
  let header: unknown;
  try {
    header = JSON.parse(
      new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLength)),
    );
  } catch {
    fail('its header is not JSON');
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header))
    fail('its header is not a JSON object');
  const data = bytes.subarray(8 + headerLength);
  const tensors = new Map<string, Tensor>();
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof entry === 'object' && entry !== null) {
        metadata = Object.fromEntries(
          Object.entries(entry as Record<string, unknown>).map(([k, v]) => [k, String(v)]),
        );
      }
      continue;
    }
    const e = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    const size = typeof e?.dtype === 'string' ? BYTES[e.dtype] : undefined;
    if (size === undefined)
      fail(`tensor ${JSON.stringify(name)} has dtype ${JSON.stringify(e?.dtype)}, not F32, F16, BF16 or F64`);
    const shape = e.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
      fail(`tensor ${JSON.stringify(name)} has shape ${JSON.stringify(shape)}, not a list of sizes`);
    }
    const offsets = e.data_offsets;
    if (
      !Array.isArray(offsets) ||
      offsets.length !== 2 ||
      !Number.isInteger(offsets[0]) ||
      !Number.isInteger(offsets[1]) ||
      offsets[0] < 0 ||
      offsets[1] < offsets[0] ||
      offsets[1] > data.byteLength
    ) {
      fail(
        `tensor ${JSON.stringify(name)} has data_offsets ${JSON.stringify(offsets)} outside the ${data.byteLength} data bytes`,
      );
    }
    const [begin, end] = offsets as [number, number];
    const count = (shape as number[]).reduce((a, b) => a * b, 1);
    if (end - begin !== count * size!) {
      fail(
        `tensor ${JSON.stringify(name)} (${e.dtype} ${JSON.stringify(shape)}) needs ${count * size!} bytes but has ${end - begin}`,
      );
    }
    tensors.set(name, new Tensor(toFloat32(e.dtype as string, data.subarray(begin, end)), shape as number[]));
  }
  return { tensors, metadata };
}
