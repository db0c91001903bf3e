import { ModelInvalidError } from '@latentkit/core';
import { describe, expect, it } from 'vitest';
import { assemble, writeSafetensors } from '../test-support/safetensors-writer.js';
import { parseSafetensors } from './safetensors.js';

const f32 = (n: number) => new Uint8Array(4 * n);

function withLength(length: bigint, rest: Uint8Array = new Uint8Array(0)): Uint8Array {
  const out = new Uint8Array(8 + rest.length);
  new DataView(out.buffer).setBigUint64(0, length, true);
  out.set(rest, 8);
  return out;
}

const header = (entries: Record<string, unknown>, data = new Uint8Array(0)) =>
  assemble(JSON.stringify(entries), [data]);

// Each row: a broken file, and words its message must contain.
const cases: [string, Uint8Array, RegExp][] = [
  ['an empty file', new Uint8Array(0), /0 bytes, fewer than the 8-byte header length/],
  ['7 bytes', new Uint8Array(7), /7 bytes/],
  [
    'a header length past the end',
    withLength(1000n, new Uint8Array(10)),
    /claims 1000 bytes but the file has 18/,
  ],
  ['a header length of 2^40', withLength(2n ** 40n, new Uint8Array(16)), /claims 1099511627776 bytes/],
  ['a header that is not JSON', assemble('{"a": '), /header is not JSON/],
  ['a header that is not UTF-8', withLength(2n, new Uint8Array([0xff, 0xfe])), /header is not JSON/],
  ['a header that is a JSON array', assemble('[1, 2]'), /not a JSON object/],
  ['a header that is null', assemble('null'), /not a JSON object/],
  [
    'an integer tensor (I64)',
    header({ ids: { dtype: 'I64', shape: [1], data_offsets: [0, 8] } }, new Uint8Array(8)),
    /"ids" has dtype "I64", not F32, F16, BF16 or F64/,
  ],
  [
    'a tensor without dtype',
    header({ w: { shape: [1], data_offsets: [0, 4] } }, f32(1)),
    /"w" has dtype undefined/,
  ],
  ['a tensor entry that is a number', header({ w: 3 }), /"w" has dtype undefined/],
  [
    'a negative dimension',
    header({ w: { dtype: 'F32', shape: [-1, 2], data_offsets: [0, 8] } }, f32(2)),
    /"w" has shape \[-1,2\], not a list of sizes/,
  ],
  [
    'a shape that is not a list',
    header({ w: { dtype: 'F32', shape: '2', data_offsets: [0, 8] } }, f32(2)),
    /"w" has shape "2"/,
  ],
  [
    'data offsets past the data',
    header({ w: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, f32(2)),
    /"w" has data_offsets \[0,16\] outside the 8 data bytes/,
  ],
  [
    'data offsets reversed',
    header({ w: { dtype: 'F32', shape: [0], data_offsets: [8, 0] } }, f32(2)),
    /"w" has data_offsets \[8,0\]/,
  ],
  [
    'data offsets that are not integers',
    header({ w: { dtype: 'F32', shape: [1], data_offsets: [0.5, 4] } }, f32(2)),
    /"w" has data_offsets \[0.5,4\]/,
  ],
  [
    'a byte count that does not fit the shape',
    header({ w: { dtype: 'F16', shape: [3], data_offsets: [0, 8] } }, f32(2)),
    /"w" \(F16 \[3\]\) needs 6 bytes but has 8/,
  ],
  [
    'a truncated file (the data cut off)',
    writeSafetensors({ w: { shape: [4], values: [1, 2, 3, 4] } }).subarray(0, -4),
    /"w" has data_offsets \[0,16\] outside the 12 data bytes/,
  ],
];

describe('parseSafetensors: bad files fail as ModelInvalidError naming the file and the fix', () => {
  it.each(cases)('%s', (_label, bytes, words) => {
    let error: unknown;
    try {
      parseSafetensors(bytes, 'bad.safetensors');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ModelInvalidError);
    const message = (error as Error).message;
    expect(message).toMatch(/^bad\.safetensors could not be read as a safetensors file: /);
    expect(message).toMatch(words);
    expect(message).toMatch(/Fix: /);
  });
});
