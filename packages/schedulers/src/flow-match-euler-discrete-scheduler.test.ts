import { Tensor, TorchGenerator } from '@latentkit/core';
import { describe, expect, it } from 'vitest';
import { FlowMatchEulerDiscreteScheduler } from './flow-match-euler-discrete-scheduler.js';
import { dummyNoiseDeter, dummySampleDeter } from './shared/diffusers-test-inputs.js';

// Derived by hand from diffusers' formulas (numpy): __init__ σ = shift·s/(1 + (shift−1)s) over s = t/1000,
// σ_min = shifted(0.001) = 0.002994012…; set_timesteps(4): linspace(1000·σ_max, 1000·σ_min, 4)/1000,
// shifted again, float32; timesteps = σ·1000.
const SHIFT3_SIGMAS = [1.0, 0.857692301273346, 0.602150559425354, 0.008928571827709675];
const SHIFT3_TIMESTEPS = [1000.0, 857.6923217773438, 602.1505737304688, 8.928571701049805];
// use_dynamic_shifting, mu = 1, exponential: e^μ / (e^μ + (1/σ − 1)) on the unshifted linspace.
const DYN_MU1 = [1.0, 0.8448343873023987, 0.5768489837646484, 0.002713619265705347];

describe('FlowMatchEulerDiscreteScheduler', () => {
  it('shift 3.0, 4 steps: sigmas and timesteps as diffusers', () => {
    const s = FlowMatchEulerDiscreteScheduler.fromConfig({ shift: 3.0 });
    s.setTimesteps(4);
    for (const [i, v] of SHIFT3_SIGMAS.entries()) expect(s.sigmas[i]).toBeCloseTo(v, 6);
    for (const [i, v] of SHIFT3_TIMESTEPS.entries()) expect(s.timesteps[i]).toBeCloseTo(v, 3);
    expect(s.sigmas[4]).toBe(0);
    expect(s.initNoiseSigma).toBe(1);
  });
  it('dynamic shifting needs mu and applies the exponential time shift', () => {
    const s = FlowMatchEulerDiscreteScheduler.fromConfig({ use_dynamic_shifting: true });
    expect(() => s.setTimesteps(4)).toThrow(/mu/);
    s.setTimesteps(4, { mu: 1.0 });
    for (const [i, v] of DYN_MU1.entries()) expect(s.sigmas[i]).toBeCloseTo(v, 6);
  });
  it('shift_terminal stretches the last sigma to the terminal value; invert_sigmas flips', () => {
    const s = FlowMatchEulerDiscreteScheduler.fromConfig({ shift: 3.0, shift_terminal: 0.1 });
    s.setTimesteps(4);
    expect(s.sigmas[3]).toBeCloseTo(0.1, 6);
    const inv = FlowMatchEulerDiscreteScheduler.fromConfig({ invert_sigmas: true });
    inv.setTimesteps(4);
    expect(inv.sigmas[4]).toBe(1);
    expect(inv.sigmas[0]).toBeCloseTo(0, 6);
  });
  it('custom sigmas; step is x + (σ_next − σ)·v; addNoise is the flow forward process', () => {
    const s = FlowMatchEulerDiscreteScheduler.fromConfig({});
    s.setTimesteps(0, { sigmas: [1, 0.5] });
    expect(s.timesteps).toEqual([1000, 500]);
    const x = new Tensor(Float32Array.of(1, 2), [2]);
    const v = new Tensor(Float32Array.of(4, -4), [2]);
    const out = s.step(v, 1000, x).prevSample;
    expect(Array.from(out.data)).toEqual([-1, 4]);
    const noisy = s.addNoise(dummySampleDeter(), dummyNoiseDeter(), 500);
    const a = dummySampleDeter().data[5]!;
    const n = dummyNoiseDeter().data[5]!;
    expect(noisy.data[5]).toBeCloseTo(0.5 * n + 0.5 * a, 6);
  });
  it('stochastic sampling draws from the generator deterministically', () => {
    const go = () => {
      const s = FlowMatchEulerDiscreteScheduler.fromConfig({ stochastic_sampling: true });
      s.setTimesteps(3);
      const x = dummySampleDeter();
      return s.step(x, s.timesteps[0]!, x, { generator: new TorchGenerator(1) }).prevSample;
    };
    expect(Array.from(go().data)).toEqual(Array.from(go().data));
  });
  it('config round trip and validation', () => {
    const s = FlowMatchEulerDiscreteScheduler.fromConfig({ shift: 3.0, foo: 'bar' });
    expect(FlowMatchEulerDiscreteScheduler.fromConfig(s.config).config).toEqual(s.config);
    expect(() => FlowMatchEulerDiscreteScheduler.fromConfig({ time_shift_type: 'log' })).toThrow(
      /time_shift_type/,
    );
    expect(() =>
      FlowMatchEulerDiscreteScheduler.fromConfig({ use_karras_sigmas: true, use_exponential_sigmas: true }),
    ).toThrow(/at most one/);
  });
});
