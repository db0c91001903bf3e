import { describe, expect, it } from 'vitest';
import { arange, linspace, roundHalfEven } from './numpy.js';

describe('linspace / arange / round (numpy semantics)', () => {
  it('linspace ends exactly at stop', () => {
    expect(Array.from(linspace(0, 1, 5))).toEqual([0, 0.25, 0.5, 0.75, 1]);
    expect(linspace(0, 1099, 10)[9]).toBe(1099);
    expect(Array.from(linspace(3, 7, 1))).toEqual([3]);
  });
  it('linspace without the end point (np.linspace(0, 25, 4, endpoint=False))', () => {
    expect(Array.from(linspace(0, 25, 4, false))).toEqual([0, 6.25, 12.5, 18.75]);
  });
  it('arange with a float step', () => {
    expect(Array.from(arange(1000, 0, -1000 / 3))).toHaveLength(3);
    expect(arange(1000, 0, -250)[3]).toBe(250);
  });
  it("arange fills start + i·((start + step) − start), as numpy's fill does", () => {
    // numpy 2.x: np.arange(1000, 0, -1000/48)[3] = 937.4999999999999 and [15] = 687.4999999999994;
    // np.arange(1000, 0, -1000/96)[18] = 812.5000000000007 (start + i·step would give 937.5, 687.5, 812.5).
    expect(arange(1000, 0, -1000 / 48)[3]).toBe(937.4999999999999);
    expect(arange(1000, 0, -1000 / 48)[15]).toBe(687.4999999999994);
    expect(arange(1000, 0, -1000 / 96)[18]).toBe(812.5000000000007);
  });
  it('roundHalfEven rounds like numpy', () => {
    expect([0.5, 1.5, 2.5, -0.5, 2.4, 2.6, -1.5, -2.5].map(roundHalfEven)).toEqual([
      0, 2, 2, -0, 2, 3, -2, -2,
    ]);
  });
});
