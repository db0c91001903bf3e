/**
 * Custom parts: a `Denoiser` and a `LatentCodec` that call a remote inference service over HTTP, and a
 * `Denoiser` wrapper that times every call. The pipeline runs the loop, the scheduler and guidance here;
 * the UNet and the VAE decoder run behind the service.
 *
 *   npx tsx examples/custom-denoiser.ts [OUT_DIR]
 *
 * So that it runs anywhere, the "remote service" is started in this process on 127.0.0.1 and serves the
 * shipped model's ONNX UNet and VAE; point `RemoteDenoiser` / `RemoteCodec` at your own server instead.
 * Writes OUT_DIR/custom-denoiser.png (default examples/out/, or $LATENTKIT_EXAMPLES_OUT): the same image
 * examples/basic.ts makes, because the parts compute the same numbers. Guide: docs/custom-parts.md.
 */
import { mkdir } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { nodeBackend, writePng } from '@latentkit/backend-node';
import {
  type Denoiser,
  type DenoiserInput,
  InferenceFailedError,
  type LatentCodec,
  NotImplementedError,
  StableDiffusionPipeline,
  Tensor,
} from '@latentkit/core';
import { shapesModelPath } from '@latentkit/model-shapes';

/** A tensor on the wire: its shape and its float32 values as base64 (little-endian). */
interface WireTensor {
  shape: number[];
  data: string;
}

function toWire(tensor: Tensor): WireTensor {
  const bytes = Buffer.from(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength);
  return { shape: [...tensor.shape], data: bytes.toString('base64') };
}

function fromWire(wire: WireTensor): Tensor {
  const bytes = Uint8Array.from(Buffer.from(wire.data, 'base64')); // a copy, so the floats are aligned
  return new Tensor(new Float32Array(bytes.buffer), wire.shape);
}

/** POSTs JSON and returns the JSON answer; an HTTP error becomes latentkit's InferenceFailedError. */
async function postJson<T>(url: string, body: unknown): Promise<T> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (!response.ok) {
    throw new InferenceFailedError(`${url} answered HTTP ${response.status}: ${await response.text()}`);
  }
  return (await response.json()) as T;
}

/** The request body of `POST /predict`. */
interface PredictRequest {
  sample: WireTensor;
  timestep: number;
  encoderHiddenStates: WireTensor;
}

/**
 * A Denoiser whose UNet runs on a server. The pipeline calls `predict` once per step with the whole batch
 * (under classifier-free guidance: the unconditional half first, then the conditional half).
 */
export class RemoteDenoiser implements Denoiser {
  constructor(
    private readonly url: string,
    readonly inChannels = 4, // 9 for an inpainting UNet
    readonly sampleSize?: number, // latent size the model was trained at: sets the default image size
  ) {}

  async predict({ sample, timestep, conditioning }: DenoiserInput): Promise<Tensor> {
    const body: PredictRequest = {
      sample: toWire(sample),
      timestep,
      encoderHiddenStates: toWire(conditioning.encoderHiddenStates),
    };
    return fromWire(await postJson<WireTensor>(`${this.url}/predict`, body));
  }
}

/** A LatentCodec whose VAE decoder runs on a server. It only decodes, so it serves text-to-image. */
export class RemoteCodec implements LatentCodec {
  constructor(
    private readonly url: string,
    readonly latentChannels = 4,
    readonly downscale = 8, // image pixels per latent pixel: 8 for SD, 4 for the shipped model's small VAE
  ) {}

  async decode(latents: Tensor): Promise<Tensor> {
    return fromWire(await postJson<WireTensor>(`${this.url}/decode`, toWire(latents)));
  }

  async encode(): Promise<Tensor> {
    // img2img and inpainting need it; say so with latentkit's typed error rather than a bare Error.
    throw new NotImplementedError(
      'RemoteCodec only decodes: use a codec with an encoder for img2img and inpainting.',
    );
  }
}

/** Wraps any Denoiser and records how long each call takes. */
export class TimedDenoiser implements Denoiser {
  readonly callMs: number[] = [];

  constructor(private readonly inner: Denoiser) {}

  get inChannels(): number {
    return this.inner.inChannels;
  }

  get sampleSize(): number | undefined {
    return this.inner.sampleSize;
  }

  async predict(input: DenoiserInput): Promise<Tensor> {
    const started = performance.now();
    try {
      return await this.inner.predict(input);
    } finally {
      this.callMs.push(performance.now() - started);
    }
  }
}

/** The stand-in for a remote service: serves a denoiser and a codec at /predict and /decode. */
async function serve(denoiser: Denoiser, codec: LatentCodec): Promise<{ url: string; server: Server }> {
  const server = createServer(async (request, response) => {
    try {
      const chunks: Buffer[] = [];
      for await (const chunk of request) chunks.push(chunk as Buffer);
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      let result: Tensor;
      if (request.url === '/predict') {
        const { sample, timestep, encoderHiddenStates } = body as PredictRequest;
        const conditioning = { encoderHiddenStates: fromWire(encoderHiddenStates) };
        result = await denoiser.predict({ sample: fromWire(sample), timestep, conditioning });
      } else if (request.url === '/decode') {
        result = await codec.decode(fromWire(body as WireTensor));
      } else {
        response.writeHead(404).end(`no route ${request.url}`);
        return;
      }
      response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(toWire(result)));
    } catch (error) {
      response.writeHead(500).end(String(error));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, server };
}

const outDir =
  process.argv[2] ?? process.env.LATENTKIT_EXAMPLES_OUT ?? fileURLToPath(new URL('./out/', import.meta.url));
const modelDir = process.env.LATENTKIT_MODEL ?? shapesModelPath;

// The "server side": the model's ONNX UNet and VAE.
const model = await StableDiffusionPipeline.fromPretrained(modelDir, { backend: nodeBackend });
const { url, server } = await serve(model.denoiser, model.codec);
try {
  await mkdir(outDir, { recursive: true });
  // The "client side": prompt encoding, scheduler and guidance run here; the UNet and VAE over HTTP.
  const denoiser = new TimedDenoiser(
    new RemoteDenoiser(url, model.denoiser.inChannels, model.denoiser.sampleSize),
  );
  const pipe = new StableDiffusionPipeline({
    promptEncoder: model.promptEncoder!,
    denoiser,
    codec: new RemoteCodec(url, model.codec.latentChannels, model.codec.downscale),
    scheduler: model.scheduler,
  });
  const prompt = 'a red circle on a blue background';
  const { images } = await pipe.generate({ prompt, numInferenceSteps: 20, guidanceScale: 5, seed: 42 });
  const file = join(outDir, 'custom-denoiser.png');
  await writePng(file, images[0]!);
  const total = denoiser.callMs.reduce((a, b) => a + b, 0);
  console.log(
    `custom-denoiser: "${prompt}" via ${url} → ${file}; ${denoiser.callMs.length} denoiser calls, ` +
      `${(total / denoiser.callMs.length).toFixed(1)} ms each on average`,
  );
} finally {
  server.close();
  await model.dispose();
}
