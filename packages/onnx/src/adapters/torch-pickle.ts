import { ModelInvalidError, NotImplementedError, Tensor } from '@latentkit/core';
import { unzipSync } from 'fflate';
import { NameRegistry, Parser } from 'pickleparser';
import { float16ToFloat32 } from '../float16.js';

/**
 * Reads the tensors out of a PyTorch file saved by `torch.save` (torch ≥ 1.6: a zip holding `data.pkl` and
 * one `data/<key>` entry per storage) — A1111's `.pt` embeddings and diffusers' `learned_embeds.bin`. The
 * pickle is read with `pickleparser` and nothing in it is executed: only `torch._utils._rebuild_tensor_v2`,
 * the float storage classes and `collections.OrderedDict` are given meaning; any other class becomes an inert
 * placeholder object. Storages are looked up by their persistent id `('storage', type, key, location, n)`.
 */

/** Largest total size of the entries we unzip (embeddings are kilobytes; this refuses a zip bomb). */
const MAX_UNZIPPED = 256 * 1024 * 1024;

const STORAGE_BYTES: Readonly<Record<string, number>> = {
  FloatStorage: 4,
  HalfStorage: 2,
  BFloat16Storage: 2,
  DoubleStorage: 8,
};

/** What `data/<key>` holds, as the persistent id names it. */
interface StorageRef {
  readonly type: string;
  readonly bytes: Uint8Array;
}

/** What an unknown GLOBAL in the pickle became (pickleparser's inert placeholder), for messages. */
function describeGlobal(value: unknown): string {
  const v = value as { __module__?: unknown; __name__?: unknown; name?: unknown } | undefined;
  if (typeof v?.__module__ === 'string' && typeof v.__name__ === 'string')
    return `${v.__module__}.${v.__name__}`;
  return typeof v?.name === 'string' && v.name ? v.name : String(value);
}

function storageValues(storage: StorageRef): Float32Array {
  const copy = storage.bytes.slice(); // aligned
  switch (storage.type) {
    case 'FloatStorage':
      return new Float32Array(copy.buffer, 0, copy.byteLength >> 2);
    case 'HalfStorage':
      return float16ToFloat32(new Uint16Array(copy.buffer, 0, copy.byteLength >> 1));
    case 'BFloat16Storage': {
      const half = new Uint16Array(copy.buffer, 0, copy.byteLength >> 1);
      const bits = new Uint32Array(half.length);
      for (let i = 0; i < half.length; i++) bits[i] = half[i]! << 16;
      return new Float32Array(bits.buffer);
    }
    default:
      return Float32Array.from(new Float64Array(copy.buffer, 0, copy.byteLength >> 3));
  }
}

/**
 * Unpickles a torch zip file into plain values: dicts as objects, tensors as {@link Tensor} (float32; float16,
 * bfloat16 and float64 storages are converted).
 *
 * @param bytes - The `.pt` / `.bin` file.
 * @param what - Its name, for messages.
 * @throws {@link @latentkit/core!ModelInvalidError} for a zip that is not a torch file (no `data.pkl`),
 *   is corrupt, or references storages it does not hold; {@link @latentkit/core!NotImplementedError} for a
 *   tensor of a non-float type.
 */
