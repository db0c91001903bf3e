// The pipeline on the page's own thread, as in Node: docs/browser.md ("Without a worker") copies the
// code below; the browser tests run it and compare its image with the worker's (src/minimal.ts).
import { drawImage, webBackend } from '@latentkit/backend-web';
import { StableDiffusionPipeline } from '@latentkit/core';

const pipe = await StableDiffusionPipeline.fromPretrained('./models/shapes/', { backend: webBackend });
const { images } = await pipe.generate({
  prompt: 'a red circle on a blue background',
  negativePrompt: 'a green square',
  numInferenceSteps: 20,
  guidanceScale: 5,
  seed: 42,
});
drawImage(images[0]!, document.querySelector<HTMLCanvasElement>('#result')!);

document.body.dataset['state'] = 'done';
