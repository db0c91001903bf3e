import { describe, expect, it } from 'vitest';
import { float32ToFloat16 } from './float16.js';
import { reusedFloatFeed } from './ort-io.js';
import { fakeFactory } from './test-support/fake-session.js';

const factory = fakeFactory({});
const dataOf = (t: unknown) => (t as { data: Uint16Array | Float32Array }).data;

describe('reusedFloatFeed', () => {
  it('float16: converts once per array and hands the same half bits while the values are unchanged', () => {
    const values = Float32Array.from({ length: 1000 }, (_, i) => Math.sin(i) * 3);
    const first = dataOf(reusedFloatFeed(factory, values, [1000], 'float16'));
    const second = dataOf(reusedFloatFeed(factory, values, [1000], 'float16'));
    expect(second).toBe(first);
    expect(Array.from(first)).toEqual(Array.from(float32ToFloat16(values)));
  });

  it('float16: values changed in place (one element, or only a NaN payload) are converted afresh', () => {
    const values = Float32Array.from({ length: 64 }, (_, i) => i / 7);
    const first = dataOf(reusedFloatFeed(factory, values, [64], 'float16'));
    values[63] = 100;
    const second = dataOf(reusedFloatFeed(factory, values, [64], 'float16'));
    expect(second).not.toBe(first);
    expect(Array.from(second)).toEqual(Array.from(float32ToFloat16(values)));
    // a NaN with another payload: the bits differ, so the (NaN-keeping) conversion is redone
    new Uint32Array(values.buffer)[0] = 0x7fc00001;
    const third = dataOf(reusedFloatFeed(factory, values, [64], 'float16'));
    expect(third).not.toBe(second);
    expect(Array.from(third)).toEqual(Array.from(float32ToFloat16(values)));
  });

  it('two arrays with equal values get their own conversions; float32 feeds pass the data through', () => {
    const a = Float32Array.from([1, 2, 3]);
    const b = Float32Array.from([1, 2, 3]);
    expect(dataOf(reusedFloatFeed(factory, a, [3], 'float16'))).not.toBe(
      dataOf(reusedFloatFeed(factory, b, [3], 'float16')),
    );
    expect(dataOf(reusedFloatFeed(factory, a, [3], 'float32'))).toBe(a);
  });
});
