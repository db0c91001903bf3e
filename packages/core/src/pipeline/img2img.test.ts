import { describe, expect, it } from 'vitest';
import { strengthSchedule } from './img2img.js';
import { FakeScheduler } from './test-fakes.js';

describe('strengthSchedule (diffusers get_timesteps)', () => {
  it('10 steps, strength 0.6: start at index 4, 6 steps, setBeginIndex(4)', () => {
    const s = new FakeScheduler();
    s.setTimesteps(10);
    const r = strengthSchedule(s, 10, 0.6);
    expect(r).toEqual({ timesteps: [600, 500, 400, 300, 200, 100], startIndex: 4 });
    expect(s.beginIndex).toBe(4);
  });
  it('floors the float64 product as Python int(): 0.29·100 = 28.999… → 28 steps', () => {
    const s = new FakeScheduler();
    s.setTimesteps(100);
    expect(strengthSchedule(s, 100, 0.29).timesteps).toHaveLength(28);
  });
  it('second-order schedulers start at tStart·order', () => {
    const s = new FakeScheduler();
    Object.defineProperty(s, 'order', { value: 2 });
    s.timesteps = [9, 8, 8, 7, 7, 6, 6, 5, 5];
    const r = strengthSchedule(s, 5, 0.4);
    expect(r.startIndex).toBe(6);
    expect(r.timesteps).toEqual([6, 5, 5]);
  });
  it('throws when no step is left', () => {
    const s = new FakeScheduler();
    s.setTimesteps(4);
    expect(() => strengthSchedule(s, 4, 0.2)).toThrow(/strength = 0.2/);
  });
});
