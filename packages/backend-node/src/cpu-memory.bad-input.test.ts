import { InvalidArgumentError, StableDiffusionPipeline } from '@latentkit/core';
import { shapesModelPath } from '@latentkit/model-shapes';
import { describe, expect, it } from 'vitest';
import { checkCpuMemoryMode } from './cpu-memory.js';
import { nodeBackend } from './node-backend.js';
import { NodeSessionFactory } from './node-session-factory.js';

// cpuMemory takes one of three names; anything else is refused before a file is read.
describe('cpuMemory: bad values', () => {
  const bad: unknown[] = ['lowest', 'LOW', '', 0, true, null, { mode: 'low' }];
  for (const value of bad) {
    it(`cpuMemory: ${JSON.stringify(value)} → InvalidArgumentError naming the value and the choices`, async () => {
      expect(() => checkCpuMemoryMode(value)).toThrow(InvalidArgumentError);
      expect(() => new NodeSessionFactory({ cpuMemory: value as 'low' })).toThrow(InvalidArgumentError);
      const error = await StableDiffusionPipeline.fromPretrained(shapesModelPath, {
        backend: nodeBackend,
        cpuMemory: value as 'low',
      }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InvalidArgumentError);
      const message = (error as Error).message;
      expect(message).toContain('cpuMemory');
      expect(message).toContain('"balanced", "low", "arena"');
    });
  }

  it('a misspelt key is refused with the right name', async () => {
    const error = await StableDiffusionPipeline.fromPretrained(shapesModelPath, {
      backend: nodeBackend,
      ...({ cpuMemmory: 'low' } as object),
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect((error as Error).message).toContain('cpuMemory');
  });
});
