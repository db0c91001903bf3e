#!/usr/bin/env node
/**
 * Builds the WebAssembly (SIMD) elementwise kernels of the schedulers' hottest steps and writes them, as
 * base64 bytes, to packages/schedulers/src/shared/step-wasm.generated.ts (encoder:
 * tools/wasm-randn/build.mjs).
 *
 * Each kernel is one pass over `count` floats, four lanes per instruction, in f32x4 arithmetic: every
 * WebAssembly f32 operation is an IEEE single operation, the same value as `Math.fround` of the JavaScript
 * double operation on float32 inputs (double has more than 2·24 + 2 bits, so +, −, ×, ÷ round once). The
 * expressions below are the JavaScript loops' expressions, operation for operation, in the same order.
 * Inputs are slots 0…, outputs the slots after them, each `LAYOUT.chunk` floats at `LAYOUT.base`.
 *
 *   node tools/wasm-step/build.mjs          write the generated file
 *   node tools/wasm-step/build.mjs --check  exit 1 if the generated file is not what this tool makes
 */
import { fileURLToPath } from 'node:url';
import {
  assembleModule,
  F32,
  Fn,
  get,
  I32,
  i32c,
  ins,
  mem,
  OP,
  set,
  V128,
  v128f32,
  writeOrCheckGenerated,
} from '../wasm-randn/build.mjs';

export const LAYOUT = { base: 0, chunk: 8192, slots: 8, pages: 4 };

const add = (a, b) => ins('f32x4.add', a, b);
const sub = (a, b) => ins('f32x4.sub', a, b);
const mul = (a, b) => ins('f32x4.mul', a, b);
const div = (a, b) => ins('f32x4.div', a, b);
const k = (x) => v128f32(x);

/**
 * The kernels: inputs, f32 parameters, outputs, and the body (given the operands as expressions and a
 * `let_` that keeps a value in a local; returns the outputs' expressions).
 */
const KERNELS = [
  {
    // PNDM's PLMS step (ε prediction, 4 stored outputs): ε' = (55e1 − 59e2 + 37e3 − 9e4)/24, then formula (9).
    name: 'pndm4',
    inputs: ['e1', 'e2', 'e3', 'e4', 'x'],
    params: ['c', 'sc', 'diff', 'denom'],
    outputs: ['out'],
    body: ({ e1, e2, e3, e4, x, c, sc, diff, denom }) => {
      const s = sub(add(sub(mul(k(55), e1), mul(k(59), e2)), mul(k(37), e3)), mul(k(9), e4));
      return [sub(mul(sc, x), div(mul(diff, mul(c, s)), denom))];
    },
  },
  // LMS (ε prediction), 1–4 terms: x₀ = x − σm, d = (x − x₀)/σ, prev = x + Σ c_j·d_j (newest first).
  ...[1, 2, 3, 4].map((terms) => ({
    name: `lms${terms}`,
    inputs: ['x', 'm', 'd1', 'd2', 'd3'].slice(0, 1 + terms),
    params: ['sigma', 'c0', 'c1', 'c2', 'c3'].slice(0, 1 + terms),
    outputs: ['deriv', 'prev'],
    body: (v, let_) => {
      const x = let_(v.x);
      const d = let_(div(sub(x, sub(x, mul(v.sigma, v.m))), v.sigma));
      let acc = mul(v.c0, d);
      for (let j = 1; j < terms; j++) acc = add(acc, mul(v[`c${j}`], v[`d${j}`]));
      return [d, add(x, acc)];
    },
  })),
  {
    // UniPC's combine with no history term: cX·x + cM·m0.
    name: 'unipc0',
    inputs: ['x', 'm0'],
    params: ['cX', 'cM'],
    outputs: ['out'],
    body: ({ x, m0, cX, cM }) => [add(mul(cX, x), mul(cM, m0))],
  },
  {
    // UniC with no history term: base + cRes·(ρ_t·(m_t − m0)).
    name: 'unipc0t',
    inputs: ['x', 'm0', 'mt'],
    params: ['cX', 'cM', 'cRes', 'rhoT'],
    outputs: ['out'],
    body: ({ x, mt, cX, cM, cRes, rhoT, m0 }, let_) => {
      const a = let_(m0);
      return [add(add(mul(cX, x), mul(cM, a)), mul(cRes, mul(rhoT, sub(mt, a))))];
    },
  },
  {
    // UniP, one history term: base + cRes·(ρ1·((m1 − m0)/r1)).
    name: 'unipc1',
    inputs: ['x', 'm0', 'm1'],
    params: ['cX', 'cM', 'cRes', 'rho1', 'r1'],
    outputs: ['out'],
    body: ({ x, m0, m1, cX, cM, cRes, rho1, r1 }, let_) => {
      const a = let_(m0);
      return [add(add(mul(cX, x), mul(cM, a)), mul(cRes, mul(rho1, div(sub(m1, a), r1))))];
    },
  },
  {
    // UniC, one history term: base + cRes·(ρ1·((m1 − m0)/r1) + ρ_t·(m_t − m0)).
    name: 'unipc1t',
    inputs: ['x', 'm0', 'm1', 'mt'],
    params: ['cX', 'cM', 'cRes', 'rho1', 'r1', 'rhoT'],
    outputs: ['out'],
    body: ({ x, m0, m1, mt, cX, cM, cRes, rho1, r1, rhoT }, let_) => {
      const a = let_(m0);
      const res = add(mul(rho1, div(sub(m1, a), r1)), mul(rhoT, sub(mt, a)));
      return [add(add(mul(cX, x), mul(cM, a)), mul(cRes, res))];
    },
  },
  {
    // Adding scaled noise (DDIM, DDPM, Euler a): a + s·y.
    name: 'axpy',
    inputs: ['a', 'y'],
    params: ['s'],
    outputs: ['out'],
    body: ({ a, y, s }) => [add(a, mul(s, y))],
  },
  {
    // Two scaled arrays (DDPM's posterior mean, LCM and TCD): ca·a + cb·b.
    name: 'lin2',
    inputs: ['a', 'b'],
    params: ['ca', 'cb'],
    outputs: ['out'],
    body: ({ a, b, ca, cb }) => [add(mul(ca, a), mul(cb, b))],
  },
  {
    // An Euler update from ε (Euler a; DPM2 a's first sub-step): x + ((x − (x − s_m·m))/s_d)·dt.
    name: 'eulerx0',
    inputs: ['x', 'm'],
    params: ['sm', 'sd', 'dt'],
    outputs: ['out'],
    body: ({ x, m, sm, sd, dt }, let_) => {
      const xi = let_(x);
      return [add(xi, mul(div(sub(xi, sub(xi, mul(sm, m))), sd), dt))];
    },
  },
  {
    // DPM2 a's second sub-step (ε): x₁ + ((x − (x − s_m·m))/σ_interpol)·dt + noise·σ_up.
    name: 'dpm2a',
    inputs: ['x1', 'x', 'm', 'noise'],
    params: ['sm', 'sd', 'dt', 'up'],
    outputs: ['out'],
    body: ({ x1, x, m, noise, sm, sd, dt, up }, let_) => {
      const xi = let_(x);
      return [add(add(x1, mul(div(sub(xi, sub(xi, mul(sm, m))), sd), dt)), mul(noise, up))];
    },
  },
  {
    // The DPM family's data prediction from ε: x₀ = (x − σ_t·ε)/α_t (also DDPM/LCM/TCD's x₀ = (x − √β̄·ε)/√ᾱ).
    name: 'vpx0',
    inputs: ['s', 'mo'],
    params: ['sigmaT', 'alpha'],
    outputs: ['out'],
    body: ({ s, mo, sigmaT, alpha }) => [div(sub(s, mul(sigmaT, mo)), alpha)],
  },
];

