/**
 * Writes the smallest ONNX `ModelProto` with one initializer stored as external data at `location` — what
 * an attacker's model file needs to make a loader fetch `location`. Protobuf by hand (onnx.proto3 field
 * numbers), for tests only.
 */
export function onnxWithExternalData(location: string): Uint8Array {
  const text = (s: string) => new TextEncoder().encode(s);
  const varint = (n: number): number[] => {
    const out: number[] = [];
    while (n > 0x7f) {
      out.push((n & 0x7f) | 0x80);
      n >>>= 7;
    }
    out.push(n);
    return out;
  };
  const num = (field: number, n: number) => [...varint(field << 3), ...varint(n)];
  const bytes = (field: number, b: ArrayLike<number>) => [
    ...varint((field << 3) | 2),
    ...varint(b.length),
    ...Array.from(b),
  ];
  const entry = (key: string, value: string) => bytes(13, [...bytes(1, text(key)), ...bytes(2, text(value))]);
  const tensor = [
    ...num(1, 1), // dims: [1]
    ...num(2, 1), // data_type: FLOAT
    ...bytes(8, text('w')), // name
    ...entry('location', location),
    ...entry('offset', '0'),
    ...entry('length', '4'),
    ...num(14, 1), // data_location: EXTERNAL
  ];
  const graph = [...bytes(5, tensor), ...bytes(2, text('g'))];
  const model = [...num(1, 8), ...bytes(7, graph), ...bytes(8, num(2, 17))];
  return Uint8Array.from(model);
}
