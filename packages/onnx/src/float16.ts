/**
 * float32 ↔ float16 conversion on the raw bits (`Uint16Array`), because Node 20 has no `Float16Array` and
 * onnxruntime takes float16 tensors as a `Uint16Array` of half-precision bit patterns.
 */

let halfToFloatTable: Float32Array | undefined;

function halfBitsToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24; // zero and subnormals
  if (exp === 0x1f) return mant ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

// A 65536-entry table (256 KiB) makes decoding a lookup per element.
function table(): Float32Array {
  if (!halfToFloatTable) {
    halfToFloatTable = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) halfToFloatTable[h] = halfBitsToNumber(h);
  }
  return halfToFloatTable;
}

/** Rounds the float32 bit pattern `x` to the nearest float16 (ties to even), returning the half bits. */
function float32BitsToHalf(x: number): number {
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 | (mant >>> 13) : 0); // Inf, NaN (kept quiet)
  const e = exp - 112; // rebias 127 → 15
  if (e >= 0x1f) return sign | 0x7c00; // overflow → ±Inf
  if (e <= 0) {
    // subnormal half (or zero): value = (1.mant) · 2^(exp−127) in units of 2^−24
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rest = mant & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rest > halfway || (rest === halfway && half & 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  // a carry out of the mantissa correctly bumps the exponent (up to Inf)
  if (rest > 0x1000 || (rest === 0x1000 && half & 1)) half++;
  return sign | half;
}

const scratch = new Float32Array(1);
const scratchBits = new Uint32Array(scratch.buffer);

/** One number → float16 bits (rounded to float32 first, then to nearest even float16). */
export function toFloat16Bits(value: number): number {
  scratch[0] = value;
  return float32BitsToHalf(scratchBits[0]!);
}

/** Float16 bits → the number they represent. */
export function fromFloat16Bits(bits: number): number {
  return table()[bits & 0xffff]!;
}

/**
 * float32 values → float16 bit patterns, rounding to nearest even, with subnormals, ±Inf on overflow and
 * NaN kept.
 */
export function float32ToFloat16(values: Float32Array, out = new Uint16Array(values.length)): Uint16Array {
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  for (let i = 0; i < bits.length; i++) out[i] = float32BitsToHalf(bits[i]!);
  return out;
}

/** float16 bit patterns → float32 values (exact: every float16 is a float32). */
export function float16ToFloat32(bits: Uint16Array, out = new Float32Array(bits.length)): Float32Array {
  const t = table();
  for (let i = 0; i < bits.length; i++) out[i] = t[bits[i]!]!;
  return out;
}
