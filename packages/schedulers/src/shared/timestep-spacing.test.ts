import { describe, expect, it } from 'vitest';
import { discreteTimesteps, dpmSolverTimesteps, sigmaTimesteps } from './timestep-spacing.js';

describe('sigmaTimesteps (Euler, Heun, LMS, KDPM2)', () => {
  it('linspace, leading (with steps_offset) and trailing as diffusers', () => {
    expect(Array.from(sigmaTimesteps('linspace', 1000, 4, 0))).toEqual([999, 666, 333, 0]);
    expect(Array.from(sigmaTimesteps('leading', 1000, 10, 1))).toEqual([
      901, 801, 701, 601, 501, 401, 301, 201, 101, 1,
    ]);
    expect(Array.from(sigmaTimesteps('trailing', 1000, 10, 0))).toEqual([
      999, 899, 799, 699, 599, 499, 399, 299, 199, 99,
    ]);
    // 1000 / 3 steps: round(1000 − k·333.33…) − 1
    expect(Array.from(sigmaTimesteps('trailing', 1000, 3, 0))).toEqual([999, 666, 332]);
  });
  it("trailing rounds numpy's arange values (48 steps: 937.4999999999999 → 937, then − 1)", () => {
    // (np.round(np.arange(1000, 0, -1000/48)) - 1)[[3, 15]] = [936, 686] (numpy 2.x)
    const ts = sigmaTimesteps('trailing', 1000, 48, 0);
    expect(ts[3]).toBe(936);
    expect(ts[15]).toBe(686);
  });
});

describe('discreteTimesteps (DDIM, DDPM) and dpmSolverTimesteps (DPM-Solver, DEIS, UniPC)', () => {
  it('discrete: linspace / leading / trailing', () => {
    expect(discreteTimesteps('linspace', 1000, 4, 0)).toEqual([999, 666, 333, 0]);
    expect(discreteTimesteps('leading', 1000, 4, 1)).toEqual([751, 501, 251, 1]);
    expect(discreteTimesteps('trailing', 1000, 4, 0)).toEqual([999, 749, 499, 249]);
  });
  it('DPM family: n + 1 points, the first dropped; leading divides by n + 1', () => {
    // np.linspace(0, 999, 5).round()[::-1][:-1] = [999, 749, 500, 250] (499.5 ties to even → 500)
    expect(dpmSolverTimesteps('X', 'linspace', 4, 1000, 1000, 0)).toEqual([999, 749, 500, 250]);
    // (np.arange(0, 5) * (1000 // 5)).round()[::-1][:-1] + 1
    expect(dpmSolverTimesteps('X', 'leading', 4, 1000, 1000, 1)).toEqual([801, 601, 401, 201]);
    expect(dpmSolverTimesteps('X', 'trailing', 4, 1000, 1000, 0)).toEqual([999, 749, 499, 249]);
  });
});
