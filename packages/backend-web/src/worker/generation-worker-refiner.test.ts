/**
 * Issue 18: base + refiner in the generation worker (page and worker sides in-process, messages through
 * structuredClone; onnxruntime-web's WebAssembly build in Node) on the tiny SDXL fixtures
 * (tests/fixtures/models/sdxl-tiny + sdxl-refiner-tiny): a `generate` request with `refiner` gives the
 * pixels of core's generateWithRefiner run with the same build in this process, reports each model's steps
 * with `pass`, and keeps the refiner loaded. Bad refiner requests: generation-worker-refiner.bad-input.test.ts.
 */
import { fileURLToPath } from 'node:url';
import {
  generateWithRefiner,
  type RefinerHandOffParameters,
  StableDiffusionXLPipeline,
} from '@latentkit/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectInProcess } from '../test-support/in-process-worker.js';
import { type StaticServer, startStaticServer } from '../test-support/static-server.js';
import { webBackend } from '../web-backend.js';
import type { GenerationWorker } from './generation-worker-client.js';
import type { WorkerStepInfo } from './messages.js';

const models = fileURLToPath(new URL('../../../../tests/fixtures/models/', import.meta.url));
const TIMEOUT = 120_000;
const OPTIONS = {
  prompt: 'a photo of a cat',
  negativePrompt: 'a dog',
  numInferenceSteps: 5,
  seed: 7,
} as const;

describe('the generation worker with a refiner (in-process, onnxruntime-web wasm)', () => {
  let server: StaticServer;
  let gen: GenerationWorker;
  beforeAll(async () => {
    server = await startStaticServer({ '/models/': models });
    gen = connectInProcess();
  });
  afterAll(async () => {
    await gen.dispose();
    await server.close();
  });

  it(
    'base + refiner: the pixels of generateWithRefiner in this process, steps of both passes, the refiner kept for the next call',
    async () => {
      await gen.load(`${server.origin}/models/sdxl-tiny/`, { providers: ['wasm'] });
      const steps: WorkerStepInfo[] = [];
      const progress = new Set<string>();
      const refiner = {
        model: `${server.origin}/models/sdxl-refiner-tiny/`,
        highNoiseFrac: 0.6,
        aestheticScore: 7,
        loadOptions: { providers: ['wasm' as const] },
      };
      const result = await gen.generate({
        ...OPTIONS,
        refiner,
        preview: { every: 1 },
        onStep: (s) => steps.push(s),
        onProgress: (p) => progress.add(p.file),
      });
      expect(steps.map((s) => [s.pass, s.step, s.totalSteps, s.previews?.length ?? 0])).toEqual([
        ['base', 0, 3, 1],
        ['base', 1, 3, 1],
        ['base', 2, 3, 0],
        ['refiner', 0, 2, 1],
        ['refiner', 1, 2, 0],
      ]);
      expect(progress).toContain('unet/model.onnx');
      progress.clear();
      const parameters = result.parameters as RefinerHandOffParameters;
      expect(parameters.highNoiseFrac).toBe(0.6);
      expect(parameters.refinerPass.sdxl?.aestheticScore).toBe(7);

      // The same build in this process, loaded the same way.
      const base = await StableDiffusionXLPipeline.fromPretrained(`${server.origin}/models/sdxl-tiny/`, {
        backend: webBackend,
        providers: ['wasm'],
      });
      const second = await StableDiffusionXLPipeline.fromPretrained(refiner.model, {
        backend: webBackend,
        providers: ['wasm'],
      });
      try {
        const expected = await generateWithRefiner(base, second, {
          ...OPTIONS,
          highNoiseFrac: 0.6,
          aestheticScore: 7,
        });
        expect(result.images[0]!.data).toEqual(expected.images[0]!.data);
      } finally {
        await base.dispose();
        await second.dispose();
      }

      // A second call with the same refiner does not download it again.
      const again = await gen.generate({
        ...OPTIONS,
        seed: 8,
        refiner: { ...refiner, loadOptions: { providers: ['wasm'] } },
        onProgress: (p) => progress.add(p.file),
      });
      expect(again.images).toHaveLength(1);
      expect(progress.size).toBe(0);
    },
    TIMEOUT,
  );
});