const slot = (i) => LAYOUT.base + 4 * LAYOUT.chunk * i;

/** kernel(count, ...params): one pass over `count` floats (rounded up to a multiple of 4). */
function kernelFn(spec) {
  const f = new Fn([I32, ...spec.params.map(() => F32)], []);
  const i = f.local(I32);
  const end = f.local(I32);
  const operands = {};
  const prelude = [];
  spec.params.forEach((p, j) => {
    const l = f.local(V128);
    prelude.push(set(l, ins('f32x4.splat', get(1 + j))));
    operands[p] = get(l);
  });
  spec.inputs.forEach((name, j) => {
    operands[name] = mem('v128.load', 0, slot(j), get(i));
  });
  const statements = [];
  const let_ = (e) => {
    const l = f.local(V128);
    statements.push(set(l, e));
    return get(l);
  };
  const outs = spec.body(operands, let_);
  if (outs.length !== spec.outputs.length) throw new Error(`${spec.name}: ${outs.length} outputs`);
  outs.forEach((e, j) => {
    statements.push(mem('v128.store', 0, slot(spec.inputs.length + j), get(i), e));
  });
  f.emit(...prelude);
  f.emit(set(end, ins('i32.shl', get(0), i32c(2))));
  f.emit([OP.block, 0x40, OP.loop, 0x40, ...ins('br_if', ins('i32.ge_u', get(i), get(end))), 1]);
  f.emit(...statements);
  f.emit([...set(i, ins('i32.add', get(i), i32c(16))), OP.br, 0, OP.end, OP.end]);
  return f;
}

/** The module's bytes: memory, then one export per kernel. */
export function buildStepWasm() {
  for (const s of KERNELS) {
    if (s.inputs.length + s.outputs.length > LAYOUT.slots) throw new Error(`${s.name}: too many slots`);
  }
  const fns = KERNELS.map(kernelFn);
  return assembleModule(
    fns,
    LAYOUT.pages,
    KERNELS.map((k, j) => [k.name, j]),
  );
}

const OUT_PATH = fileURLToPath(
  new URL('../../packages/schedulers/src/shared/step-wasm.generated.ts', import.meta.url),
);

export function generatedSource(bytes = buildStepWasm()) {
  const b64 = Buffer.from(bytes).toString('base64');
  const kernels = KERNELS.map(
    (s) =>
      `  ${s.name}: { inputs: ${s.inputs.length}, params: ${s.params.length}, outputs: ${s.outputs.length} },`,
  ).join('\n');
  return `// Generated by tools/wasm-step/build.mjs — do not edit; run \`node tools/wasm-step/build.mjs\`.
// WebAssembly (SIMD) elementwise kernels of the schedulers' steps, float32 operation for operation.

/** The module's bytes, base64 (${bytes.length} bytes). */
export const STEP_WASM_BASE64 =
  '${b64}';

/** Slot k of a kernel (inputs first, then outputs) holds \`chunk\` floats at byte \`base + 4·chunk·k\`. */
export const STEP_WASM_LAYOUT = { base: ${LAYOUT.base}, chunk: ${LAYOUT.chunk} } as const;

/** Each kernel's number of input arrays, float32 parameters and output arrays. */
export const STEP_WASM_KERNELS = {
${kernels}
} as const;
`;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeOrCheckGenerated(OUT_PATH, generatedSource(), 'tools/wasm-step/build.mjs', buildStepWasm().length);
}
