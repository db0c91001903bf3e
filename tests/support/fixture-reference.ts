/**
 * Reading the reference outputs that the fixture tools (tools/fixtures/*.py) store beside a fixture: inputs
 * are described as sine waves the test rebuilds, outputs are kept as every `stride`-th value.
 */
import { Tensor } from '@latentkit/core';
import { expect } from 'vitest';

/** Every `stride`-th value of a tensor of `shape`, as the tools store outputs. */
export interface Strided {
  shape: number[];
  stride: number;
  values: number[];
}

/** An input the tools made as fround(sin(0.37·i + phase)·scale), row-major. */
export interface Wave {
  shape: number[];
  phase: number;
  scale: number;
}

/** The tools' input: fround(sin(0.37·i + phase)·scale), row-major. */
export function wave({ shape, phase, scale }: Wave): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = Math.sin(0.37 * i + phase) * scale;
  return new Tensor(data, shape);
}

/** max |actual − expected| / max(1, max |expected|) over the stored (strided) values. */
export function relDiff(actual: Tensor, ref: Strided): number {
  expect([...actual.shape]).toEqual(ref.shape);
  let worst = 0;
  let scale = 1;
  ref.values.forEach((v, j) => {
    worst = Math.max(worst, Math.abs(actual.data[j * ref.stride]! - v));
    scale = Math.max(scale, Math.abs(v));
  });
  return worst / scale;
}

/** max |a − b| over two tensors of one shape. */
export function maxAbsDiff(a: Tensor, b: Tensor): number {
  expect([...a.shape]).toEqual([...b.shape]);
  let worst = 0;
  for (let i = 0; i < a.size; i++) worst = Math.max(worst, Math.abs(a.data[i]! - b.data[i]!));
  return worst;
}
