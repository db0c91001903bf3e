import { ModelInvalidError } from '@latentkit/core';

/**
 * A minimal protobuf wire-format reader for the few ONNX fields latentkit looks at (external-data
 * locations, float16 types, the CLIP final layer norm weights).
 *
 * Why by hand: a protobuf library plus the ONNX schema would be a runtime dependency of every backend for
 * a handful of fields, and the browser backend has to inspect the file (which external weight files to
 * fetch, whether it needs `shader-f16`) before onnxruntime can create a session from it — so onnxruntime
 * cannot answer these questions for us. Only the wire format is read; field numbers live with the callers.
 * Lengths and varints are bounds-checked, so truncated or malformed bytes fail as a
 * {@link @latentkit/core!ModelInvalidError} naming the file rather than as a `RangeError`.
 */

/** Protobuf wire types (groups, 3 and 4, are deprecated and not read). */
export const WireType = {
  /** A varint: int32/int64/uint/bool/enum. */
  VARINT: 0,
  /** 8 little-endian bytes: fixed64/sfixed64/double. */
  FIXED64: 1,
  /** A length-prefixed payload: bytes, strings, sub-messages, packed repeated fields. */
  LENGTH_DELIMITED: 2,
  /** 4 little-endian bytes: fixed32/sfixed32/float. */
  FIXED32: 5,
} as const;

/** One field of a protobuf message. */
export interface ProtoField {
  /** The field number. */
  readonly field: number;
  /** The wire type, one of {@link WireType}. */
  readonly wire: number;
  /**
   * The varint (wire 0, exact up to 2^53), the fixed32 bits as an unsigned integer (wire 5), or the
   * fixed64 bits as an unsigned integer (wire 1, exact up to 2^53); 0 for length-delimited fields.
   */
  readonly value: number;
  /** Start of the payload bytes (wire 1, 2 and 5); 0 for varints. */
  readonly start: number;
  /** End (exclusive) of the payload bytes (wire 1, 2 and 5); 0 for varints. */
  readonly end: number;
}

const utf8 = new TextDecoder();

/** Reads the fields of one protobuf message in `bytes[start, end)`. */
export class ProtoReader {
  /** The next byte to read. */
  pos: number;

  /**
   * @param bytes - The whole file.
   * @param start - Where the message starts.
   * @param end - Where the message ends (exclusive).
   * @param path - The file's path in the model folder, named in errors.
   */
  constructor(
    readonly bytes: Uint8Array,
    start: number,
    readonly end: number,
    readonly path: string,
  ) {
    this.pos = start;
  }

  /** True when every byte of the message has been read. */
  get done(): boolean {
    return this.pos >= this.end;
  }

  /** Reads one varint (unsigned; exact up to 2^53, which covers every count, size and enum in ONNX). */
  varint(): number {
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) this.fail('truncated varint');
      const b = this.bytes[this.pos++]!;
      result += (b & 0x7f) * scale;
      if (b < 0x80) return result;
      scale *= 128;
    }
    return this.fail('varint longer than 10 bytes');
  }

  /** Reads 4 little-endian bytes as an unsigned integer. */
  fixed32(): number {
    return this.view(4).getUint32(0, true);
  }

  /** Reads 4 little-endian bytes as a float32 (ONNX `float_data`). */
  float32(): number {
    return this.view(4).getFloat32(0, true);
  }

  /** Reads 8 little-endian bytes as an unsigned integer (exact up to 2^53). */
  fixed64(): number {
    const view = this.view(8);
    return view.getUint32(0, true) + view.getUint32(4, true) * 2 ** 32;
  }

  /** Reads the next field, or returns `undefined` at the end of the message. */
  next(): ProtoField | undefined {
    if (this.done) return undefined;
    const key = this.varint();
    const field = Math.floor(key / 8);
    const wire = key % 8;
    if (field === 0) this.fail('field number 0');
    const start = this.pos;
    switch (wire) {
      case WireType.VARINT:
        return { field, wire, value: this.varint(), start: 0, end: 0 };
      case WireType.FIXED64:
        return { field, wire, value: this.fixed64(), start, end: this.pos };
      case WireType.FIXED32:
        return { field, wire, value: this.fixed32(), start, end: this.pos };
      case WireType.LENGTH_DELIMITED: {
        const length = this.varint();
        if (length > this.end - this.pos) this.fail(`truncated field ${field}`);
        const payload = this.pos;
        this.pos += length;
        return { field, wire, value: 0, start: payload, end: this.pos };
      }
      default:
        return this.fail(`unsupported wire type ${wire} (field ${field})`);
    }
  }

  /** Iterates the remaining fields of the message. */
  *fields(): Generator<ProtoField> {
    for (let f = this.next(); f; f = this.next()) yield f;
  }

  /** A reader over a field's payload: a sub-message, a packed repeated field, or a single fixed value. */
  sub(f: ProtoField): ProtoReader {
    return new ProtoReader(this.bytes, f.start, f.end, this.path);
  }

  /** The first length-delimited field `field` of a sub-message field `f`, if any. */
  find(f: ProtoField, field: number): ProtoField | undefined {
    for (const g of this.sub(f).fields())
      if (g.field === field && g.wire === WireType.LENGTH_DELIMITED) return g;
    return undefined;
  }

  /** A length-delimited field's payload as UTF-8 text. */
  string(f: ProtoField): string {
    return utf8.decode(this.bytes.subarray(f.start, f.end));
  }

  /** A length-delimited field's payload (a view, not a copy). */
  payload(f: ProtoField): Uint8Array {
    return this.bytes.subarray(f.start, f.end);
  }

  /**
   * Throws a {@link @latentkit/core!ModelInvalidError} naming the file and the byte offset.
   *
   * @param why - What is wrong with the bytes.
   */
  fail(why: string): never {
    throw new ModelInvalidError(
      `${this.path} could not be read as an ONNX model: ${why} at byte ${this.pos}. ` +
        'The file may be truncated or not an ONNX export; download or export it again.',
    );
  }

  private view(size: number): DataView {
    if (size > this.end - this.pos) this.fail(`truncated ${size}-byte value`);
    const view = new DataView(this.bytes.buffer, this.bytes.byteOffset + this.pos, size);
    this.pos += size;
    return view;
  }
}
