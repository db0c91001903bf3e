/**
 * Float32 arithmetic emulated in JavaScript doubles, step for step as torch's AVX2 `randn` kernel does it.
 *
 * torch fills float32 normals 16 at a time with the Cephes-derived `log256_ps` and `sincos256_ps` of
 * ATen's `avx_mathfun.h`, compiled by GCC with `-mavx2 -mfma`. GCC contracts every float multiply whose
 * only use is an add or subtract into a fused multiply-add (`-ffp-contract=fast`, its default for GNU C),
 * and when both operands of an add are such products it fuses the one computed first. Reproducing the
 * kernel bit for bit therefore means: round every operation to float32 (`Math.fround`), and compute each
 * contracted `a*b + c` with a single rounding ({@link fma32}).
 *
 * Which contractions are observable on torch's output (checked against reference values):
 * - in log: `y*z + e*q1` → `fma(y, z, fl(e*q1))`;
 * - in sincos: the sine polynomial's last step `(y2*z)*x + x` → `fma(fl(y2*z), x, x)`.
 * The others (the polynomial steps, `y*z − z/2` in the cosine polynomial, the Cody–Waite reduction) are
 * emulated as fused too, for fidelity; several of them involve exact products, where fusing changes nothing.
 *
 * Inputs are float32 values held in doubles; outputs are float32 values held in doubles.
 */

const fround = Math.fround;

// Views used to read and write the raw bits of a double and of a float32.
const f64 = new Float64Array(1);
const f64Words = new Uint32Array(f64.buffer);
/** Index of the low 32-bit word of a double in `f64Words` (platform endianness). */
const LOW_WORD = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 0 : 1;
const f32 = new Float32Array(1);
const f32Bits = new Int32Array(f32.buffer);

/** 2^-126, the smallest normal float32. */
const MIN_NORMAL_F32 = 1.1754943508222875e-38;

/**
 * `a*b + c` rounded once to float32, for float32 `a`, `b`, `c` — a float32 fused multiply-add.
 *
 * `a*b` of two float32 values has at most 48 significant bits, so it is exact in a double. The double sum
 * `s = a*b + c` is then rounded once to 53 bits, and rounding `s` to float32 gives the correctly rounded
 * result except when `s` lands exactly halfway between two float32 values while the exact sum does not
 * (double rounding). That case is detected, and `s` is nudged one double ulp toward the exact sum — the
 * side is the sign of the rounding error of `s`, found exactly with Knuth's TwoSum — so the final
 * rounding breaks the apparent tie the right way. Exact for results in the normal float32 range.
 */
export function fma32(a: number, b: number, c: number): number {
  const p = a * b; // exact
  const s = p + c;
  f64[0] = s;
  // A float32 midpoint has, below float32's last mantissa bit, the 29 low double mantissa bits = 1000…0.
  if ((f64Words[LOW_WORD]! & 0x1fffffff) === 0x10000000 && Math.abs(s) >= MIN_NORMAL_F32) {
    const bv = s - p;
    const err = p - (s - bv) + (c - bv); // exact: (p + c) − s
    if (err !== 0) {
      // Move |s| up when the error points away from zero, down otherwise; the low word cannot wrap here.
      f64Words[LOW_WORD] = f64Words[LOW_WORD]! + (err > 0 === s > 0 ? 1 : -1);
      return fround(f64[0]!);
    }
  }
  return fround(s);
}

// ---------------------------------------------------------------------------------------------------
// Natural logarithm (Cephes logf, as vectorised in avx_mathfun.h)
// ---------------------------------------------------------------------------------------------------

/** sqrt(1/2) as float32: the mantissa is folded into [sqrt(1/2), sqrt(2)). */
const SQRT_HALF = fround(Math.SQRT1_2);
/** Minimax coefficients of log(1+x) ≈ x − x²/2 + x³·P(x), highest degree first. */
const LOG_P = [
  7.0376836292e-2, -1.151461031e-1, 1.167699874e-1, -1.2420140846e-1, 1.4249322787e-1, -1.6668057665e-1,
  2.0000714765e-1, -2.4999993993e-1, 3.3333331174e-1,
].map(fround);
/** ln 2 split in two: LN2_HI (exactly representable with few bits) + LN2_LO. */
const LN2_HI = fround(0.693359375);
const LN2_LO = fround(-2.1219444e-4);

/**
 * log(x) for a positive normal float32 `x`, as `log256_ps` computes it (one lane).
 * Not valid for x ≤ 0 or subnormal x (torch's kernel never passes those: its argument is 1 − u ≥ 2^-24).
 */
