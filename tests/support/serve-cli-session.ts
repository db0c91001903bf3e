// What the serve CLI tests share: `latentkit serve` child processes (killed after the file's tests), the
// shipped model in-process for the reference images, and small HTTP helpers.
import { nodeBackend } from '@latentkit/backend-node';
import { StableDiffusionPipeline } from '@latentkit/core';
import { shapesModelPath } from '@latentkit/model-shapes';
import { afterAll, beforeAll, expect } from 'vitest';
import { ServeProcess } from './serve-process.js';
import { decodeBase64Png, maxPixelDiff } from './shapes-server.js';

/** The steps the tests ask for. */
export const STEPS = 20;
/** The shipped model's guidance scale (the server's default for it). */
export const GUIDANCE = 5;

/** Registers the file's beforeAll/afterAll and returns the helpers. */
export function useServeCli() {
  const started: ServeProcess[] = [];
  let pipe: StableDiffusionPipeline;

  beforeAll(async () => {
    pipe = await StableDiffusionPipeline.fromPretrained(shapesModelPath, { backend: nodeBackend });
  }, 60_000);
  afterAll(async () => {
    await Promise.all(started.map((p) => p.stop('SIGKILL')));
    await pipe?.dispose();
  }, 60_000);

  return {
    /** The in-process pipeline of the shipped model. */
    pipe: () => pipe,
    /** Starts `latentkit …args` and kills it after the file's tests. */
    async start(args: string[]): Promise<ServeProcess> {
      const p = await ServeProcess.start(args);
      started.push(p);
      return p;
    },
    /** POST /v1/images/generations. */
    async generate(url: string, body: Record<string, unknown>) {
      const res = await fetch(`${url}/v1/images/generations`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ response_format: 'b64_json', ...body }),
      });
      return { status: res.status, body: (await res.json()) as { data?: { b64_json: string }[] } };
    },
    /** Expects `b64` to equal the library's image for the prompt and seed (max |diff| 0). */
    async expectLibraryImage(b64: string, prompt: string, seed: number, steps = STEPS): Promise<void> {
      const { images } = await pipe.generate({
        prompt,
        seed,
        numInferenceSteps: steps,
        guidanceScale: GUIDANCE,
      });
      expect(maxPixelDiff(decodeBase64Png(b64), images[0]!)).toBe(0);
    },
  };
}
