/**
 * Builds safetensors files in tests (8-byte little-endian header length, JSON header, raw little-endian
 * float32 data), so that tests can make embedding and LoRA files of any layout, including broken ones.
 */

/** One tensor: its shape and, optionally, its values (default 0.01·i). */
export interface TensorSpec {
  /** The shape. */
  shape: number[];
  /** The values, row-major (default 0.01·i). */
  values?: number[];
}

/**
 * A safetensors file holding F32 tensors.
 *
 * @param tensors - The tensors by name (a shape alone gets values 0.01·i).
 * @param metadata - The `__metadata__` strings, if any.
 */
export function safetensorsBytes(
  tensors: Record<string, number[] | TensorSpec>,
  metadata?: Record<string, string>,
): Uint8Array {
  const header: Record<string, unknown> = metadata ? { __metadata__: metadata } : {};
  const chunks: Float32Array[] = [];
  let offset = 0;
  for (const [name, spec] of Object.entries(tensors)) {
    const { shape, values } = Array.isArray(spec) ? { shape: spec, values: undefined } : spec;
    const n = shape.reduce((a, b) => a * b, 1);
    const data = values ? Float32Array.from(values) : Float32Array.from({ length: n }, (_, i) => 0.01 * i);
    chunks.push(data);
    header[name] = { dtype: 'F32', shape, data_offsets: [offset, offset + data.byteLength] };
    offset += data.byteLength;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + offset);
  new DataView(out.buffer).setUint32(0, json.length, true);
  out.set(json, 8);
  let at = 8 + json.length;
  for (const c of chunks) {
    out.set(new Uint8Array(c.buffer), at);
    at += c.byteLength;
  }
  return out;
}
