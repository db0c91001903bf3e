import { describe, expect, it } from 'vitest';
import * as errors from './errors.js';
import {
  DownloadFailedError,
  InvalidArgumentError,
  LatentkitError,
  LimitExceededError,
  NonFiniteOutputError,
  UnknownSchedulerError,
} from './errors.js';

describe('typed errors', () => {
  it('every class has a literal name (survives minification) and a stable code', () => {
    const classes = Object.entries(errors).filter(
      ([, value]) => typeof value === 'function' && value.prototype instanceof LatentkitError,
    );
    expect(classes.length).toBe(12);
    const codes = new Set<string>();
    for (const [exportName, Class] of classes) {
      const err = new (Class as new (arg: string, known?: string[]) => LatentkitError)('message', []);
      expect(err.name).toBe(exportName);
      expect(err).toBeInstanceOf(Error);
      expect(err.code).toMatch(/^[A-Z_]+$/);
      codes.add(err.code);
    }
    expect(codes.size).toBe(12); // one code per class
  });

  it('formats details as "<name> = <value> is invalid: expected …. Fix: …"', () => {
    const err = new InvalidArgumentError({
      name: 'width',
      value: 500,
      expected: 'a multiple of 8',
      fix: 'use 504',
    });
    expect(err.message).toBe('width = 500 is invalid: expected a multiple of 8. Fix: use 504');
    expect(err.code).toBe('INVALID_ARGUMENT');
    expect(err.details?.value).toBe(500);
    expect(new UnknownSchedulerError('Foo', ['DDIM', 'Euler']).message).toBe(
      'Unknown scheduler "Foo". Known names: DDIM, Euler.',
    );
  });

  it('the new errors carry their step, details and URL', () => {
    const nonFinite = new NonFiniteOutputError('NaN after step 3', { step: 3 });
    expect([nonFinite.code, nonFinite.step]).toEqual(['NON_FINITE_OUTPUT', 3]);
    const limit = new LimitExceededError({
      name: 'width',
      value: 1e9,
      expected: 'at most 8192',
      fix: 'raise it',
    });
    expect(limit.message).toBe('width = 1000000000 is invalid: expected at most 8192. Fix: raise it');
    expect(limit.code).toBe('LIMIT_EXCEEDED');
    const download = new DownloadFailedError('http://127.0.0.1/x', 'ended early');
    expect([download.code, download.url, download.message]).toEqual([
      'DOWNLOAD_FAILED',
      'http://127.0.0.1/x',
      'ended early',
    ]);
  });
});
