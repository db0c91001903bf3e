import { InvalidArgumentError, StableDiffusionPipeline } from '@latentkit/core';
import { shapesModelPath } from '@latentkit/model-shapes';
import { describe, expect, it } from 'vitest';
import { nodeBackend } from './node-backend.js';

// Unknown load options were silently ignored (issue 14 §8: `{ provider: ['cpu'] }` loaded on the
// defaults). Each is refused before any file is read, with the closest known option.
describe('nodeBackend: unknown load options', () => {
  const cases: [Record<string, unknown>, string][] = [
    [{ provider: ['cpu'] }, 'did you mean providers?'],
    [{ max_prompt_chunks: 40 }, 'did you mean maxPromptChunks?'],
    [{ clip_skip: 2 }, 'did you mean clipSkip?'],
    [{ allowSymlinks: true }, 'did you mean allowSymlinksOutside?'],
    [{ numThreads: 2 }, 'did you mean intraOpNumThreads?'],
    [{ banana: 1 }, 'remove the key'],
  ];
  for (const [options, fix] of cases) {
    it(`fromPretrained(shapes, ${JSON.stringify(options)}) → InvalidArgumentError (${fix})`, async () => {
      const error = await StableDiffusionPipeline.fromPretrained(shapesModelPath, {
        backend: nodeBackend,
        ...(options as object),
      }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InvalidArgumentError);
      const key = Object.keys(options)[0]!;
      expect((error as Error).message).toContain(`nodeBackend options key ${JSON.stringify(key)}`);
      expect((error as Error).message).toContain(fix);
    });
  }

  it('every documented option is accepted (a load with limits and maxPromptChunks works)', async () => {
    const pipe = await StableDiffusionPipeline.fromPretrained(shapesModelPath, {
      backend: nodeBackend,
      providers: ['cpu'],
      maxPromptChunks: 4,
      limits: { maxImagesPerCall: 2 },
    });
    expect(pipe.limits.maxImagesPerCall).toBe(2);
    await pipe.dispose();
  });
});
