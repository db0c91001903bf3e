import { LimitExceededError } from '@latentkit/core';
import { createScheduler, listSchedulerNames } from '@latentkit/schedulers';
import { describe, expect, it } from 'vitest';
import { checkCommandLineLength, MAX_COMMAND_LINE_BYTES } from './command-line-limit.js';
import { closestNames, editDistance } from './did-you-mean.js';
import { fewStepsWarning } from './step-minimums.js';

describe('editDistance / closestNames', () => {
  it('counts insertions, deletions and substitutions', () => {
    expect(editDistance('kitten', 'sitting')).toBe(3);
    expect(editDistance('', 'abc')).toBe(3);
    expect(editDistance('same', 'same')).toBe(0);
  });

  it.each([
    ['eular a', ['Euler a']],
    ['dpm++ 2m karas', ['DPM++ 2M Karras']],
    ['DDIMScheduer', ['DDIMScheduler']],
    ['unipc', ['UniPC']],
    ['karras', []],
    ['quantum-annealer-9000', []],
  ])('%s → %j', (input, expected) => {
    const names = closestNames(input, listSchedulerNames());
    if (expected.length === 0 && input === 'karras') {
      // Contained in several names: all of them are offered.
      expect(names).toContain('DPM++ 2M Karras');
      expect(names.every((n) => n.toLowerCase().includes('karras'))).toBe(true);
    } else expect(names).toEqual(expected);
  });
});

describe('checkCommandLineLength', () => {
  it('accepts a command line up to the limit and refuses one byte more, naming the longest argument', () => {
    const fill = (bytes: number) => ['node', 'x'.repeat(bytes - 5 - 1)];
    expect(() => checkCommandLineLength(fill(MAX_COMMAND_LINE_BYTES))).not.toThrow();
    expect(() => checkCommandLineLength(fill(MAX_COMMAND_LINE_BYTES + 1))).toThrow(LimitExceededError);
    expect(() => checkCommandLineLength(fill(MAX_COMMAND_LINE_BYTES + 1))).toThrow(
      /command line = 24001 is invalid: .*the longest argument has 23995 characters/,
    );
  });

  it('counts UTF-8 bytes, as the kernel does', () => {
    const arg = 'é'.repeat(12_100); // 24,200 bytes
    expect(() => checkCommandLineLength(['node', arg])).toThrow(/command line = 24206 /);
  });
});

describe('fewStepsWarning', () => {
  it("warns below the registry's minimum sensible steps only", () => {
    const lms = createScheduler('LMS');
    expect(fewStepsWarning(lms, 'LMS', 20)).toMatch(/^latentkit: warning: LMS below 50 steps .*--steps 20\)/);
    expect(fewStepsWarning(lms, 'LMS', 50)).toBeUndefined();
    expect(fewStepsWarning(createScheduler('PLMS'), 'PLMS', 49)).toMatch(/PLMS below 50 steps/);
    expect(fewStepsWarning(createScheduler('DDIM'), 'DDIM', 5)).toBeUndefined();
  });
});
