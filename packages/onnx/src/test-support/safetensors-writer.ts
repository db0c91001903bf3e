/**
 * Writes safetensors files for tests (the format's own layout: 8-byte little-endian header length, JSON
 * header padded with spaces to 8 bytes, raw little-endian bytes), including broken ones: `header` and
 * `raw` let a test write any header or bytes it wants.
 */

/** One tensor to write: float values (written as F32) or raw bytes with any dtype. */
export type TestTensor =
  | { readonly shape: readonly number[]; readonly values: readonly number[] }
  | { readonly shape: readonly number[]; readonly dtype: string; readonly bytes: Uint8Array };

/** Encodes tensors (F32 unless raw bytes are given) and metadata as a safetensors file. */
export function writeSafetensors(
  tensors: Readonly<Record<string, TestTensor>>,
  metadata?: Readonly<Record<string, string>>,
): Uint8Array {
  const header: Record<string, unknown> = {};
  if (metadata) header['__metadata__'] = metadata;
  const blobs: Uint8Array[] = [];
  let offset = 0;
  for (const [name, t] of Object.entries(tensors)) {
    const bytes =
      'values' in t ? new Uint8Array(Float32Array.from(t.values).buffer) : (t as { bytes: Uint8Array }).bytes;
    const dtype = 'values' in t ? 'F32' : (t as { dtype: string }).dtype;
    header[name] = { dtype, shape: t.shape, data_offsets: [offset, offset + bytes.length] };
    blobs.push(bytes);
    offset += bytes.length;
  }
  return assemble(JSON.stringify(header), blobs);
}

/** A file from a header text and data bytes as given (for broken headers). */
export function assemble(headerText: string, blobs: readonly Uint8Array[] = []): Uint8Array {
  let head = new TextEncoder().encode(headerText);
  const pad = (8 - (head.length % 8)) % 8;
  if (pad > 0) {
    const padded = new Uint8Array(head.length + pad).fill(0x20);
    padded.set(head);
    head = padded;
  }
  const size = blobs.reduce((n, b) => n + b.length, 0);
  const out = new Uint8Array(8 + head.length + size);
  new DataView(out.buffer).setBigUint64(0, BigInt(head.length), true);
  out.set(head, 8);
  let at = 8 + head.length;
  for (const b of blobs) {
    out.set(b, at);
    at += b.length;
  }
  return out;
}

/** A LoRA layer's tensors in kohya's keys: `<name>.lora_down.weight`, `.lora_up.weight` and `.alpha`. */
export function kohyaLayer(
  name: string,
  down: { shape: number[]; values?: number[] },
  up: { shape: number[]; values?: number[] },
  alpha?: number,
): Record<string, TestTensor> {
  const fill = (t: { shape: number[]; values?: number[] }): TestTensor => ({
    shape: t.shape,
    values: t.values ?? Array.from({ length: t.shape.reduce((a, b) => a * b, 1) }, (_, i) => 0.01 * (i + 1)),
  });
  return {
    [`${name}.lora_down.weight`]: fill(down),
    [`${name}.lora_up.weight`]: fill(up),
    ...(alpha !== undefined ? { [`${name}.alpha`]: { shape: [], values: [alpha] } } : {}),
  };
}
