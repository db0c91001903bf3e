import { describe, expect, it } from 'vitest';
import * as errors from './errors.js';
import { InvalidArgumentError, LatentkitError, UnknownSchedulerError } from './errors.js';

describe('typed errors', () => {
  it('every class has a literal name (survives minification) and a stable code', () => {
    const classes = Object.entries(errors).filter(
      ([, value]) => typeof value === 'function' && value.prototype instanceof LatentkitError,
    );
    expect(classes.length).toBe(9);
    for (const [exportName, Class] of classes) {
      const err = new (Class as new (arg: string, known?: string[]) => LatentkitError)('message', []);
      expect(err.name).toBe(exportName);
      expect(err).toBeInstanceOf(Error);
      expect(err.code).toMatch(/^[A-Z_]+$/);
    }
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
});
