import { WireType } from './onnx-protobuf.js';

/**
 * A minimal protobuf wire-format writer, the counterpart of `onnx-protobuf.ts`'s reader, for rebuilding
 * the few ONNX messages the initializer patcher changes (a TensorProto, and the GraphProto and ModelProto
 * around it, whose length prefixes change with it).
 *
 * A message is kept as a list of byte chunks — views of the original file where fields are copied
 * unchanged — and only {@link ProtoWriter.finish} concatenates them, so a model is copied once however
 * deep the rebuilt message sits.
 */
export class ProtoWriter {
  readonly #chunks: Uint8Array[] = [];
  #length = 0;

  /** The encoded size so far, in bytes. */
  get length(): number {
    return this.#length;
  }

  /**
   * Appends bytes as they are (e.g. a field copied from the original file, key included). The bytes are
   * referenced, not copied, until {@link finish}.
   */
  raw(bytes: Uint8Array): this {
    this.#chunks.push(bytes);
    this.#length += bytes.length;
    return this;
  }

  /** Appends a varint field (wire type 0). */
  varintField(field: number, value: number): this {
    return this.raw(encodeVarint(field * 8 + WireType.VARINT)).raw(encodeVarint(value));
  }

  /** Appends a length-delimited field (wire type 2) with the given payload (referenced, not copied). */
  bytesField(field: number, payload: Uint8Array): this {
    this.raw(encodeVarint(field * 8 + WireType.LENGTH_DELIMITED)).raw(encodeVarint(payload.length));
    return this.raw(payload);
  }

  /** Appends a UTF-8 string field. */
  stringField(field: number, text: string): this {
    return this.bytesField(field, new TextEncoder().encode(text));
  }

  /** Appends a packed repeated varint field (e.g. a TensorProto's `dims`). */
  packedVarintField(field: number, values: readonly number[]): this {
    const sub = new ProtoWriter();
    for (const v of values) sub.raw(encodeVarint(v));
    return this.messageField(field, sub);
  }

  /** Appends a sub-message as a length-delimited field, taking over its chunks (no copy). */
  messageField(field: number, message: ProtoWriter): this {
    this.raw(encodeVarint(field * 8 + WireType.LENGTH_DELIMITED)).raw(encodeVarint(message.length));
    for (const chunk of message.#chunks) this.raw(chunk);
    return this;
  }

  /** The encoded message: one new buffer holding every chunk. */
  finish(): Uint8Array {
    const out = new Uint8Array(this.#length);
    let at = 0;
    for (const chunk of this.#chunks) {
      out.set(chunk, at);
      at += chunk.length;
    }
    return out;
  }
}

/**
 * Encodes a non-negative integer (exact up to 2^53) as a protobuf varint.
 *
 * @throws RangeError for a negative or non-integer value (a programming error: callers check their
 *   values first).
 */
export function encodeVarint(value: number): Uint8Array {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`cannot encode ${value} as a varint`);
  const bytes: number[] = [];
  let v = value;
  while (v >= 0x80) {
    bytes.push((v % 128) | 0x80);
    v = Math.floor(v / 128);
  }
  bytes.push(v);
  return Uint8Array.from(bytes);
}
