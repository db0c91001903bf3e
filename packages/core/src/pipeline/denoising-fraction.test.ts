import { describe, expect, it } from 'vitest';
import {
  denoisingStartSchedule,
  roundHalfEven,
  timestepCutoff,
  truncateAtDenoisingEnd,
} from './denoising-fraction.js';
import { FakeScheduler } from './test-fakes.js';

describe('denoising fractions (diffusers` discrete_timestep_cutoff)', () => {
  it('rounds halves to even, as Python`s round()', () => {
    expect([0.5, 1.5, 2.5, 3.5, 2.4, 2.6, 200].map(roundHalfEven)).toEqual([0, 2, 2, 4, 2, 3, 200]);
  });

  it('cutoff = round(T − f·T): 0.8 → 200, 0.2125 → 788 (787.5 rounds to even), 0.9995 → 0', () => {
    const s = new FakeScheduler();
    expect(timestepCutoff(s, 0.8)).toBe(200);
    expect(timestepCutoff(s, 0.2125)).toBe(788);
    expect(timestepCutoff(s, 0.9995)).toBe(0);
  });

  it('denoisingEnd keeps the leading timesteps ≥ the cutoff; denoisingStart runs the rest and sets the begin index', () => {
    const s = new FakeScheduler();
    s.setTimesteps(10); // 1000, 900, …, 100
    expect(truncateAtDenoisingEnd(s, s.timesteps, 0.75)).toEqual([1000, 900, 800, 700, 600, 500, 400, 300]);
    expect(denoisingStartSchedule(s, 0.75)).toEqual({ timesteps: [200, 100], startIndex: 8 });
    expect(s.beginIndex).toBe(8);
  });
});
