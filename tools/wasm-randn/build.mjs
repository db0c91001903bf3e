#!/usr/bin/env node
/**
 * Builds the WebAssembly (SIMD) kernel of TorchGenerator.randn and writes it, as base64 bytes, to
 * packages/core/src/random/randn-wasm.generated.ts.
 *
 * No assembler is needed: this file is a small WebAssembly binary encoder (sections, LEB128, the opcodes
 * used) plus the kernel written as expression trees. The arithmetic is the same, operation for operation,
 * as the JavaScript path in packages/core/src/random/float32-math.ts (see the comments there):
 * float32 operations are f32x4 ops (IEEE single = Math.fround of each double op), and the fused
 * multiply-adds torch's GCC build contracts are done in f64x2 (the product of two float32 values is exact
 * in a double) and demoted once. Where that double sum may not be exact, the kernel flags the block when
 * the double sum is a float32 midpoint (the only case where rounding twice can differ from rounding once);
 * the caller recomputes flagged blocks with the JavaScript path, so results are identical bit for bit.
 *
 *   node tools/wasm-randn/build.mjs          write the generated file
 *   node tools/wasm-randn/build.mjs --check  exit 1 if the generated file is not what this tool makes
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';

// ---------------------------------------------------------------------------------------------------
// Memory layout (bytes), shared with randn-wasm.ts (which reads these numbers from the generated file)
// ---------------------------------------------------------------------------------------------------
export const LAYOUT = {
  /** MT19937 state: 624 words. */
  state: 0,
  /** Indices of blocks the kernel flagged (one i32 each). */
  list: 4096,
  /** Uniforms in. */
  input: 8192,
  /** Normals out. */
  output: 8192 + 32768,
  /** Floats per chunk (a multiple of 16). */
  chunk: 8192,
  /** Pages of 64 KiB. */
  pages: 2,
};

// ---------------------------------------------------------------------------------------------------
// Encoding
// ---------------------------------------------------------------------------------------------------
function uleb(n) {
  const out = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}
function sleb(n) {
  const out = [];
  n |= 0;
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}
const I32 = 0x7f;
const V128 = 0x7b;
const F32 = 0x7d;

/** Plain opcodes used. */
const OP = {
  block: 0x02,
  loop: 0x03,
  if: 0x04,
  end: 0x0b,
  br: 0x0c,
  br_if: 0x0d,
  call: 0x10,
  select: 0x1b,
  'local.get': 0x20,
  'local.set': 0x21,
  'local.tee': 0x22,
  'i32.load': 0x28,
  'i32.store': 0x36,
  'f32.store': 0x38,
  'i32.const': 0x41,
  'i32.eqz': 0x45,
  'i32.lt_u': 0x49,
  'i32.ge_u': 0x4f,
  'i32.add': 0x6a,
  'i32.sub': 0x6b,
  'i32.and': 0x71,
  'i32.or': 0x72,
  'i32.xor': 0x73,
  'i32.shl': 0x74,
  'i32.shr_u': 0x76,
  'f32.mul': 0x94,
  'f32.convert_i32_s': 0xb2,
};
/** SIMD (0xFD-prefixed) opcodes used. */
const SIMD = {
  'v128.load': 0x00,
  'v128.store': 0x0b,
  'v128.const': 0x0c,
  'i32x4.eq': 0x37,
  'f32x4.lt': 0x43,
  'v128.and': 0x4e,
  'v128.andnot': 0x4f,
  'v128.or': 0x50,
  'v128.xor': 0x51,
  'v128.bitselect': 0x52,
  'v128.any_true': 0x53,
  'v128.store64_lane': 0x5b,
  'v128.load64_zero': 0x5d,
  'f32x4.demote_f64x2_zero': 0x5e,
  'f64x2.promote_low_f32x4': 0x5f,
  'i32x4.shl': 0xab,
  'i32x4.shr_u': 0xad,
  'i32x4.add': 0xae,
  'i32x4.sub': 0xb1,
  'i64x2.eq': 0xd6,
  'f32x4.sqrt': 0xe3,
  'f32x4.add': 0xe4,
  'f32x4.sub': 0xe5,
  'f32x4.mul': 0xe6,
  'f32x4.div': 0xe7,
  'f32x4.splat': 0x13,
  'f64x2.add': 0xf0,
  'f64x2.sub': 0xf1,
  'f64x2.mul': 0xf2,
  'i32x4.trunc_sat_f32x4_s': 0xf8,
  'f32x4.convert_i32x4_s': 0xfa,
  'f64x2.convert_low_i32x4_s': 0xfe,
};
function opcode(name) {
  if (name in OP) return [OP[name]];
  if (name in SIMD) return [0xfd, ...uleb(SIMD[name])];
  throw new Error(`unknown op ${name}`);
}

