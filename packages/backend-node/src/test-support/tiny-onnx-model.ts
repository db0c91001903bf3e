/**
 * Writes tiny ONNX models by hand (a few protobuf fields), so the session-factory tests need no Python:
 * `y = x + w` with `w` a float32 initializer of length `size`, stored inline or in an external weight
 * file (the way large UNets are exported: `model.onnx_data`, or `weights.pb` in older exports).
 * Test support only; not part of the package's API.
 */

function varint(value: number): number[] {
  const out: number[] = [];
  let v = value;
  while (v > 0x7f) {
    out.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return out;
}

type Field = number[];
const tag = (field: number, wire: number): number[] => varint(field * 8 + wire);
const intField = (field: number, value: number): Field => [...tag(field, 0), ...varint(value)];
const bytesField = (field: number, bytes: ArrayLike<number>): Field => [
  ...tag(field, 2),
  ...varint(bytes.length),
  ...Array.from(bytes),
];
const strField = (field: number, text: string): Field => bytesField(field, new TextEncoder().encode(text));
const msg = (...fields: Field[]): number[] => fields.flat();

// TensorProto.DataType
const FLOAT = 1;

function valueInfo(name: string, dims: number[]): number[] {
  const shape = msg(...dims.map((d) => bytesField(1, intField(1, d))));
  const tensorType = msg(intField(1, FLOAT), bytesField(2, shape));
  return msg(strField(1, name), bytesField(2, bytesField(1, tensorType)));
}

/** What {@link makeAddModel} writes. */
export interface TinyModelFiles {
  /** The `.onnx` file's bytes. */
  model: Uint8Array;
  /** The external weight file's bytes, when `externalFile` was given. */
  external?: Uint8Array;
}

/**
 * A model computing `y = x + w` for `x`, `y`, `w` float32 `[size]`; `w[i] = i + 1`. With
 * `externalFile`, `w` lives in that file (beside the model) instead of inside it.
 */
export function makeAddModel(size = 4, externalFile?: string): TinyModelFiles {
  const weights = new Float32Array(size).map((_, i) => i + 1);
  const raw = new Uint8Array(weights.buffer);
  const tensorFields: Field[] = [intField(1, size), intField(2, FLOAT), strField(8, 'w')];
  if (externalFile) {
    const entry = (key: string, value: string) => bytesField(13, msg(strField(1, key), strField(2, value)));
    tensorFields.push(
      entry('location', externalFile),
      entry('offset', '0'),
      entry('length', String(raw.length)),
      intField(14, 1),
    );
  } else tensorFields.push(bytesField(9, raw));
  const node = msg(
    strField(1, 'x'),
    strField(1, 'w'),
    strField(2, 'y'),
    strField(3, 'add'),
    strField(4, 'Add'),
  );
  const graph = msg(
    bytesField(1, node),
    strField(2, 'tiny'),
    bytesField(5, msg(...tensorFields)),
    bytesField(11, valueInfo('x', [size])),
    bytesField(12, valueInfo('y', [size])),
  );
  const model = msg(
    intField(1, 8), // ir_version
    strField(2, 'latentkit-tests'),
    bytesField(7, graph),
    bytesField(8, msg(strField(1, ''), intField(2, 17))), // opset ai.onnx 17
  );
  return { model: new Uint8Array(model), ...(externalFile ? { external: raw } : {}) };
}
