/**
 * webBackend's staticShapes and graphCapture options: bad values are refused when the session factory is made,
 * before anything is downloaded.
 */
import { InvalidArgumentError } from '@latentkit/core';
import { describe, expect, it } from 'vitest';
import { WebSessionFactory, type WebSessionOptions } from './web-session-factory.js';

describe('webBackend staticShapes / graphCapture: bad input', () => {
  it.each([
    [
      'graphCapture without staticShapes',
      { graphCapture: true },
      /^graphCapture = true is invalid: expected staticShapes too/,
    ],
    [
      'graphCapture not a boolean',
      { graphCapture: 'yes', staticShapes: { width: 64, height: 64 } },
      /^graphCapture = "yes" is invalid: expected true or false/,
    ],
    [
      'staticShapes width not a multiple of 8',
      { staticShapes: { width: 63, height: 64 } },
      /^staticShapes\.width = 63 is invalid/,
    ],
    [
      'staticShapes unknown key',
      { staticShapes: { width: 64, height: 64, steps: 4 } },
      /^staticShapes\.steps = 4 is invalid: expected one of the keys/,
    ],
  ])('%s', (_, options, message) => {
    const make = () =>
      new WebSessionFactory({ providers: ['wasm'], ...(options as unknown as WebSessionOptions) });
    expect(make).toThrow(InvalidArgumentError);
    expect(make).toThrow(message);
  });
});