/** An instruction applied to operand expressions (each an array of bytes), operands first. */
const ins = (name, ...args) => [...args.flat(), ...opcode(name)];
/** A memory instruction: operands, opcode, memarg (align as log2, offset). */
const mem = (name, align, offset, ...args) => [
  ...args.flat(),
  ...opcode(name),
  ...uleb(align),
  ...uleb(offset),
];
const i32c = (v) => [OP['i32.const'], ...sleb(v)];
const get = (l) => [OP['local.get'], ...uleb(l)];
const set = (l, e) => [...e, OP['local.set'], ...uleb(l)];
/** A v128 constant of four equal 32-bit lanes (bits) or two equal 64-bit lanes (from a double). */
function v128i32(bits) {
  const b = new Uint8Array(16);
  const dv = new DataView(b.buffer);
  for (let i = 0; i < 4; i++) dv.setInt32(4 * i, bits | 0, true);
  return [0xfd, ...uleb(SIMD['v128.const']), ...b];
}
const f32bits = (x) => new Uint32Array(new Float32Array([x]).buffer)[0];
const v128f32 = (x) => v128i32(f32bits(Math.fround(x)));
function v128f64(x) {
  const b = new Uint8Array(16);
  const dv = new DataView(b.buffer);
  dv.setFloat64(0, x, true);
  dv.setFloat64(8, x, true);
  return [0xfd, ...uleb(SIMD['v128.const']), ...b];
}
function v128i64(lo32) {
  const b = new Uint8Array(16);
  const dv = new DataView(b.buffer);
  dv.setUint32(0, lo32 >>> 0, true);
  dv.setUint32(8, lo32 >>> 0, true);
  return [0xfd, ...uleb(SIMD['v128.const']), ...b];
}

/** A function body under construction: parameters, then locals allocated on demand. */
class Fn {
  constructor(params, results) {
    this.params = params;
    this.results = results;
    this.locals = [];
    this.code = [];
  }
  local(type) {
    this.locals.push(type);
    return this.params.length + this.locals.length - 1;
  }
  emit(...parts) {
    for (const p of parts) this.code.push(...p);
  }
  body() {
    const groups = [];
    for (const t of this.locals) {
      if (groups.length && groups[groups.length - 1][1] === t) groups[groups.length - 1][0]++;
      else groups.push([1, t]);
    }
    const bytes = [
      ...uleb(groups.length),
      ...groups.flatMap(([n, t]) => [...uleb(n), t]),
      ...this.code,
      OP.end,
    ];
    return [...uleb(bytes.length), ...bytes];
  }
}

// ---------------------------------------------------------------------------------------------------
// MT19937: twist (function 0) and tempered uniforms (function 1)
// ---------------------------------------------------------------------------------------------------
const N = 624;
const M = 397;
const MATRIX_A = 0x9908b0df | 0;
const UPPER = 0x80000000 | 0;
const LOWER = 0x7fffffff;

