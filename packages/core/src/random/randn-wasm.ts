/**
 * The WebAssembly (SIMD) path of {@link TorchGenerator.randn}: the same MT19937 words and the same float32
 * Box–Muller arithmetic as the JavaScript path (float32-math.ts), four to eight lanes per instruction.
 * The module is built by tools/wasm-randn/build.mjs and embedded as bytes (randn-wasm.generated.ts), so
 * the package keeps no runtime dependency and no file to fetch.
 *
 * Bit-exactness: the kernel flags a block of 16 where a fused multiply-add's double sum lands on a
 * float32 midpoint (the one case where its rounding may differ from the JavaScript `fma32`); such blocks
 * are recomputed here with the JavaScript path. Where WebAssembly SIMD is missing (or compiling on the
 * browser's main thread is refused), randn stays on the JavaScript path; both give the same bits.
 */
import type { Mt19937 } from './mt19937.js';
import { RANDN_WASM_BASE64, RANDN_WASM_LAYOUT } from './randn-wasm.generated.js';

/** The module's exports. */
interface RandnWasmExports {
  readonly memory: WebAssembly.Memory;
  /** Fills `count` floats at byte `out` with uniforms from the state; returns the new word index. */
  uniform(index: number, out: number, count: number): number;
  /** Box–Muller on `blocks` blocks at byte `input` into byte `output`; returns how many it flagged. */
  normal(input: number, output: number, blocks: number, list: number): number;
}

/** A compiled kernel, with views of its memory. */
export interface RandnWasmKernel {
  readonly exports: RandnWasmExports;
  readonly words: Int32Array;
  readonly floats: Float32Array;
}

/** Recomputes `count` blocks of 16 uniforms from `data[start]` on, in place (the JavaScript path). */
export type BoxMullerBlocks = (data: Float32Array, start: number, count: number) => void;

let kernel: RandnWasmKernel | null = null;
let status: 'untried' | 'ready' | 'pending' | 'unavailable' = 'untried';
let enabled = true;

function decodeBase64(text: string): Uint8Array<ArrayBuffer> {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

function instantiate(module: WebAssembly.Module): RandnWasmKernel {
  const exports = new WebAssembly.Instance(module, {}).exports as unknown as RandnWasmExports;
  return {
    exports,
    words: new Int32Array(exports.memory.buffer),
    floats: new Float32Array(exports.memory.buffer),
  };
}

/**
 * The kernel, compiled on first use; `null` where WebAssembly (with SIMD) is unavailable or disabled.
 * Compiles synchronously; where that is refused (a browser's main thread may refuse synchronous
 * compilation of larger modules) it compiles asynchronously, and randn uses the kernel once it is ready.
 */
export function randnWasmKernel(): RandnWasmKernel | null {
  if (!enabled) return null;
  if (status === 'ready') return kernel;
  if (status !== 'untried') return null;
  status = 'unavailable';
  if (typeof WebAssembly !== 'object' || typeof atob !== 'function') return null;
  const bytes = decodeBase64(RANDN_WASM_BASE64);
  try {
    if (!WebAssembly.validate(bytes)) return null; // no SIMD in this engine
    kernel = instantiate(new WebAssembly.Module(bytes));
    status = 'ready';
    return kernel;
  } catch {
    status = 'pending';
    WebAssembly.compile(bytes).then(
      (module) => {
        kernel = instantiate(module);
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
 * Turns the WebAssembly path on or off (on by default; off = always the JavaScript path). For tests and
 * benchmarks that compare the two paths; both give the same bits.
 * @internal
 */
export function setRandnWasmEnabled(on: boolean): void {
  enabled = on;
}

/** A 16-float scratch block for recomputing flagged blocks. */
const redo = new Float32Array(16);

/**
 * torch's vectorised `normal_fill` for `out.length >= 16` on the kernel: the uniforms of all full blocks
 * (drawn a chunk at a time, in the same word order), their Box–Muller, then — when the count is not a
 * multiple of 16 — the remaining uniforms, 16 fresh ones, and the last 16 outputs recomputed from them.
 * Flagged blocks are recomputed with `fallback` on the same uniforms.
 */
export function fillNormalWasm(
  k: RandnWasmKernel,
  engine: Mt19937,
  out: Float32Array,
  fallback: BoxMullerBlocks,
): void {
  const { state, list, input, output, chunk } = RANDN_WASM_LAYOUT;
  const { uniform, normal } = k.exports;
  const { words, floats } = k;
  const n = out.length;
  const full = n - (n % 16);
  let index = engine.saveState(words, state / 4);
  const run = (count: number, at: number): void => {
    const flagged = normal(input, output, count / 16, list);
    out.set(floats.subarray(output / 4, output / 4 + count), at);
    for (let f = 0; f < flagged; f++) {
      const b = words[list / 4 + f]!;
      redo.set(floats.subarray(input / 4 + 16 * b, input / 4 + 16 * b + 16));
      fallback(redo, 0, 1);
      out.set(redo, at + 16 * b);
    }
  };
  for (let start = 0; start < full; start += chunk) {
    const count = Math.min(chunk, full - start);
    index = uniform(index, input, count);
    run(count, start);
  }
  if (n !== full) {
    // torch draws the remaining uniforms, then redraws 16 for the tail: the last 16 outputs.
    index = uniform(index, input, n - full);
    index = uniform(index, input, 16);
    run(16, n - 16);
  }
  engine.restoreState(words, state / 4, index);
}
