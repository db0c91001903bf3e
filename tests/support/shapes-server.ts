// An in-process @latentkit/server over the shipped shapes model, on a free loopback port, for the
// server tests: the real pipeline, the real InProcessQueue, real HTTP.
import { decodePng, nodeBackend } from '@latentkit/backend-node';
import { type RgbaImage, StableDiffusionPipeline } from '@latentkit/core';
import { shapesModelPath } from '@latentkit/model-shapes';
import {
  createServer,
  InProcessQueue,
  type InProcessQueueOptions,
  type LatentkitServer,
  modelDefaults,
  type ServerOptions,
} from '@latentkit/server';

/** The defaults the tests' server uses: the shipped model's guidance 5, 20 steps (fast). */
export const TEST_DEFAULTS = { steps: 20, guidanceScale: 5 } as const;

/** A running test server and the pipeline behind it (also used for the library's reference images). */
export interface ShapesServer {
  url: string;
  server: LatentkitServer;
  queue: InProcessQueue;
  pipe: StableDiffusionPipeline;
  close(): Promise<void>;
}

/** Loads the shipped model and serves it on 127.0.0.1 (port 0). */
export async function startShapesServer(
  options: Partial<Omit<ServerOptions, 'queue' | 'modelName' | 'defaults'>> & {
    queue?: Partial<InProcessQueueOptions>;
  } = {},
): Promise<ShapesServer> {
  const pipe = await StableDiffusionPipeline.fromPretrained(shapesModelPath, { backend: nodeBackend });
  const { queue: queueOptions, ...serverOptions } = options;
  const queue = new InProcessQueue(pipe, { modelName: 'shapes', ...queueOptions });
  const server = createServer({
    ...serverOptions,
    queue,
    modelName: 'shapes',
    defaults: modelDefaults(pipe, TEST_DEFAULTS),
  });
  const url = await server.listen({ port: 0 });
  return {
    url,
    server,
    queue,
    pipe,
    async close() {
      await server.close();
      await pipe.dispose();
    },
  };
}

/** A base64 PNG (as both APIs return images) decoded to RGBA. */
export function decodeBase64Png(b64: string): RgbaImage {
  return decodePng(Buffer.from(b64, 'base64'));
}

/** The largest per-byte difference of two RGBA images of the same size (Infinity when sizes differ). */
export function maxPixelDiff(a: RgbaImage, b: RgbaImage): number {
  if (a.width !== b.width || a.height !== b.height) return Number.POSITIVE_INFINITY;
  let d = 0;
  for (let i = 0; i < a.data.length; i++) d = Math.max(d, Math.abs(a.data[i]! - b.data[i]!));
  return d;
}
