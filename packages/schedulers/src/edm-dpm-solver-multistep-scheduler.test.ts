import { InvalidArgumentError, NotImplementedError, Tensor, TorchGenerator } from '@latentkit/core';
import { describe, expect, it } from 'vitest';
import { EDMDPMSolverMultistepScheduler } from './edm-dpm-solver-multistep-scheduler.js';
import { dummySampleDeter } from './shared/diffusers-test-inputs.js';

// Karras sigmas for σ_min 0.002, σ_max 80, ρ 7 over 10 steps, computed in float64 with numpy
// ((80^(1/7) + ramp·(0.002^(1/7) − 80^(1/7)))^7, cast to float32); torch computes them in float32.
const KARRAS_10 = [
  80.0, 42.41518783569336, 21.10867691040039, 9.723201751708984, 4.0661234855651855, 1.5017420053482056,
  0.46997904777526855, 0.11663856357336044, 0.020435335114598274, 0.0020000000949949026,
];

describe('EDMDPMSolverMultistepScheduler', () => {
  it('Karras sigmas (σ_min 0.002, σ_max 80, ρ 7) and c_noise timesteps', () => {
    const s = new EDMDPMSolverMultistepScheduler();
    s.setTimesteps(10);
    for (let i = 0; i < 10; i++)
      expect(Math.abs(s.sigmas[i]! - KARRAS_10[i]!) / KARRAS_10[i]!).toBeLessThan(2e-6);
    expect(s.sigmas[10]).toBe(0);
    for (let i = 0; i < 10; i++) expect(s.timesteps[i]).toBeCloseTo(0.25 * Math.log(KARRAS_10[i]!), 5);
    expect(s.initNoiseSigma).toBeCloseTo(Math.sqrt(6401), 12);
    const m = new EDMDPMSolverMultistepScheduler({ final_sigmas_type: 'sigma_min' });
    m.setTimesteps(10);
    expect(m.sigmas[10]).toBe(Math.fround(0.002));
  });
  it('exponential schedule: log-linear from σ_max to σ_min', () => {
    const s = new EDMDPMSolverMultistepScheduler({ sigma_schedule: 'exponential' });
    s.setTimesteps(5);
    expect(s.sigmas[0]).toBeCloseTo(80, 3);
    expect(s.sigmas[4]).toBeCloseTo(0.002, 6);
    expect(s.sigmas[2]).toBeCloseTo(Math.sqrt(80 * 0.002), 4);
  });
  it('scaleModelInput divides by √(σ² + σ_data²); a perfect denoiser lands on x₀', () => {
    const s = new EDMDPMSolverMultistepScheduler();
    s.setTimesteps(10);
    const x0 = dummySampleDeter();
    const eps = dummySampleDeter(true);
    let x = s.addNoise(x0, eps, s.timesteps[0]!);
    expect(x.data[5]).toBeCloseTo(x0.data[5]! + 80 * eps.data[5]!, 4);
    const scaled = s.scaleModelInput(x, s.timesteps[0]!);
    expect(scaled.data[5]).toBeCloseTo(x.data[5]! / Math.sqrt(6400.25), 6);
    // The model output F that makes the EDM denoiser return x₀ exactly: F = (x₀ − c_skip·x)/c_out.
    for (const t of s.timesteps) {
      const i = s.timesteps.indexOf(t);
      const sig = s.sigmas[i]!;
      const cSkip = 0.25 / (sig * sig + 0.25);
      const cOut = (sig * 0.5) / Math.sqrt(sig * sig + 0.25);
      const f = new Tensor(
        x.data.map((v, j) => (x0.data[j]! - cSkip * v) / cOut),
        x.shape,
      );
      x = s.step(f, t, x).prevSample;
    }
    for (let j = 0; j < x.data.length; j += 37) expect(x.data[j]).toBeCloseTo(x0.data[j]!, 3);
  });
  it('SDE variant draws from the generator; deterministic per seed', () => {
    const run = (seed: number) => {
      const s = new EDMDPMSolverMultistepScheduler({ algorithm_type: 'sde-dpmsolver++' });
      s.setTimesteps(6);
      const g = new TorchGenerator(seed);
      let x = dummySampleDeter();
      for (const t of s.timesteps)
        x = s.step(
          x.map((v) => v * 0.1),
          t,
          x,
          { generator: g },
        ).prevSample;
      return Array.from(x.data);
    };
    expect(run(1)).toEqual(run(1));
    expect(run(2)).not.toEqual(run(1));
  });
  it('config round trip and typed errors', () => {
    const s = EDMDPMSolverMultistepScheduler.fromConfig({ sigma_max: 120, foo: 1 });
    expect(s.config.sigma_max).toBe(120);
    expect(s.config._class_name).toBe('EDMDPMSolverMultistepScheduler');
    expect(EDMDPMSolverMultistepScheduler.fromConfig(s.config).config).toEqual(s.config);
    expect(() => new EDMDPMSolverMultistepScheduler({ algorithm_type: 'dpmsolver' })).toThrow(
      /algorithm_type/,
    );
    expect(() => new EDMDPMSolverMultistepScheduler({ sigma_schedule: 'beta' })).toThrow(/sigma_schedule/);
    expect(() => new EDMDPMSolverMultistepScheduler({ sigma_min: 100 })).toThrow(InvalidArgumentError);
    expect(
      () => new EDMDPMSolverMultistepScheduler({ algorithm_type: 'sde-dpmsolver++', solver_order: 3 }),
    ).toThrow(NotImplementedError);
    const x = dummySampleDeter();
    expect(() => new EDMDPMSolverMultistepScheduler().step(x, 0, x)).toThrow(/setTimesteps/);
  });
});
