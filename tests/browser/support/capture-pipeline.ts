// Bundled by tests/browser/webgpu-graph-capture.test.ts (esbuild) into a page: latentkit's web backend and
// StableDiffusionPipeline, so the test can run a whole generation with and without graphCapture on WebGPU.
import { webBackend } from '@latentkit/backend-web';
import { StableDiffusionPipeline, type Tensor } from '@latentkit/core';

interface Run {
  data: number[];
  providers: Record<string, string>;
}

(window as unknown as { generateWith: unknown }).generateWith = async (
  modelUrl: string,
  options: Record<string, unknown>,
): Promise<Run> => {
  const parts = await webBackend.load(modelUrl, {
    wasmPaths: '/ort/',
    numThreads: 1,
    logLevel: 'error',
    ...options,
  });
  try {
    const pipe = new StableDiffusionPipeline(parts);
    const { images } = await pipe.generate({
      prompt: 'a cat',
      negativePrompt: 'a dog',
      seed: 4,
      numInferenceSteps: 3,
      width: 64,
      height: 64,
      outputType: 'tensor',
    });
    return {
      data: Array.from((images as Tensor).data),
      providers: { ...(parts as unknown as { providers: Record<string, string> }).providers },
    };
  } finally {
    await parts.dispose();
  }
};
(window as unknown as { pipelineReady: boolean }).pipelineReady = true;
