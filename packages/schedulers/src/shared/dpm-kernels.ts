/**
 * Fused float32 loops for the DPM-Solver family's updates. Each update of diffusers is a chain of torch
 * ops `c₀·x − c₁·D₀ − c₂·D₁ …` whose scalar factors are 0-d float32 tensors; torch rounds every product
 * and every partial sum to float32. These loops do the same arithmetic element by element in one pass
 * (a subtraction `a − c·d` is written `a + (−c)·d`, which rounds identically), instead of allocating one
 * tensor per op.
 */

const fround = Math.fround;

/**
 * `out[i] = fl(… fl(fl(c₀·t₀[i]) + fl(c₁·t₁[i])) + … )`: a left-to-right float32 sum of scaled terms.
 * Coefficients must already be float32 values.
 */
export function weightedSum(
  out: Float32Array,
  coefs: readonly number[],
  terms: readonly Float32Array[],
): void {
  const n = out.length;
  switch (terms.length) {
    case 1: {
      const [c0] = coefs as [number];
      const [t0] = terms as [Float32Array];
      for (let i = 0; i < n; i++) out[i] = c0 * t0[i]!;
      return;
    }
    case 2: {
      const [c0, c1] = coefs as [number, number];
      const [t0, t1] = terms as [Float32Array, Float32Array];
      for (let i = 0; i < n; i++) out[i] = fround(c0 * t0[i]!) + fround(c1 * t1[i]!);
      return;
    }
    case 3: {
      const [c0, c1, c2] = coefs as [number, number, number];
      const [t0, t1, t2] = terms as [Float32Array, Float32Array, Float32Array];
      for (let i = 0; i < n; i++) {
        out[i] = fround(fround(c0 * t0[i]!) + fround(c1 * t1[i]!)) + fround(c2 * t2[i]!);
      }
      return;
    }
    case 4: {
      const [c0, c1, c2, c3] = coefs as [number, number, number, number];
      const [t0, t1, t2, t3] = terms as [Float32Array, Float32Array, Float32Array, Float32Array];
      for (let i = 0; i < n; i++) {
        out[i] =
          fround(fround(fround(c0 * t0[i]!) + fround(c1 * t1[i]!)) + fround(c2 * t2[i]!)) +
          fround(c3 * t3[i]!);
      }
      return;
    }
    default: {
      for (let i = 0; i < n; i++) {
        let acc = fround(coefs[0]! * terms[0]![i]!);
        for (let k = 1; k < terms.length; k++) acc = fround(acc + fround(coefs[k]! * terms[k]![i]!));
        out[i] = acc;
      }
    }
  }
}

/** `fl(c · fl(a − b))` elementwise: DPM-Solver's divided difference `(1/r)·(m₀ − m₁)`. */
export function scaledDifference(c: number, a: Float32Array, b: Float32Array): Float32Array {
  const out = new Float32Array(a.length);
  for (let i = 0; i < out.length; i++) out[i] = c * fround(a[i]! - b[i]!);
  return out;
}

/**
 * The multistep second-order update fused in one pass:
 * `fl(fl(fl(cS·s) + fl(c0·m0)) + fl(c1·D1))` with `D1 = fl(invR0·fl(m0 − m1))`, plus `fl(cN·noise)`
 * when `noise` is given.
 */
export function secondOrderMultistep(
  s: Float32Array,
  m0: Float32Array,
  m1: Float32Array,
  cS: number,
  c0: number,
  invR0: number,
  c1: number,
  noise?: Float32Array,
  cN = 0,
): Float32Array {
  const out = new Float32Array(s.length);
  if (noise) {
    for (let i = 0; i < out.length; i++) {
      const a = m0[i]!;
      const d1 = fround(invR0 * fround(a - m1[i]!));
      const x = fround(fround(fround(cS * s[i]!) + fround(c0 * a)) + fround(c1 * d1));
      out[i] = x + fround(cN * noise[i]!);
    }
  } else {
    for (let i = 0; i < out.length; i++) {
      const a = m0[i]!;
      const d1 = fround(invR0 * fround(a - m1[i]!));
      out[i] = fround(fround(cS * s[i]!) + fround(c0 * a)) + fround(c1 * d1);
    }
  }
  return out;
}