function twistFn() {
  const f = new Fn([], []);
  const p = f.local(I32);
  const y = f.local(V128);
  const ys = f.local(I32);
  const st = LAYOUT.state;
  /** One vector step: mt[k..k+3] from mt[k+1..k+4] and mt[mix..mix+3] (byte addresses p+ka, p+ka+4, p+ma). */
  const vstep = (ka, ma) => [
    ...set(
      y,
      ins(
        'v128.or',
        ins('v128.and', mem('v128.load', 0, st + ka, get(p)), v128i32(UPPER)),
        ins('v128.and', mem('v128.load', 0, st + ka + 4, get(p)), v128i32(LOWER)),
      ),
    ),
    ...mem(
      'v128.store',
      0,
      st + ka,
      get(p),
      ins(
        'v128.xor',
        ins('v128.xor', mem('v128.load', 0, st + ma, get(p)), ins('i32x4.shr_u', get(y), i32c(1))),
        ins('v128.and', ins('i32x4.sub', v128i32(0), ins('v128.and', get(y), v128i32(1))), v128i32(MATRIX_A)),
      ),
    ),
  ];
  /** One scalar step at fixed word indices. */
  const sstep = (k, k1, km) => [
    ...set(
      ys,
      ins(
        'i32.or',
        ins('i32.and', mem('i32.load', 2, st + 4 * k, i32c(0)), i32c(UPPER)),
        ins('i32.and', mem('i32.load', 2, st + 4 * k1, i32c(0)), i32c(LOWER)),
      ),
    ),
    ...mem(
      'i32.store',
      2,
      st + 4 * k,
      i32c(0),
      ins(
        'i32.xor',
        ins('i32.xor', mem('i32.load', 2, st + 4 * km, i32c(0)), ins('i32.shr_u', get(ys), i32c(1))),
        ins('i32.and', ins('i32.sub', i32c(0), ins('i32.and', get(ys), i32c(1))), i32c(MATRIX_A)),
      ),
    ),
  ];
  /** A loop of vector steps while p < limit, p advancing 16 bytes. */
  const vloop = (limit, ka, ma) => [
    ...set(p, i32c(0)),
    OP.block,
    0x40,
    OP.loop,
    0x40,
    ...ins('br_if', ins('i32.ge_u', get(p), i32c(limit))),
    1,
    ...vstep(ka, ma),
    ...set(p, ins('i32.add', get(p), i32c(16))),
    OP.br,
    0,
    OP.end,
    OP.end,
  ];
  // k in [0, 224): vectors; 224..226 scalar; k in [227, 623): vectors (p = 4(k − 227)); k = 623 scalar.
  f.emit(vloop(4 * 224, 0, 4 * M));
  f.emit(sstep(224, 225, 224 + M), sstep(225, 226, 225 + M), sstep(226, 227, 226 + M));
  f.emit(vloop(4 * 396, 4 * 227, 0));
  f.emit(sstep(N - 1, 0, M - 1));
  return f;
}

/** `(word & 0xFFFFFF)·2^-24` of the tempered word(s) in `y` (i32x4 or i32). */
function temperV(y) {
  return [
    ...set(y, ins('v128.xor', get(y), ins('i32x4.shr_u', get(y), i32c(11)))),
    ...set(
      y,
      ins('v128.xor', get(y), ins('v128.and', ins('i32x4.shl', get(y), i32c(7)), v128i32(0x9d2c5680))),
    ),
    ...set(
      y,
      ins('v128.xor', get(y), ins('v128.and', ins('i32x4.shl', get(y), i32c(15)), v128i32(0xefc60000))),
    ),
    ...set(y, ins('v128.xor', get(y), ins('i32x4.shr_u', get(y), i32c(18)))),
  ];
}
function temperS(y) {
  return [
    ...set(y, ins('i32.xor', get(y), ins('i32.shr_u', get(y), i32c(11)))),
    ...set(y, ins('i32.xor', get(y), ins('i32.and', ins('i32.shl', get(y), i32c(7)), i32c(0x9d2c5680)))),
    ...set(y, ins('i32.xor', get(y), ins('i32.and', ins('i32.shl', get(y), i32c(15)), i32c(0xefc60000)))),
    ...set(y, ins('i32.xor', get(y), ins('i32.shr_u', get(y), i32c(18)))),
  ];
}

