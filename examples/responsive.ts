/**
 * A generation that leaves the event loop free: the sessions run in a worker thread
 * (`sessionThread: 'worker'`), so a timer keeps ticking while the UNet runs, and an AbortSignal stops the
 * generation at the next step.
 *
 *   npx tsx examples/responsive.ts [OUT_DIR]
 *
 * Writes OUT_DIR/responsive.png (default examples/out/, or $LATENTKIT_EXAMPLES_OUT) and prints how often a
 * 10 ms timer ran during the generation. Set LATENTKIT_MODEL to a diffusers ONNX folder to run it on
 * another model.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { nodeBackend, writePng } from '@latentkit/backend-node';
import { StableDiffusionPipeline } from '@latentkit/core';
import { shapesModelPath } from '@latentkit/model-shapes';

const outDir =
  process.argv[2] ?? process.env.LATENTKIT_EXAMPLES_OUT ?? fileURLToPath(new URL('./out/', import.meta.url));
const modelDir = process.env.LATENTKIT_MODEL ?? shapesModelPath;

// Every session of this model runs in one worker thread; the event loop stays free.
const pipe = await StableDiffusionPipeline.fromPretrained(modelDir, {
  backend: nodeBackend,
  sessionThread: 'worker',
});

try {
  await mkdir(outDir, { recursive: true });
  const prompt = 'a red circle on a blue background';

  // A timer stands for everything else a server does (I/O, other requests): it runs between and during
  // the UNet calls, because they run in the worker thread.
  let ticks = 0;
  const timer = setInterval(() => ticks++, 10);
  const { images, parameters } = await pipe.generate({
    prompt,
    numInferenceSteps: 20,
    guidanceScale: 5,
    seed: 42,
    width: 128, // 4× the model's size per side: each UNet call takes long enough to see the timer run
    height: 128,
  });
  clearInterval(timer);
  const file = join(outDir, 'responsive.png');
  await writePng(file, images[0]!, { parameters, model: 'shapes' });
  console.log(`responsive: "${prompt}" → ${file}; the 10 ms timer ran ${ticks} times during the generation`);

  // Cancellation: abort after the second step; generate() rejects with the signal's reason once the UNet
  // call in flight returns, before the next step starts.
  const controller = new AbortController();
  let steps = 0;
  try {
    await pipe.generate({
      prompt,
      numInferenceSteps: 20,
      seed: 42,
      signal: controller.signal,
      onStep: ({ step }) => {
        steps = step + 1;
        if (step === 1) controller.abort(new Error('cancelled by the user'));
      },
    });
  } catch (error) {
    console.log(`responsive: cancelled after ${steps} of 20 steps (${(error as Error).message})`);
  }
} finally {
  await pipe.dispose(); // releases the sessions and ends the worker thread
}
