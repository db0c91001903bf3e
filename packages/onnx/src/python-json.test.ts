import { ModelInvalidError } from '@latentkit/core';
import { describe, expect, it } from 'vitest';
import { parsePythonJson } from './python-json.js';

describe('parsePythonJson', () => {
  it('parses plain JSON like JSON.parse', () => {
    const text = '{"a": [1, 2.5, -3e-2], "b": {"c": null, "d": true}, "e": "x"}';
    expect(parsePythonJson(text)).toEqual(JSON.parse(text));
  });

  it('reads NaN, Infinity and -Infinity tokens as numbers', () => {
    const v = parsePythonJson(
      '{"lo": -Infinity, "hi": Infinity, "nan": NaN, "list": [NaN, -Infinity, 1]}',
    ) as {
      lo: number;
      hi: number;
      nan: number;
      list: number[];
    };
    expect(v.lo).toBe(Number.NEGATIVE_INFINITY);
    expect(v.hi).toBe(Number.POSITIVE_INFINITY);
    expect(Number.isNaN(v.nan)).toBe(true);
    expect(Number.isNaN(v.list[0])).toBe(true);
    expect(v.list.slice(1)).toEqual([Number.NEGATIVE_INFINITY, 1]);
  });

  it('leaves the tokens alone inside strings, including after escaped quotes', () => {
    const v = parsePythonJson(
      String.raw`{"s": "NaN and -Infinity", "t": "say \"Infinity\" NaN", "u": "\\", "n": NaN}`,
    );
    expect(v).toMatchObject({ s: 'NaN and -Infinity', t: 'say "Infinity" NaN', u: '\\' });
    expect(Number.isNaN((v as { n: number }).n)).toBe(true);
  });

  it('parses a real scheduler config with -Infinity', () => {
    const v = parsePythonJson(
      '{"_class_name": "DDIMScheduler", "clip_sample_range": 1.0, "sample_max_value": Infinity}',
    );
    expect(v).toEqual({
      _class_name: 'DDIMScheduler',
      clip_sample_range: 1,
      sample_max_value: Number.POSITIVE_INFINITY,
    });
  });

  it('throws ModelInvalidError naming the file for invalid JSON', () => {
    expect(() => parsePythonJson('{"a": nan}', 'unet/config.json')).toThrow(ModelInvalidError);
    expect(() => parsePythonJson('{"a": nan}', 'unet/config.json')).toThrow(/unet\/config\.json/);
    expect(() => parsePythonJson('{"a": Infinit}', 'x.json')).toThrow(ModelInvalidError);
  });
});