export function readTorchZip(bytes: Uint8Array, what: string): unknown {
  const invalid = (why: string, cause?: unknown): never => {
    throw new ModelInvalidError(
      `${what} could not be read as a PyTorch file: ${why}. Fix: download the file again, or convert it to .safetensors.`,
      cause === undefined ? undefined : { cause },
    );
  };
  let files: Record<string, Uint8Array> = {};
  let total = 0;
  try {
    files = unzipSync(bytes, {
      filter: (file) => {
        total += file.originalSize;
        if (total > MAX_UNZIPPED) invalid(`its entries unpack to more than ${MAX_UNZIPPED} bytes`);
        return file.name.endsWith('.pkl') || /\/data\/\d+$/.test(file.name);
      },
    });
  } catch (error) {
    if (error instanceof ModelInvalidError) throw error;
    invalid('it is not an intact zip file', error);
  }
  const pkl = Object.keys(files).find((name) => name.endsWith('/data.pkl') || name === 'data.pkl');
  if (pkl === undefined) invalid('the zip has no data.pkl (it is not a file torch.save wrote)');
  const prefix = pkl!.slice(0, -'data.pkl'.length);

  const names = new NameRegistry();
  // the pickle names a storage class by a GLOBAL that is never called: remember which object stands for which
  const storageTypes = new Map<unknown, string>();
  for (const type of [
    ...Object.keys(STORAGE_BYTES),
    'LongStorage',
    'IntStorage',
    'ByteStorage',
    'BoolStorage',
  ]) {
    const marker = () => type;
    storageTypes.set(marker, type);
    names.register('torch', type, marker);
  }
  names.register('collections', 'OrderedDict', () => ({}));
  names.register(
    'torch._utils',
    '_rebuild_tensor_v2',
    (storage: StorageRef, offset: number, size: number[], stride: number[]) =>
      rebuildTensor(storage, offset, size, stride, what),
  );
  const parser = new Parser({
    nameResolver: names,
    persistentResolver: {
      resolve: (pid: unknown): StorageRef => {
        const [kind, type, key] = Array.isArray(pid) ? pid : [];
        const data = files[`${prefix}data/${key}`];
        if (kind !== 'storage' || data === undefined) {
          invalid(`its pickle references storage ${JSON.stringify(key)}, which the zip does not hold`);
        }
        const name = storageTypes.get(type) ?? describeGlobal(type);
        if (!(name in STORAGE_BYTES)) {
          throw new NotImplementedError(
            `${what} holds a tensor of storage type ${name}; textual-inversion embeddings are float tensors (FloatStorage, HalfStorage, BFloat16Storage). Fix: save the embedding as float32.`,
          );
        }
        return { type: name, bytes: data! };
      },
    },
    unpicklingTypeOfDictionary: 'object',
  });
  try {
    return parser.parse(files[pkl!]!);
  } catch (error) {
    if (error instanceof ModelInvalidError || error instanceof NotImplementedError) throw error;
    return invalid(`its pickle could not be read (${(error as Error)?.message ?? String(error)})`, error);
  }
}

function rebuildTensor(
  storage: StorageRef,
  offset: number,
  size: number[],
  stride: number[],
  what: string,
): Tensor {
  const values = storageValues(storage);
  const ok =
    Array.isArray(size) &&
    Array.isArray(stride) &&
    size.length === stride.length &&
    Number.isInteger(offset) &&
    offset >= 0 &&
    size.every((d) => Number.isInteger(d) && d >= 0) &&
    stride.every((s) => Number.isInteger(s) && s >= 0);
  const count = ok ? size.reduce((a, b) => a * b, 1) : 0;
  const last = ok && count > 0 ? offset + size.reduce((a, d, i) => a + (d - 1) * stride[i]!, 0) : -1;
  if (!ok || last >= values.length) {
    throw new ModelInvalidError(
      `${what} holds a tensor of size ${JSON.stringify(size)}, stride ${JSON.stringify(stride)} and offset ${offset} that does not fit its storage of ${values.length} values. Fix: download the file again, or convert it to .safetensors.`,
    );
  }
  // gather by strides (torch.save keeps views as they are)
  const out = new Float32Array(count);
  const index = new Array<number>(size.length).fill(0);
  for (let i = 0; i < count; i++) {
    let at = offset;
    for (let k = 0; k < size.length; k++) at += index[k]! * stride[k]!;
    out[i] = values[at]!;
    for (let k = size.length - 1; k >= 0; k--) {
      if (++index[k]! < size[k]!) break;
      index[k] = 0;
    }
  }
  return new Tensor(out, size);
}