export function logCephes32(x: number): number {
  // Split x = m · 2^e with m in [0.5, 1): take the biased exponent, then force the exponent field to 126.
  f32[0] = x;
  const bits = f32Bits[0]!;
  let e = fround((bits >>> 23) - 127 + 1); // float conversion, then +1 (both exact)
  f32Bits[0] = (bits & ~0x7f800000) | 0x3f000000;
  let m = f32[0]!;

  // If m < sqrt(1/2): e -= 1 and m = 2m − 1, else m = m − 1 (computed as (m − 1) + m or (m − 1) + 0).
  const small = m < SQRT_HALF;
  const extra = small ? m : 0;
  m = fround(m - 1);
  if (small) e = fround(e - 1);
  m = fround(m + extra);

  const z = fround(m * m);
  let y = LOG_P[0]!;
  for (let k = 1; k < LOG_P.length; k++) y = fma32(y, m, LOG_P[k]!);
  y = fround(y * m);
  y = fma32(y, z, fround(e * LN2_LO)); // y·z + e·ln2_lo: the product y·z is the one fused
  y = fma32(z, -0.5, y); // y − z/2 (exact product)
  m = fround(m + y);
  return fma32(e, LN2_HI, m); // m + e·ln2_hi (exact product)
}

// ---------------------------------------------------------------------------------------------------
// Sine and cosine together (Cephes sinf/cosf, as vectorised in avx_mathfun.h's sincos256_ps)
// ---------------------------------------------------------------------------------------------------

/** 4/π as float32. */
const FOUR_OVER_PI = fround(1.27323954473516);
/** π/4 split in three for Cody–Waite reduction; the first two have few bits, so k·DPn is exact. */
// (The C source writes these as double literals, which the float32 constants round; the literals here are
// the same doubles. DP1 and DP2 are exact float32 values: −0.78515625 and −2.4187564849853515625e-4.)
const MINUS_DP1 = fround(-0.78515625);
const MINUS_DP2 = fround(-2.4187564849853516e-4);
const MINUS_DP3 = fround(-3.774894977445941e-8);
/** cos(x) ≈ 1 − x²/2 + x⁴·C(x²) on [−π/4, π/4]. */
const COS_C0 = fround(2.443315711809948e-5);
const COS_C1 = fround(-1.388731625493765e-3);
const COS_C2 = fround(4.166664568298827e-2);
/** sin(x) ≈ x + x³·S(x²) on [−π/4, π/4]. */
const SIN_S0 = fround(-1.9515295891e-4);
const SIN_S1 = fround(8.3321608736e-3);
const SIN_S2 = fround(-1.6666654611e-1);

/** Where {@link sincosCephes32} writes its results: `[sin, cos]`. */
export type SinCos = [number, number];

/**
 * sin(x) and cos(x) of a float32 `x`, as `sincos256_ps` computes them (one lane); writes `out[0] = sin`,
 * `out[1] = cos`. Accurate for |x| < 8192, which covers torch's use (θ = 2π·u in [0, 2π)).
 */
export function sincosCephes32(x: number, out: SinCos): SinCos {
  const negative = x < 0;
  let r = Math.abs(x);

  // Octant: k = (trunc(|x|·4/π) + 1) with the low bit cleared, so k is even and r − k·π/4 is in [−π/4, π/4].
  const k = ((Math.trunc(fround(r * FOUR_OVER_PI)) + 1) & ~1) | 0;
  const kf = k; // the float32 conversion of a small integer is exact

  // Reduce: r − k·π/4, with π/4 in three parts for extra precision.
  r = fma32(kf, MINUS_DP1, r);
  r = fma32(kf, MINUS_DP2, r);
  r = fma32(kf, MINUS_DP3, r);

  // Octants 2 and 6 (mod 8) swap the two polynomials; bit 2 of k (and of k − 2) sets the signs.
  const swap = (k & 2) !== 0;
  const sinNegative = negative !== ((k & 4) !== 0);
  const cosNegative = ((k - 2) & 4) === 0;

  const z = fround(r * r);

  // Cosine polynomial: ((C0·z + C1)·z + C2)·z·z − z/2 + 1.
  let c = fma32(COS_C0, z, COS_C1);
  c = fma32(c, z, COS_C2);
  c = fround(c * z);
  c = fma32(c, z, -fround(z * 0.5));
  c = fround(c + 1);

  // Sine polynomial: ((S0·z + S1)·z + S2)·z·r + r.
  let s = fma32(SIN_S0, z, SIN_S1);
  s = fma32(s, z, SIN_S2);
  s = fround(s * z);
  s = fma32(s, r, r);

  let sin = swap ? c : s;
  let cos = swap ? s : c;
  if (sinNegative) sin = -sin;
  if (cosNegative) cos = -cos;
  out[0] = sin;
  out[1] = cos;
  return out;
}
