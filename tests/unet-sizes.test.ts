import { fileURLToPath } from 'node:url';
import { nodeBackend } from '@latentkit/backend-node';
import { LatentkitError, StableDiffusionPipeline } from '@latentkit/core';
import { shapesModelPath } from '@latentkit/model-shapes';
import { describe, expect, it } from 'vitest';

// Issue 14 §4: sizes the UNet cannot run are rejected up front, and every size the error suggests runs
// through the real model on onnxruntime-node.

const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/models/${name}`, import.meta.url));

/** The sizes an INVALID_ARGUMENT error's fix suggests: "Fix: use 32 or 40" → [32, 40]. */
function suggestedSizes(err: unknown): number[] {
  expect(err).toBeInstanceOf(LatentkitError);
  expect((err as LatentkitError).code).toBe('INVALID_ARGUMENT');
  const match = /Fix: use (\d+)(?: or (\d+))?$/.exec((err as Error).message);
  expect(match, (err as Error).message).not.toBeNull();
  return [match![1], match![2]].filter((s) => s !== undefined).map(Number);
}

const models: [string, string, number, number[]][] = [
  // name, folder, the size multiple in pixels (VAE downscale × UNet size multiple), rejected sizes
  ['the shipped shapes model', shapesModelPath, 8, [36, 44, 4, 12]],
  ['the sd1 fixture', fixture('sd1'), 16, [72, 8, 40]],
];

describe.each(models)('%s', (_, dir, multiple, rejected) => {
  it(`rejects ${rejected.join(', ')} px and every suggested size runs`, async () => {
    const pipe = await StableDiffusionPipeline.fromPretrained(dir, {
      backend: nodeBackend,
      intraOpNumThreads: 1,
    });
    try {
      expect(pipe.denoiser.sizeMultiple! * pipe.codec.downscale).toBe(multiple);
      const run = (width: number, height: number) =>
        pipe.generate({
          prompt: 'a red circle',
          width,
          height,
          numInferenceSteps: 1,
          guidanceScale: 1,
          seed: 3,
        });
      const ran = new Set<number>();
      for (const size of rejected) {
        for (const [w, h] of [
          [size, multiple],
          [multiple, size],
        ] as const) {
          const err = await run(w, h).catch((e: unknown) => e);
          for (const s of suggestedSizes(err)) {
            expect(s % multiple).toBe(0);
            const okW = w === size ? s : w;
            const okH = h === size ? s : h;
            const { images } = await run(okW, okH);
            expect([images[0]!.width, images[0]!.height]).toEqual([okW, okH]);
            ran.add(s);
          }
        }
      }
      expect(ran.size).toBeGreaterThanOrEqual(rejected.length);
    } finally {
      await pipe.dispose();
    }
  });
});

describe('a UNet without unet/config.json (size multiple unknown)', () => {
  it('the sd1-legacy fixture at 72 px fails in its UNet with a typed INFERENCE_FAILED, not a crash', async () => {
    // Without block_out_channels the multiple is unknown (1): this shows that 72 px really does not run
    // through this architecture, which is why validation needs the UNet's factor.
    const pipe = await StableDiffusionPipeline.fromPretrained(fixture('sd1-legacy'), {
      backend: nodeBackend,
    });
    try {
      expect(pipe.denoiser.sizeMultiple).toBe(1);
      await expect(
        pipe.generate({ prompt: 'a', width: 72, height: 64, numInferenceSteps: 1, guidanceScale: 1 }),
      ).rejects.toMatchObject({ code: 'INFERENCE_FAILED' });
      const { images } = await pipe.generate({
        prompt: 'a',
        width: 80,
        height: 64,
        numInferenceSteps: 1,
        guidanceScale: 1,
      });
      expect(images[0]!.width).toBe(80);
    } finally {
      await pipe.dispose();
    }
  });
});