/** uniform(index, out, count) → index: `count` floats at byte address `out`, one word each. */
function uniformFn() {
  const f = new Fn([I32, I32, I32], [I32]);
  const [index, out, count] = [0, 1, 2];
  const run = f.local(I32);
  const p = f.local(I32);
  const i = f.local(I32);
  const y = f.local(V128);
  const ys = f.local(I32);
  const unit = Math.fround(2 ** -24);
  f.emit([
    OP.block,
    0x40,
    OP.loop,
    0x40,
    ...ins('br_if', ins('i32.eqz', get(count))),
    1,
    ...ins('i32.ge_u', get(index), i32c(N)),
    OP.if,
    0x40,
    OP.call,
    0,
    ...set(index, i32c(0)),
    OP.end,
    // run = min(count, N − index)
    ...set(
      run,
      ins(
        'select',
        get(count),
        ins('i32.sub', i32c(N), get(index)),
        ins('i32.lt_u', get(count), ins('i32.sub', i32c(N), get(index))),
      ),
    ),
    ...set(p, ins('i32.add', ins('i32.shl', get(index), i32c(2)), i32c(LAYOUT.state))),
    ...set(i, get(run)),
    OP.block,
    0x40,
    OP.loop,
    0x40,
    ...ins('br_if', ins('i32.lt_u', get(i), i32c(4))),
    1,
    ...set(y, mem('v128.load', 0, 0, get(p))),
    ...temperV(y),
    ...mem(
      'v128.store',
      0,
      0,
      get(out),
      ins(
        'f32x4.mul',
        ins('f32x4.convert_i32x4_s', ins('v128.and', get(y), v128i32(0xffffff))),
        v128f32(unit),
      ),
    ),
    ...set(p, ins('i32.add', get(p), i32c(16))),
    ...set(out, ins('i32.add', get(out), i32c(16))),
    ...set(i, ins('i32.sub', get(i), i32c(4))),
    OP.br,
    0,
    OP.end,
    OP.end,
    OP.block,
    0x40,
    OP.loop,
    0x40,
    ...ins('br_if', ins('i32.eqz', get(i))),
    1,
    ...set(ys, mem('i32.load', 2, 0, get(p))),
    ...temperS(ys),
    ...mem(
      'f32.store',
      2,
      0,
      get(out),
      ins('f32.mul', ins('f32.convert_i32_s', ins('i32.and', get(ys), i32c(0xffffff))), [
        0x43,
        ...new Uint8Array(new Float32Array([unit]).buffer),
      ]),
    ),
    ...set(p, ins('i32.add', get(p), i32c(4))),
    ...set(out, ins('i32.add', get(out), i32c(4))),
    ...set(i, ins('i32.sub', get(i), i32c(1))),
    OP.br,
    0,
    OP.end,
    OP.end,
    ...set(index, ins('i32.add', get(index), get(run))),
    ...set(count, ins('i32.sub', get(count), get(run))),
    OP.br,
    0,
    OP.end,
    OP.end,
    ...get(index),
  ]);
  return f;
}

