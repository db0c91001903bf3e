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
 *
 * Fast path (kept small so V8 inlines it into the randn kernel): with `r = fl32(s)` and `d = s − r`
 * (exact), `t = s + d = r + 2d` is exact in a double, and it is a float32 other than `r` exactly when `s`
 * is a float32 midpoint (|2d| is then the float32 spacing next to `r`; otherwise 0 < |2d| < spacing).
 * Only then does {@link fma32Tie} look at the bits — a superset of the cases it corrects, so the result
 * is the same as always taking the slow path.
 */
export function fma32(a: number, b: number, c: number): number {
  const s = a * b + c;
  const r = fround(s);
  const t = s + (s - r);
  return t !== r && fround(t) === t ? fma32Tie(a * b, c, s) : r;
}

/** {@link fma32}'s rare case: `s = p + c` may be a float32 midpoint that double rounding made a tie. */
function fma32Tie(p: number, c: number, s: number): number {
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
/** Minimax coefficients of log(1+x) ≈ x − x²/2 + x³·P(x), highest degree first (float32). */
const LOG_P0 = fround(7.0376836292e-2);
const LOG_P1 = fround(-1.151461031e-1);
const LOG_P2 = fround(1.167699874e-1);
const LOG_P3 = fround(-1.2420140846e-1);
const LOG_P4 = fround(1.4249322787e-1);
const LOG_P5 = fround(-1.6668057665e-1);
const LOG_P6 = fround(2.0000714765e-1);
const LOG_P7 = fround(-2.4999993993e-1);
const LOG_P8 = fround(3.3333331174e-1);
/** ln 2 split in two: LN2_HI (exactly representable with few bits) + LN2_LO. */
const LN2_HI = fround(0.693359375);
const LN2_LO = fround(-2.1219444e-4);

/**
 * log(x) for a positive normal float32 `x`, as `log256_ps` computes it (one lane).
 * Not valid for x ≤ 0 or subnormal x (torch's kernel never passes those: its argument is 1 − u ≥ 2^-24).
 */
export function logCephes32(x: number): number {
  ONE_IN[0] = x;
  logCephes32Lanes(ONE_IN, ONE_OUT, 1);
  return ONE_OUT[0]!;
}

/**
 * {@link logCephes32} of `x[0..count)` into `out` — the lanes of `log256_ps`, done one stage at a time
 * across all lanes, so the CPU overlaps independent lanes instead of waiting on each lane's long chain
 * of dependent roundings. Same operations, same results, as the one-lane form.
 *
 * Where a fused product is exact in float32 (z·(−1/2), e·LN2_HI: 9 bits times an 8-bit exponent), the
 * FMA is one rounding of the double sum of two float32 values, which `fround` gets right (a double holds
 * more than 2·24 + 2 bits, so rounding twice is harmless for one addition) — no {@link fma32} needed.
 */
export function logCephes32Lanes(x: Float32Array, out: Float64Array, count: number): void {
  const lanes = scratchFor(count);
  const { mBits, mFloat, e: es, m: ms, z: zs, y: ys } = lanes;
  const xBits = new Int32Array(x.buffer, x.byteOffset, count);
  // Split x = m · 2^e with m in [0.5, 1): take the biased exponent, then force the exponent field to 126.
  for (let j = 0; j < count; j++) {
    const bits = xBits[j]!;
    es[j] = (bits >>> 23) - 127 + 1; // float conversion, then +1 (both exact)
    mBits[j] = (bits & ~0x7f800000) | 0x3f000000;
  }
  // If m < sqrt(1/2): e -= 1 and m = 2m − 1, else m = m − 1 (computed as (m − 1) + m or (m − 1) + 0).
  for (let j = 0; j < count; j++) {
    const m0 = mFloat[j]!;
    const small = m0 < SQRT_HALF;
    if (small) es[j] = es[j]! - 1;
    const m = fround(fround(m0 - 1) + (small ? m0 : 0));
    ms[j] = m;
    zs[j] = fround(m * m);
    // The polynomial steps y·m + P: FMAs whose double sum is exact (|y| ≥ 2^-5 at every step, m is on the
    // 2^-24 grid and |y·m + P| < 1/2, so the sum needs at most 52 bits): one fround is the fused result.
    let y = fround(LOG_P0 * m + LOG_P1);
    y = fround(y * m + LOG_P2);
    y = fround(y * m + LOG_P3);
    y = fround(y * m + LOG_P4);
    y = fround(y * m + LOG_P5);
    y = fround(y * m + LOG_P6);
    y = fround(y * m + LOG_P7);
    ys[j] = fround(y * m + LOG_P8);
  }
  for (let j = 0; j < count; j++) {
    const m = ms[j]!;
    const z = zs[j]!;
    const e = es[j]!;
    let y = fround(ys[j]! * m);
    y = fma32(y, z, fround(e * LN2_LO)); // y·z + e·ln2_lo: the product y·z is the one fused
    y = fround(y - z * 0.5); // fma(z, −1/2, y): exact product
    out[j] = fround(fround(m + y) + e * LN2_HI); // fma(e, ln2_hi, m + y): exact product
  }
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
  ONE_IN[0] = x;
  sincosCephes32Lanes(ONE_IN, ONE_OUT, ONE_OUT_2, 1);
  out[0] = ONE_OUT[0]!;
  out[1] = ONE_OUT_2[0]!;
  return out;
}

/**
 * {@link sincosCephes32} of `x[0..count)` into `sin` and `cos`, one stage at a time across all lanes
 * (see {@link logCephes32Lanes}).
 */
export function sincosCephes32Lanes(
  x: Float32Array,
  sin: Float64Array,
  cos: Float64Array,
  count: number,
): void {
  const { k: ks, m: rs, z: zs, y: cs, e: ss } = scratchFor(count);
  for (let j = 0; j < count; j++) {
    const v = x[j]!;
    let r = Math.abs(v);
    // Octant: k = (trunc(|x|·4/π) + 1) with the low bit cleared, so k is even and r − k·π/4 is in [−π/4, π/4].
    const k = ((Math.trunc(fround(r * FOUR_OVER_PI)) + 1) & ~1) | 0;
    // Reduce: r − k·π/4, with π/4 in three parts for extra precision. k·DP1 (8 bits times k < 2^16) is
    // an exact float32, so that FMA is a plain float32 addition. (k as float32 is exact: a small integer.)
    r = fround(r + k * MINUS_DP1);
    r = fma32(k, MINUS_DP2, r);
    r = fma32(k, MINUS_DP3, r);
    // The sign of x travels in bit 0 of the stored octant (k itself is even).
    ks[j] = k | (v < 0 ? 1 : 0);
    rs[j] = r;
    zs[j] = fround(r * r);
  }
  // Cosine polynomial: ((C0·z + C1)·z + C2)·z·z − z/2 + 1.
  for (let j = 0; j < count; j++) {
    const z = zs[j]!;
    let c = fma32(COS_C0, z, COS_C1);
    c = fma32(c, z, COS_C2);
    c = fround(c * z);
    c = fma32(c, z, -fround(z * 0.5));
    cs[j] = fround(c + 1);
  }
  // Sine polynomial: ((S0·z + S1)·z + S2)·z·r + r.
  for (let j = 0; j < count; j++) {
    const z = zs[j]!;
    let s = fma32(SIN_S0, z, SIN_S1);
    s = fma32(s, z, SIN_S2);
    s = fround(s * z);
    ss[j] = fma32(s, rs[j]!, rs[j]!);
  }
  // Octants 2 and 6 (mod 8) swap the two polynomials; bit 2 of k (and of k − 2) sets the signs.
  for (let j = 0; j < count; j++) {
    const kv = ks[j]!;
    const k = kv & ~1;
    const swap = (k & 2) !== 0;
    const sinNegative = ((kv & 1) !== 0) !== ((k & 4) !== 0);
    const cosNegative = ((k - 2) & 4) === 0;
    const c = cs[j]!;
    const s = ss[j]!;
    const sv = swap ? c : s;
    const cv = swap ? s : c;
    sin[j] = sinNegative ? -sv : sv;
    cos[j] = cosNegative ? -cv : cv;
  }
}

// ---------------------------------------------------------------------------------------------------
// Scratch lanes
// ---------------------------------------------------------------------------------------------------

/** Per-lane intermediates of the lane kernels (grown on demand, reused across calls). */
interface Lanes {
  readonly e: Float64Array;
  readonly m: Float64Array;
  readonly z: Float64Array;
  readonly y: Float64Array;
  readonly k: Int32Array;
  /** Raw bits of the folded mantissa, and the same memory read as float32. */
  readonly mBits: Int32Array;
  readonly mFloat: Float32Array;
}

function makeLanes(n: number): Lanes {
  const mBits = new Int32Array(n);
  return {
    e: new Float64Array(n),
    m: new Float64Array(n),
    z: new Float64Array(n),
    y: new Float64Array(n),
    k: new Int32Array(n),
    mBits,
    mFloat: new Float32Array(mBits.buffer),
  };
}

let lanes = makeLanes(64);

function scratchFor(count: number): Lanes {
  if (lanes.e.length < count) lanes = makeLanes(count);
  return lanes;
}

/** One-lane input and outputs of the scalar wrappers. */
const ONE_IN = new Float32Array(1);
const ONE_OUT = new Float64Array(1);
const ONE_OUT_2 = new Float64Array(1);
