import { describe, expect, it } from 'vitest';
import {
  betaCdf,
  betaPpf,
  betaSigmas,
  exponentialSigmas,
  indexForTimestep,
  interp,
  karrasSigmas,
  logFloat32,
  sigmasFromAlphasCumprod,
  sigmaToT,
} from './sigmas.js';

describe('interp (numpy semantics)', () => {
  it('interp clamps and interpolates', () => {
    const xp = [0, 1, 2];
    const fp = [10, 20, 40];
    expect(interp(-1, xp, fp)).toBe(10);
    expect(interp(0.5, xp, fp)).toBe(15);
    expect(interp(1.25, xp, fp)).toBe(25);
    expect(interp(2, xp, fp)).toBe(40);
    expect(interp(3, xp, fp)).toBe(40);
  });
});

describe('Karras / exponential / beta sigma schedules', () => {
  it('karras: ends at σmax and σmin, middle by hand', () => {
    const s = karrasSigmas(0.1, 10, 3);
    expect(s[0]).toBeCloseTo(10, 12);
    expect(s[2]).toBeCloseTo(0.1, 12);
    // ((10^(1/7) + 0.1^(1/7)) / 2)^7, computed by hand (Python float64): 1.4507321135661928
    expect(s[1]).toBeCloseTo(1.4507321135661928, 12);
  });
  it('exponential: geometric between the ends', () => {
    const s = exponentialSigmas(0.1, 10, 5);
    for (const [i, v] of [10, Math.sqrt(10), 1, 1 / Math.sqrt(10), 0.1].entries())
      expect(s[i]).toBeCloseTo(v, 12);
  });
  it('beta: σmin + ppf(1 − ramp; 0.6, 0.6)·(σmax − σmin), as scipy', () => {
    // numpy/scipy 1.17: 0.1 + scipy.stats.beta.ppf(1 - np.linspace(0, 1, 5), 0.6, 0.6) * 9.9
    const expected = [10.0, 8.260764251338319, 5.050000000000001, 1.8392357486616804, 0.1];
    const s = betaSigmas(0.1, 10, 5);
    for (const [i, v] of expected.entries()) expect(Math.abs(s[i]! - v)).toBeLessThan(1e-12);
  });
});

describe('betaPpf (inverse regularized incomplete beta)', () => {
  it('matches closed forms: Beta(a,1) → p^(1/a), Beta(1,b) → 1 − (1−p)^(1/b)', () => {
    for (const p of [1e-9, 0.01, 0.3, 0.5, 0.77, 0.999]) {
      expect(betaPpf(p, 2.5, 1)).toBeCloseTo(p ** (1 / 2.5), 13);
      expect(betaPpf(p, 1, 3)).toBeCloseTo(1 - (1 - p) ** (1 / 3), 13);
    }
  });
  it('matches scipy.stats.beta.ppf(p, 0.6, 0.6) (scipy 1.17, boost ibeta_inv)', () => {
    const cases: [number, number][] = [
      [0.1, 0.03958440558878085],
      [0.25, 0.17568037865269498],
      [0.5, 0.5],
      [0.75, 0.824319621347305],
      [0.9, 0.9604155944112192],
      [0.99, 0.9991387611784571],
      [1e-6, 1.8558824624053043e-10],
    ];
    for (const [p, x] of cases) expect(Math.abs(betaPpf(p, 0.6, 0.6) - x) / x).toBeLessThan(1e-12);
  });
  it('inverts the CDF, and the CDF agrees with a numerical integral of the pdf', () => {
    for (const p of [0.01, 0.2, 0.4, 0.6, 0.95])
      expect(betaCdf(betaPpf(p, 0.6, 0.6), 0.6, 0.6)).toBeCloseTo(p, 14);
    // ∫0^x t^-0.4 (1−t)^-0.4 dt / B(0.6, 0.6) with t = u^(1/0.6) to remove the endpoint singularity at 0,
    // composite Simpson on 20000 panels (x = 0.3 keeps (1 − t)^-0.4 smooth).
    const B = Math.exp(2 * lgamma(0.6) - lgamma(1.2));
    const x = 0.3;
    const U = x ** 0.6;
    const g = (u: number) => (1 / 0.6) * (1 - u ** (1 / 0.6)) ** -0.4;
    const N = 20000;
    let s = g(0) + g(U);
    for (let i = 1; i < N; i++) s += (i % 2 ? 4 : 2) * g((i * U) / N);
    const integral = ((U / N) * s) / 3 / B;
    expect(betaCdf(x, 0.6, 0.6)).toBeCloseTo(integral, 10);
  });
  it('is symmetric for a = b and handles the end points', () => {
    expect(betaPpf(0.3, 0.6, 0.6) + betaPpf(0.7, 0.6, 0.6)).toBeCloseTo(1, 14);
    expect(betaPpf(0, 0.6, 0.6)).toBe(0);
    expect(betaPpf(1, 0.6, 0.6)).toBe(1);
    expect(Number.isNaN(betaPpf(1.5, 0.6, 0.6))).toBe(true);
  });
});

// Stirling-free log Γ for the test's own check (Lanczos via betaCdf's module would be circular).
function lgamma(x: number): number {
  // Γ(0.6) = 1.4891922488128171, Γ(1.2) = 0.9181687423997607 (tables)
  if (x === 0.6) return Math.log(1.4891922488128171);
  if (x === 1.2) return Math.log(0.9181687423997607);
  throw new Error('unsupported');
}

describe('sigmaToT', () => {
  const sigmas = sigmasFromAlphasCumprod(
    Float32Array.from({ length: 100 }, (_, i) => Math.exp(-0.05 * (i + 1))),
  );
  const logs = logFloat32(sigmas);
  it('maps training sigmas back to their integer timesteps', () => {
    for (const t of [0, 1, 37, 98, 99]) expect(sigmaToT(sigmas[t]!, logs)).toBeCloseTo(t, 4);
  });
  it('interpolates log-linearly between neighbours and clamps outside', () => {
    const mid = Math.sqrt(sigmas[10]! * sigmas[11]!);
    expect(sigmaToT(mid, logs)).toBeCloseTo(10.5, 4);
    expect(sigmaToT(1e-9, logs)).toBe(0);
    expect(sigmaToT(1e9, logs)).toBe(99);
  });
});

describe('indexForTimestep', () => {
  it('takes the second occurrence of a repeated timestep (diffusers rule), −1 when absent', () => {
    const ts = [999, 500, 500, 0];
    expect(indexForTimestep(ts, 999)).toBe(0);
    expect(indexForTimestep(ts, 500)).toBe(2);
    expect(indexForTimestep(ts, 1)).toBe(-1);
    expect(indexForTimestep([Math.fround(0.1)], 0.1)).toBe(0);
  });
});