// ---------------------------------------------------------------------------------------------------
// Box–Muller on blocks of 16 (function 2)
// ---------------------------------------------------------------------------------------------------
const fr = Math.fround;
const K = {
  ONE: fr(1),
  SQRT_HALF: fr(Math.SQRT1_2),
  HALF: 0.5,
  MINUS_TWO: -2,
  TWO_PI: fr(2 * Math.PI),
  LOG_P: [
    7.0376836292e-2, -1.151461031e-1, 1.167699874e-1, -1.2420140846e-1, 1.4249322787e-1, -1.6668057665e-1,
    2.0000714765e-1, -2.4999993993e-1, 3.3333331174e-1,
  ].map(fr),
  LN2_HI: fr(0.693359375),
  LN2_LO: fr(-2.1219444e-4),
  FOUR_OVER_PI: fr(1.27323954473516),
  MINUS_DP1: fr(-0.78515625),
  MINUS_DP2: fr(-2.4187564849853516e-4),
  MINUS_DP3: fr(-3.774894977445941e-8),
  COS_C0: fr(2.443315711809948e-5),
  COS_C1: fr(-1.388731625493765e-3),
  COS_C2: fr(4.166664568298827e-2),
  SIN_S0: fr(-1.9515295891e-4),
  SIN_S1: fr(8.3321608736e-3),
  SIN_S2: fr(-1.6666654611e-1),
};

/**
 * normal(in, out, blocks, list) → flagged: Box–Muller on `blocks` blocks of 16 uniforms at `in`, normals
 * to `out`; the indices of blocks whose result may differ from the JavaScript path go to `list`.
 * `interleave` groups of two lanes are computed side by side (their operations alternate).
 */
