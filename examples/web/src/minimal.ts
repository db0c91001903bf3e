// The smallest page that generates in a Web Worker: docs/browser.md ("Your own page") copies the code
// below; the browser tests run it against the built demo (examples/web/dist) and wait for the link.
import { createGenerationWorker, drawImage, toPngBlob } from '@latentkit/backend-web';

const gen = createGenerationWorker(
  new Worker(new URL('./generation.worker.ts', import.meta.url), { type: 'module' }),
);

// A diffusers ONNX folder: a URL on your server, or a Hugging Face repository.
await gen.load('./models/shapes/', {
  onProgress: ({ totalLoaded, totalBytes }) => console.log(`${totalLoaded} / ${totalBytes} bytes`),
  onWarning: (message) => console.warn(message), // e.g. why WebGPU was not used
});

const { images, parameters } = await gen.generate({
  prompt: 'a red circle on a blue background',
  negativePrompt: 'a green square',
  numInferenceSteps: 20,
  guidanceScale: 5,
  seed: 42,
  preview: { every: 5 },
  onStep: ({ step, totalSteps, previews }) => {
    console.log(`step ${step + 1}/${totalSteps}`);
    if (previews) drawImage(previews[0]!, document.querySelector<HTMLCanvasElement>('#preview')!);
  },
});
drawImage(images[0]!, document.querySelector<HTMLCanvasElement>('#result')!);

// A PNG for a download link, with the settings written into it as A1111 parameters.
const png = await toPngBlob(images[0]!, { parameters, model: 'shapes' });
const link = document.querySelector<HTMLAnchorElement>('#download')!;
link.href = URL.createObjectURL(png);
link.download = 'latentkit.png';
link.hidden = false;
