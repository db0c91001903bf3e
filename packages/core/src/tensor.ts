import { InvalidArgumentError, ShapeMismatchError } from './errors.js';

/** Number of elements of a shape. */
export function shapeSize(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/**
 * A float32 tensor in row-major order: the data and its shape, and only the few operations the
 * diffusion loop needs. Every elementwise operation rounds to float32 once, as torch does on CPU, so
 * chains of operations reproduce torch's numbers. A scalar operand is rounded to float32 first, as
 * torch casts a Python scalar to the tensor's dtype (`x * 0.3` is `fl(fl(0.3) · x)`).
 */
export class Tensor {
  /** The values, row-major. */
  readonly data: Float32Array;
  /** The dimensions, outermost first (e.g. `[batch, channels, height, width]`). */
  readonly shape: readonly number[];

  constructor(data: Float32Array, shape: readonly number[]) {
    for (const d of shape) {
      if (!Number.isInteger(d) || d < 0) {
        throw new InvalidArgumentError({
          name: 'shape',
          value: shape,
          expected: 'non-negative integer dimensions',
        });
      }
    }
    const n = shapeSize(shape);
    if (data.length !== n) {
      throw new ShapeMismatchError({
        name: 'data.length',
        value: data.length,
        expected: `${n} elements for shape [${shape.join(', ')}]`,
        fix: 'pass a Float32Array whose length is the product of the shape',
      });
    }
    this.data = data;
    this.shape = Object.freeze([...shape]);
  }

  /** A tensor of zeros. */
  static zeros(shape: readonly number[]): Tensor {
    return new Tensor(new Float32Array(shapeSize(shape)), shape);
  }

  /** A tensor filled with one value. */
  static full(shape: readonly number[], value: number): Tensor {
    return new Tensor(new Float32Array(shapeSize(shape)).fill(value), shape);
  }

  /** Concatenates tensors along `dim`; all other dimensions must agree. */
  static cat(tensors: readonly Tensor[], dim = 0): Tensor {
    if (tensors.length === 0) throw new InvalidArgumentError('Tensor.cat needs at least one tensor.');
    const first = tensors[0]!;
    const rank = first.shape.length;
    for (const t of tensors) {
      const ok = t.shape.length === rank && t.shape.every((d, i) => i === dim || d === first.shape[i]);
      if (!ok) {
        throw new ShapeMismatchError({
          name: 'Tensor.cat input',
          value: t.shape,
          expected: `a shape matching [${first.shape.join(', ')}] except along dim ${dim}`,
        });
      }
    }
    const outer = shapeSize(first.shape.slice(0, dim));
    const inner = shapeSize(first.shape.slice(dim + 1));
    const total = tensors.reduce((s, t) => s + t.shape[dim]!, 0);
    const shape = [...first.shape];
    shape[dim] = total;
    const out = new Float32Array(shapeSize(shape));
    let offset = 0;
    for (let o = 0; o < outer; o++) {
      for (const t of tensors) {
        const block = t.shape[dim]! * inner;
        out.set(t.data.subarray(o * block, (o + 1) * block), offset);
        offset += block;
      }
    }
    return new Tensor(out, shape);
  }

  /** Number of elements. */
  get size(): number {
    return this.data.length;
  }

  /** A copy with its own data. */
  clone(): Tensor {
    return new Tensor(this.data.slice(), this.shape);
  }

  /** The same data seen with another shape of the same size. */
  reshape(shape: readonly number[]): Tensor {
    return new Tensor(this.data, shape);
  }

  /** Items `start` (inclusive) to `end` (exclusive) along the first dimension; shares no data. */
  slice(start: number, end: number): Tensor {
    const inner = shapeSize(this.shape.slice(1));
    return new Tensor(this.data.slice(start * inner, end * inner), [end - start, ...this.shape.slice(1)]);
  }

  /** Splits along the first dimension into `chunks` equal parts (like `torch.chunk`). */
  chunk(chunks: number): Tensor[] {
    const n = this.shape[0]!;
    if (n % chunks !== 0) {
      throw new ShapeMismatchError({ name: 'batch', value: n, expected: `a multiple of ${chunks}` });
    }
    const step = n / chunks;
    return Array.from({ length: chunks }, (_, i) => this.slice(i * step, (i + 1) * step));
  }

  /** Repeats each item of the first dimension `times` times in a row (like `torch.repeat_interleave(dim=0)`). */
  repeatInterleave(times: number): Tensor {
    if (times === 1) return this;
    const n = this.shape[0]!;
    const inner = shapeSize(this.shape.slice(1));
    const out = new Float32Array(this.size * times);
    for (let b = 0; b < n; b++) {
      const src = this.data.subarray(b * inner, (b + 1) * inner);
      for (let r = 0; r < times; r++) out.set(src, (b * times + r) * inner);
    }
    return new Tensor(out, [n * times, ...this.shape.slice(1)]);
  }

  private zip(other: Tensor | number, op: (a: number, b: number) => number, name: string): Tensor {
    const out = new Float32Array(this.size);
    const a = this.data;
    if (typeof other === 'number') {
      const s = Math.fround(other);
      for (let i = 0; i < a.length; i++) out[i] = op(a[i]!, s);
    } else {
      if (!sameShape(this.shape, other.shape)) {
        throw new ShapeMismatchError({
          name: `Tensor.${name} operand`,
          value: other.shape,
          expected: `shape [${this.shape.join(', ')}]`,
        });
      }
      const b = other.data;
      for (let i = 0; i < a.length; i++) out[i] = op(a[i]!, b[i]!);
    }
    return new Tensor(out, this.shape);
  }

  /** `this + other`, elementwise. */
  add(other: Tensor | number): Tensor {
    return this.zip(other, (a, b) => a + b, 'add');
  }

  /** `this − other`, elementwise. */
  sub(other: Tensor | number): Tensor {
    return this.zip(other, (a, b) => a - b, 'sub');
  }

  /** `this · other`, elementwise. */
  mul(other: Tensor | number): Tensor {
    return this.zip(other, (a, b) => a * b, 'mul');
  }

  /** `this / other`, elementwise. */
  div(other: Tensor | number): Tensor {
    return this.zip(other, (a, b) => a / b, 'div');
  }

  /** Clamps every element into [min, max]. */
  clamp(min: number, max: number): Tensor {
    const out = new Float32Array(this.size);
    for (let i = 0; i < out.length; i++) out[i] = Math.min(max, Math.max(min, this.data[i]!));
    return new Tensor(out, this.shape);
  }

  /** Applies `fn` to every element (the result is rounded to float32). */
  map(fn: (value: number, index: number) => number): Tensor {
    const out = new Float32Array(this.size);
    for (let i = 0; i < out.length; i++) out[i] = fn(this.data[i]!, i);
    return new Tensor(out, this.shape);
  }

  /** Sum of all elements, in float64. */
  sum(): number {
    let s = 0;
    for (let i = 0; i < this.data.length; i++) s += this.data[i]!;
    return s;
  }

  /** Mean of all elements, in float64. */
  mean(): number {
    return this.size === 0 ? Number.NaN : this.sum() / this.size;
  }
}
