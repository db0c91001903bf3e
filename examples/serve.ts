/**
 * Serve a model over HTTP with `@latentkit/server` — the OpenAI Images API and A1111's `/sdapi/v1` API —
 * and call it with the official `openai` client, as any OpenAI-speaking app would.
 *
 *   npx tsx examples/serve.ts [OUT_DIR]
 *
 * Starts a server on a free loopback port, asks it for an image through the `openai` client, writes
 * OUT_DIR/serve.png (default examples/out/, or $LATENTKIT_EXAMPLES_OUT) and stops the server. To keep a
 * server running, use the CLI instead: `npm run serve` (docs/serving.md). Set LATENTKIT_MODEL to a
 * diffusers ONNX folder to serve another model.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { nodeBackend } from '@latentkit/backend-node';
import { StableDiffusionPipeline } from '@latentkit/core';
import { shapesModelPath } from '@latentkit/model-shapes';
import { createServer, InProcessQueue, modelDefaults } from '@latentkit/server';
import OpenAI from 'openai';

const outDir =
  process.argv[2] ?? process.env.LATENTKIT_EXAMPLES_OUT ?? fileURLToPath(new URL('./out/', import.meta.url));
const modelDir = process.env.LATENTKIT_MODEL ?? shapesModelPath;

// One process: the model is loaded once; the in-process queue runs one job at a time on it.
const pipe = await StableDiffusionPipeline.fromPretrained(modelDir, { backend: nodeBackend });
const queue = new InProcessQueue(pipe, { modelName: 'shapes', concurrency: 1 });
const server = createServer({
  queue,
  modelName: 'shapes',
  // What a request leaves out: the model's size, and the shipped model's 20 steps at guidance 5.
  defaults: modelDefaults(pipe, { steps: 20, guidanceScale: 5 }),
  apiKeys: ['sk-local-example'],
});
const url = await server.listen({ port: 0 });

try {
  // Any OpenAI client works: point its base URL at the server, pass the key.
  const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'sk-local-example' });
  const prompt = 'a red circle on a blue background';
  const response = await client.images.generate({
    prompt,
    n: 1,
    response_format: 'b64_json',
    // latentkit's extra fields ride along in the body: seed, steps, guidance_scale, negative_prompt, scheduler.
    ...{ seed: 42, scheduler: 'DPM++ 2M Karras' },
  });
  await mkdir(outDir, { recursive: true });
  const file = join(outDir, 'serve.png');
  await writeFile(file, Buffer.from(response.data![0]!.b64_json!, 'base64'));
  console.log(`serve: POST ${url}/v1/images/generations "${prompt}" → ${file}`);
} finally {
  await server.close(); // stops listening, lets the queue finish, closes it
  await pipe.dispose();
}