function normalFn(interleave, checks) {
  const f = new Fn([I32, I32, I32, I32], [I32]);
  const [inp, out, blocks, list] = [0, 1, 2, 3];
  const flagged = f.local(I32);
  const b = f.local(I32);
  const flag = f.local(V128);
  // Constants in locals (set once).
  const consts = [];
  const c = (bytes) => {
    const l = f.local(V128);
    consts.push(set(l, bytes));
    return get(l);
  };
  const ONE = c(v128f32(K.ONE));
  const MANT = c(v128i32(0x807fffff));
  const HALF_EXP = c(v128i32(0x3f000000));
  const SQRT_HALF = c(v128f32(K.SQRT_HALF));
  const I126 = c(v128i32(126));
  const P = K.LOG_P.map((x) => c(v128f64(x)));
  const LN2_HI = c(v128f32(K.LN2_HI));
  const LN2_LO = c(v128f32(K.LN2_LO));
  const HALF_F = c(v128f32(0.5));
  const MINUS_TWO = c(v128f32(-2));
  const TWO_PI = c(v128f32(K.TWO_PI));
  const FOUR_OVER_PI = c(v128f32(K.FOUR_OVER_PI));
  const I1 = c(v128i32(1));
  const NOT1 = c(v128i32(~1));
  const I2 = c(v128i32(2));
  const I4 = c(v128i32(4));
  const DP1 = c(v128f32(K.MINUS_DP1));
  const DP2 = c(v128f32(K.MINUS_DP2));
  const DP3 = c(v128f64(K.MINUS_DP3));
  const C0 = c(v128f64(K.COS_C0));
  const C1 = c(v128f64(K.COS_C1));
  const C2 = c(v128f64(K.COS_C2));
  const S0 = c(v128f64(K.SIN_S0));
  const S1 = c(v128f64(K.SIN_S1));
  const S2 = c(v128f64(K.SIN_S2));
  const HALF_D = c(v128f64(0.5));
  const LOW29 = c(v128i64(0x1fffffff));
  const MID29 = c(v128i64(0x10000000));

  const promote = (e) => ins('f64x2.promote_low_f32x4', e);
  const demote = (e) => ins('f32x4.demote_f64x2_zero', e);
  /** flag |= (s's low 29 bits == 1000…0): s is a float32 midpoint (s stays on the stack). */
  const check = (sLocal) =>
    !checks
      ? []
      : set(flag, ins('v128.or', get(flag), ins('i64x2.eq', ins('v128.and', get(sLocal), LOW29), MID29)));

  /** The statements of one group of two lanes (g = 0..3): lanes 2g, 2g+1 and 8+2g, 9+2g of each block. */
  function group(g) {
    const L = () => f.local(V128);
    const [u1, u2, x, e, mf, small, m, md, z, zd, yd, y, s, ef] = Array.from({ length: 14 }, L);
    const [radius, th, k, kf, r, rd, rz, rzd, cd, cf, sd, sf, cosv, sinv, swap, sv, cv] = Array.from(
      { length: 17 },
      L,
    );
    const st = [];
    st.push(set(u1, mem('v128.load64_zero', 0, 8 * g, get(inp))));
    st.push(set(u2, mem('v128.load64_zero', 0, 32 + 8 * g, get(inp))));
    // log(1 − u1)
    st.push(set(x, ins('f32x4.sub', ONE, get(u1))));
    st.push(set(e, ins('i32x4.sub', ins('i32x4.shr_u', get(x), i32c(23)), I126)));
    st.push(set(mf, ins('v128.or', ins('v128.and', get(x), MANT), HALF_EXP)));
    st.push(set(small, ins('f32x4.lt', get(mf), SQRT_HALF)));
    st.push(set(e, ins('i32x4.add', get(e), get(small))));
    st.push(set(m, ins('f32x4.add', ins('f32x4.sub', get(mf), ONE), ins('v128.and', get(small), get(mf)))));
    st.push(set(md, promote(get(m))));
    st.push(set(z, ins('f32x4.mul', get(m), get(m))));
    st.push(set(zd, promote(get(z))));
    st.push(set(yd, promote(demote(ins('f64x2.add', ins('f64x2.mul', P[0], get(md)), P[1])))));
    for (let j = 2; j <= 7; j++) {
      st.push(set(yd, promote(demote(ins('f64x2.add', ins('f64x2.mul', get(yd), get(md)), P[j])))));
    }
    st.push(set(y, demote(ins('f64x2.add', ins('f64x2.mul', get(yd), get(md)), P[8]))));
    st.push(set(y, ins('f32x4.mul', get(y), get(m))));
    st.push(set(ef, ins('f32x4.convert_i32x4_s', get(e))));
    st.push(
      set(
        s,
        ins(
          'f64x2.add',
          ins('f64x2.mul', promote(get(y)), get(zd)),
          promote(ins('f32x4.mul', get(ef), LN2_LO)),
        ),
      ),
    );
    st.push(check(s));
    st.push(set(y, demote(get(s))));
    st.push(set(y, ins('f32x4.sub', get(y), ins('f32x4.mul', get(z), HALF_F))));
    st.push(set(y, ins('f32x4.add', ins('f32x4.add', get(m), get(y)), ins('f32x4.mul', get(ef), LN2_HI))));
    st.push(set(radius, ins('f32x4.sqrt', ins('f32x4.mul', get(y), MINUS_TWO))));
    // sincos(2π·u2), θ ≥ 0
    st.push(set(th, ins('f32x4.mul', get(u2), TWO_PI)));
    st.push(
      set(
        k,
        ins(
          'v128.and',
          ins('i32x4.add', ins('i32x4.trunc_sat_f32x4_s', ins('f32x4.mul', get(th), FOUR_OVER_PI)), I1),
          NOT1,
        ),
      ),
    );
    st.push(set(kf, ins('f32x4.convert_i32x4_s', get(k))));
    st.push(set(r, ins('f32x4.add', get(th), ins('f32x4.mul', get(kf), DP1))));
    st.push(set(r, ins('f32x4.add', get(r), ins('f32x4.mul', get(kf), DP2))));
    st.push(
      set(
        rd,
        ins('f64x2.add', ins('f64x2.mul', ins('f64x2.convert_low_i32x4_s', get(k)), DP3), promote(get(r))),
      ),
    );
    st.push(set(r, demote(get(rd))));
    st.push(set(rd, promote(get(r))));
    st.push(set(rz, ins('f32x4.mul', get(r), get(r))));
    st.push(set(rzd, promote(get(rz))));
    // cosine polynomial
    st.push(set(cd, ins('f64x2.add', ins('f64x2.mul', C0, get(rzd)), C1)));
    st.push(check(cd));
    st.push(set(cd, ins('f64x2.add', ins('f64x2.mul', promote(demote(get(cd))), get(rzd)), C2)));
    st.push(check(cd));
    st.push(set(cf, ins('f32x4.mul', demote(get(cd)), get(rz))));
    st.push(
      set(
        cd,
        ins('f64x2.sub', ins('f64x2.mul', promote(get(cf)), get(rzd)), ins('f64x2.mul', get(rzd), HALF_D)),
      ),
    );
    st.push(check(cd));
    st.push(set(cosv, ins('f32x4.add', demote(get(cd)), ONE)));
    // sine polynomial
    st.push(set(sd, ins('f64x2.add', ins('f64x2.mul', S0, get(rzd)), S1)));
    st.push(check(sd));
    st.push(set(sd, ins('f64x2.add', ins('f64x2.mul', promote(demote(get(sd))), get(rzd)), S2)));
    st.push(check(sd));
    st.push(set(sf, ins('f32x4.mul', demote(get(sd)), get(rz))));
    st.push(set(sd, ins('f64x2.add', ins('f64x2.mul', promote(get(sf)), get(rd)), get(rd))));
    st.push(check(sd));
    st.push(set(sinv, demote(get(sd))));
    // octant: swap the polynomials where k & 2, signs from bit 2 of k and of k − 2
    st.push(set(swap, ins('i32x4.eq', ins('v128.and', get(k), I2), I2)));
    st.push(
      set(
        sv,
        ins(
          'v128.xor',
          ins('v128.bitselect', get(cosv), get(sinv), get(swap)),
          ins('i32x4.shl', ins('v128.and', get(k), I4), i32c(29)),
        ),
      ),
    );
    st.push(
      set(
        cv,
        ins(
          'v128.xor',
          ins('v128.bitselect', get(sinv), get(cosv), get(swap)),
          ins('i32x4.shl', ins('v128.andnot', I4, ins('i32x4.sub', get(k), I2)), i32c(29)),
        ),
      ),
    );
    st.push([...mem('v128.store64_lane', 0, 8 * g, get(out), ins('f32x4.mul', get(radius), get(cv))), 0]);
    st.push([
      ...mem('v128.store64_lane', 0, 32 + 8 * g, get(out), ins('f32x4.mul', get(radius), get(sv))),
      0,
    ]);
    return st;
  }

  const groups = [0, 1, 2, 3].map(group);
  const bodyStatements = [];
  for (let start = 0; start < 4; start += interleave) {
    const part = groups.slice(start, start + interleave);
    const len = part[0].length;
    for (let i = 0; i < len; i++) for (const gs of part) bodyStatements.push(gs[i]);
  }
  f.emit(...consts);
  f.emit([
    OP.block,
    0x40,
    OP.loop,
    0x40,
    ...ins('br_if', ins('i32.ge_u', get(b), get(blocks))),
    1,
    ...set(flag, v128i32(0)),
  ]);
  for (const s of bodyStatements) f.emit(s);
  f.emit([
    ...ins('v128.any_true', get(flag)),
    OP.if,
    0x40,
    ...mem('i32.store', 2, 0, ins('i32.add', get(list), ins('i32.shl', get(flagged), i32c(2))), get(b)),
    ...set(flagged, ins('i32.add', get(flagged), i32c(1))),
    OP.end,
    ...set(inp, ins('i32.add', get(inp), i32c(64))),
    ...set(out, ins('i32.add', get(out), i32c(64))),
    ...set(b, ins('i32.add', get(b), i32c(1))),
    OP.br,
    0,
    OP.end,
    OP.end,
    ...get(flagged),
  ]);
  return f;
}

