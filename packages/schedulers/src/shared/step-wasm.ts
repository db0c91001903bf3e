/**
 * WebAssembly (SIMD) elementwise kernels for the hottest scheduler loops (PNDM's PLMS step, LMS, UniPC's
 * combine, the DPM family's x₀): the same float32 operations in the same order as the JavaScript loops,
 * four lanes per instruction, where JavaScript pays a `Math.fround` per operation. Built by
 * tools/wasm-step/build.mjs and embedded as bytes (step-wasm.generated.ts): no runtime dependency.
 *
 * {@link runStepKernel} returns `false` where WebAssembly SIMD is unavailable (or disabled, or a
 * parameter is not a float32 value): the caller then runs its JavaScript loop, which gives the same bits.
 */
import { STEP_WASM_BASE64, type STEP_WASM_KERNELS, STEP_WASM_LAYOUT } from './step-wasm.generated.js';

/** A kernel's name. */
export type StepKernelName = keyof typeof STEP_WASM_KERNELS;

interface Compiled {
  readonly exports: Record<StepKernelName, (count: number, ...params: number[]) => void>;
  readonly floats: Float32Array;
}

let compiled: Compiled | null = null;
let status: 'untried' | 'ready' | 'pending' | 'unavailable' = 'untried';
let enabled = true;

function instantiate(module: WebAssembly.Module): Compiled {
  const exports = new WebAssembly.Instance(module, {}).exports as unknown as Compiled['exports'] & {
    memory: WebAssembly.Memory;
  };
  return { exports, floats: new Float32Array(exports.memory.buffer) };
}

function kernels(): Compiled | null {
  if (!enabled) return null;
  if (status === 'ready') return compiled;
  if (status !== 'untried') return null;
  status = 'unavailable';
  if (typeof WebAssembly !== 'object' || typeof atob !== 'function') return null;
  const binary = atob(STEP_WASM_BASE64);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  try {
    if (!WebAssembly.validate(bytes)) return null; // no SIMD in this engine
    compiled = instantiate(new WebAssembly.Module(bytes));
    status = 'ready';
    return compiled;
  } catch {
    // e.g. a browser's main thread refusing synchronous compilation: compile in the background
    status = 'pending';
    WebAssembly.compile(bytes).then(
      (module) => {
        compiled = instantiate(module);
        status = 'ready';
      },
      () => {
        status = 'unavailable';
      },
    );
    return null;
  }
}

/**
 * Turns the kernels on or off (on by default; off = the JavaScript loops). For tests and benchmarks that
 * compare the two; both give the same bits.
 * @internal
 */
export function setStepWasmEnabled(on: boolean): void {
  enabled = on;
}

/** Whether the kernels are in use (compiled, and not turned off). @internal */
export function stepWasmActive(): boolean {
  return kernels() !== null;
}

/** How many times each kernel ran (for tests that check the kernels were used). @internal */
export const stepKernelRuns: Partial<Record<StepKernelName, number>> = {};

/**
 * Runs kernel `name` over `outputs[k].length` elements: `inputs` (each at least that long) and `params`
 * (float32 values) in, `outputs` written. Returns `false` (and writes nothing) where the kernels are not
 * available or a parameter is not a float32 value; the caller then runs its JavaScript loop.
 */
export function runStepKernel(
  name: StepKernelName,
  inputs: readonly Float32Array[],
  outputs: readonly Float32Array[],
  params: readonly number[],
): boolean {
  const k = kernels();
  if (k === null) return false;
  for (const p of params) if (Math.fround(p) !== p) return false; // NaN included
  const { chunk, base } = STEP_WASM_LAYOUT;
  const fn = k.exports[name];
  const floats = k.floats;
  const n = outputs[0]!.length;
  const slot = (j: number): number => base / 4 + chunk * j;
  const nIn = inputs.length;
  for (let start = 0; start < n; start += chunk) {
    const len = Math.min(chunk, n - start);
    for (let j = 0; j < nIn; j++) floats.set(inputs[j]!.subarray(start, start + len), slot(j));
    fn(len, ...params);
    for (let j = 0; j < outputs.length; j++) {
      const at = slot(nIn + j);
      outputs[j]!.set(floats.subarray(at, at + len), start);
    }
  }
  stepKernelRuns[name] = (stepKernelRuns[name] ?? 0) + 1;
  return true;
}
