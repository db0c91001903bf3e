import { Tensor } from '@latentkit/core';
import { describe, expect, it } from 'vitest';
import { EDMEulerScheduler } from './edm-euler-scheduler.js';
import { dummySampleDeter } from './shared/diffusers-test-inputs.js';

// Expected values derived from diffusers' EDMEulerScheduler formulas (numpy float64, cast to float32):
// ramp = linspace(0, 1, 4); σ = (80^(1/7) + ramp·(0.002^(1/7) − 80^(1/7)))^7; t = 0.25·log σ.
const KARRAS_4 = [80.0, 9.723201751708984, 0.46997904777526855, 0.0020000000949949026];
const KARRAS_4_T = [1.0955066680908203, 0.56862872838974, -0.18876679241657257, -1.553652048110962];

describe('EDMEulerScheduler', () => {
  it('karras sigmas and c_noise timesteps for 4 steps', () => {
    const s = EDMEulerScheduler.fromConfig({});
    s.setTimesteps(4);
    for (const [i, v] of KARRAS_4.entries()) expect(s.sigmas[i]).toBeCloseTo(v, 5);
    for (const [i, v] of KARRAS_4_T.entries()) expect(s.timesteps[i]).toBeCloseTo(v, 6);
    expect(s.sigmas[4]).toBe(0);
    expect(s.initNoiseSigma).toBeCloseTo(Math.sqrt(80 * 80 + 1), 12);
  });
  it('exponential schedule runs from σ_max to σ_min; final_sigmas_type sigma_min repeats σ_min', () => {
    const s = EDMEulerScheduler.fromConfig({ sigma_schedule: 'exponential', final_sigmas_type: 'sigma_min' });
    s.setTimesteps(4);
    expect(s.sigmas[0]).toBeCloseTo(80, 3);
    expect(s.sigmas[1]).toBeCloseTo(2.339214324951172, 4);
    expect(s.sigmas[3]).toBeCloseTo(0.002, 7);
    expect(s.sigmas[4]).toBe(s.sigmas[3]);
  });
  it('preconditions as EDM: c_in scaling and one Euler step by hand', () => {
    const s = EDMEulerScheduler.fromConfig({});
    s.setTimesteps(4);
    const x = new Tensor(Float32Array.of(1, -2), [2]);
    const t = s.timesteps[0]!;
    const scaled = s.scaleModelInput(x, t);
    expect(scaled.data[0]).toBeCloseTo(1 / Math.sqrt(80 * 80 + 0.25), 7);
    const eps = new Tensor(Float32Array.of(0.5, 0.5), [2]);
    const out = s.step(eps, t, x);
    // c_skip = 0.25/(σ²+0.25), c_out = 0.5σ/√(σ²+0.25); x0 = c_skip·x + c_out·ε; x' = x + (x − x0)/σ·(σ1 − σ)
    const sig = 80;
    const cSkip = 0.25 / (sig * sig + 0.25);
    const cOut = (sig * 0.5) / Math.sqrt(sig * sig + 0.25);
    const x0 = cSkip * 1 + cOut * 0.5;
    expect(out.predOriginalSample!.data[0]).toBeCloseTo(x0, 4);
    expect(out.prevSample.data[0]).toBeCloseTo(1 + ((1 - x0) / sig) * (KARRAS_4[1]! - sig), 4);
  });
  it('custom "sigmas" are a ramp mapped through the schedule (diffusers semantics); validation', () => {
    const s = EDMEulerScheduler.fromConfig({});
    s.setTimesteps(0, { sigmas: [0, 1 / 3, 2 / 3, 1] });
    for (const [i, v] of KARRAS_4.entries()) expect(s.sigmas[i]).toBeCloseTo(v, 5);
    expect(() => EDMEulerScheduler.fromConfig({ sigma_schedule: 'linear' })).toThrow(/sigma_schedule/);
    const x = dummySampleDeter();
    expect(() => EDMEulerScheduler.fromConfig({}).step(x, 1, x)).toThrow(/setTimesteps/);
    expect(EDMEulerScheduler.fromConfig(s.config).config).toEqual(s.config);
  });
});