// ---------------------------------------------------------------------------------------------------
// Module
// ---------------------------------------------------------------------------------------------------
function section(id, payload) {
  return [id, ...uleb(payload.length), ...payload];
}
function vec(items) {
  return [...uleb(items.length), ...items.flat()];
}
function str(s) {
  const b = [...Buffer.from(s, 'utf8')];
  return [...uleb(b.length), ...b];
}

/**
 * A whole module: one memory of `pages` 64 KiB pages exported as "memory", the functions `fns` (each with
 * `params`, `results` and `body()`), and `exports` naming functions by their index in `fns`.
 */
function assembleModule(fns, pages, exports) {
  const sigKey = (fn) => `${fn.params.join(',')}->${fn.results.join(',')}`;
  const sigs = [];
  for (const fn of fns) if (!sigs.includes(sigKey(fn))) sigs.push(sigKey(fn));
  const types = sigs.map((k) => {
    const fn = fns.find((x) => sigKey(x) === k);
    return [0x60, ...vec(fn.params.map((t) => [t])), ...vec(fn.results.map((t) => [t]))];
  });
  return new Uint8Array([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00], // "\0asm", version 1
    ...section(1, vec(types)),
    ...section(3, vec(fns.map((fn) => uleb(sigs.indexOf(sigKey(fn)))))),
    ...section(5, vec([[0x00, ...uleb(pages)]])),
    ...section(
      7,
      vec([
        [...str('memory'), 0x02, 0],
        ...exports.map(([name, index]) => [...str(name), 0x00, ...uleb(index)]),
      ]),
    ),
    ...section(10, vec(fns.map((fn) => fn.body()))),
  ]);
}

