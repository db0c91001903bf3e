import { type Tensor, TorchGenerator } from '@latentkit/core';
import { afterEach, describe, expect, it } from 'vitest';
import { createScheduler } from '../registry.js';
import { setStepWasmEnabled, stepKernelRuns, stepWasmActive } from './step-wasm.js';

const SD15 = {
  beta_end: 0.012,
  beta_schedule: 'scaled_linear',
  beta_start: 0.00085,
  num_train_timesteps: 1000,
  set_alpha_to_one: false,
  skip_prk_steps: true,
  steps_offset: 1,
  clip_sample: false,
};

/** Every prevSample of a 12-step run (model outputs drawn from a seeded generator), kernels on or off. */
function run(
  className: string,
  config: Record<string, unknown>,
  wasm: boolean,
  options: Record<string, unknown> = {},
): Float32Array[] {
  setStepWasmEnabled(wasm);
  try {
    const g = new TorchGenerator(3);
    const shape = [1, 4, 33, 31]; // 4092 floats: not a multiple of 8 or of the kernels' chunk
    const scheduler = createScheduler(className, { ...SD15, ...config });
    scheduler.setTimesteps(12);
    let x: Tensor = g.randn(shape);
    const out: Float32Array[] = [];
    for (const [i, t] of scheduler.timesteps.entries()) {
      const model = g.randn(shape);
      x = scheduler.step(model, t, x, { ...options, generator: new TorchGenerator(i) }).prevSample;
      out.push(x.data);
    }
    return out;
  } finally {
    setStepWasmEnabled(true);
  }
}

/** Positions where two arrays differ in bits (−0 and 0 differ, NaNs compared by bits). */
function differing(a: Float32Array, b: Float32Array): number {
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  let count = 0;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) count++;
  return count;
}

describe('WebAssembly step kernels: the same bits as the JavaScript loops', () => {
  afterEach(() => setStepWasmEnabled(true));

  it('are available in Node', () => {
    expect(stepWasmActive()).toBe(true);
  });

  it.each([
    ['PNDMScheduler', {}, ['pndm4']],
    ['LMSDiscreteScheduler', {}, ['lms1', 'lms2', 'lms3', 'lms4']],
    ['LMSDiscreteScheduler', { use_karras_sigmas: true }, ['lms4']],
    ['UniPCMultistepScheduler', {}, ['vpx0', 'unipc0', 'unipc1', 'unipc1t']],
    ['UniPCMultistepScheduler', { solver_order: 1 }, ['vpx0', 'unipc0', 'unipc0t']],
    ['UniPCMultistepScheduler', { solver_order: 3 }, ['vpx0', 'unipc1t']],
    ['DPMSolverMultistepScheduler', {}, ['vpx0']],
    ['DEISMultistepScheduler', {}, ['vpx0']],
    ['DDPMScheduler', {}, ['vpx0', 'lin2', 'axpy']],
    ['LCMScheduler', {}, ['vpx0', 'lin2']],
    ['TCDScheduler', {}, ['vpx0', 'lin2']],
    ['EulerAncestralDiscreteScheduler', {}, ['eulerx0', 'axpy']],
    ['KDPM2AncestralDiscreteScheduler', {}, ['eulerx0', 'dpm2a']],
  ] as const)('%s %j: every step bit-identical, kernels %j used', (className, config, used) => {
    const before = { ...stepKernelRuns };
    const wasm = run(className, config, true);
    for (const name of used) expect(stepKernelRuns[name] ?? 0).toBeGreaterThan(before[name] ?? 0);
    const js = run(className, config, false);
    expect(wasm.length).toBeGreaterThanOrEqual(12);
    expect(wasm.length).toBe(js.length);
    for (let s = 0; s < js.length; s++) expect(differing(wasm[s]!, js[s]!)).toBe(0);
  });

  it('DDIMScheduler with eta 0.5 (noise added by the axpy kernel): every step bit-identical', () => {
    const before = stepKernelRuns.axpy ?? 0;
    const wasm = run('DDIMScheduler', {}, true, { eta: 0.5 });
    expect(stepKernelRuns.axpy ?? 0).toBeGreaterThan(before);
    const js = run('DDIMScheduler', {}, false, { eta: 0.5 });
    for (let s = 0; s < js.length; s++) expect(differing(wasm[s]!, js[s]!)).toBe(0);
  });

  it('leave v_prediction and other prediction types to the JavaScript loops (same results either way)', () => {
    for (const className of [
      'LMSDiscreteScheduler',
      'UniPCMultistepScheduler',
      'EulerAncestralDiscreteScheduler',
    ]) {
      const config = { prediction_type: 'v_prediction' };
      const wasm = run(className, config, true);
      const js = run(className, config, false);
      for (let s = 0; s < js.length; s++) expect(differing(wasm[s]!, js[s]!)).toBe(0);
    }
  });

  it('are built from tools/wasm-step/build.mjs (the generated file is up to date)', async () => {
    const { execFileSync } = await import('node:child_process');
    const { fileURLToPath } = await import('node:url');
    const tool = fileURLToPath(new URL('../../../../tools/wasm-step/build.mjs', import.meta.url));
    expect(() => execFileSync(process.execPath, [tool, '--check'], { stdio: 'pipe' })).not.toThrow();
  });
});