/** The module's bytes. Exports: memory, uniform(index, out, count), normal(in, out, blocks, list). */
export function buildRandnWasm({ interleave = 2, checks = true } = {}) {
  const fns = [twistFn(), uniformFn(), normalFn(interleave, checks)];
  return assembleModule(fns, LAYOUT.pages, [
    ['uniform', 1],
    ['normal', 2],
  ]);
}

/** The encoder, for the other WebAssembly tools (tools/wasm-step). */
export {
  assembleModule,
  F32,
  Fn,
  get,
  I32,
  i32c,
  ins,
  mem,
  OP,
  section,
  set,
  str,
  uleb,
  V128,
  v128f32,
  v128i32,
  vec,
};

const OUT_PATH = fileURLToPath(
  new URL('../../packages/core/src/random/randn-wasm.generated.ts', import.meta.url),
);

export function generatedSource(bytes = buildRandnWasm()) {
  const b64 = Buffer.from(bytes).toString('base64');
  return `// Generated by tools/wasm-randn/build.mjs — do not edit; run \`node tools/wasm-randn/build.mjs\`.
// The WebAssembly (SIMD) kernel of TorchGenerator.randn: MT19937 words and torch's float32 Box–Muller.

/** The module's bytes, base64 (${bytes.length} bytes). */
export const RANDN_WASM_BASE64 =
  '${b64}';

/** Where the module keeps its data (bytes into its memory) and how many floats it takes per call. */
export const RANDN_WASM_LAYOUT = {
  state: ${LAYOUT.state},
  list: ${LAYOUT.list},
  input: ${LAYOUT.input},
  output: ${LAYOUT.output},
  chunk: ${LAYOUT.chunk},
} as const;
`;
}

/**
 * A build tool's command line: writes `source` to `outPath`, or with `--check` exits 1 when the committed
 * file differs from it (the tests run the check). `tool` is the script's path, for the message.
 */
export function writeOrCheckGenerated(outPath, source, tool, bytes) {
  const name = basename(outPath);
  if (process.argv.includes('--check')) {
    let current = '';
    try {
      current = readFileSync(outPath, 'utf8');
    } catch {}
    if (current !== source) {
      console.error(`${outPath} is out of date: run node ${tool}`);
      process.exit(1);
    }
    console.log(`${name} is up to date`);
  } else {
    writeFileSync(outPath, source);
    console.log(`wrote ${outPath} (${bytes} bytes of WebAssembly)`);
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeOrCheckGenerated(OUT_PATH, generatedSource(), 'tools/wasm-randn/build.mjs', buildRandnWasm().length);
}
