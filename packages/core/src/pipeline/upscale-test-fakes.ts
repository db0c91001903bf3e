/**
 * Small deterministic parts for the x4 upscaler's unit tests (not exported from the package), beside
 * test-fakes.ts: a decode-only ×4 codec and the parts of an upscaler pipeline.
 */
import type { LatentCodec } from '../interfaces/latent-codec.js';
import { Tensor } from '../tensor.js';
import {
  StableDiffusionUpscalePipeline,
  type UpscalePipelineConfig,
} from './stable-diffusion-upscale-pipeline.js';
import { FakeDenoiser, FakePromptEncoder, FakeScheduler } from './test-fakes.js';

/** A decode-only codec with downscale 4: decode = `tanh` of channels 0..2, nearest ×4. Records its inputs. */
export class FakeX4Codec implements LatentCodec {
  readonly latentChannels = 4;
  readonly downscale = 4;
  readonly decodeCalls: Tensor[] = [];

  async decode(latents: Tensor): Promise<Tensor> {
    this.decodeCalls.push(latents);
    const [n, , h, w] = latents.shape as [number, number, number, number];
    const out = new Float32Array(n * 3 * h * 4 * w * 4);
    let i = 0;
    for (let b = 0; b < n; b++)
      for (let c = 0; c < 3; c++)
        for (let Y = 0; Y < h * 4; Y++)
          for (let X = 0; X < w * 4; X++)
            out[i++] = Math.tanh(latents.data[((b * 4 + c) * h + (Y >> 2)) * w + (X >> 2)]!);
    return new Tensor(out, [n, 3, h * 4, w * 4]);
  }
}

/** An upscaler pipeline of fakes: a 7-channel FakeDenoiser, FakeX4Codec, FakeSchedulers, FakePromptEncoder. */
export function fakeUpscaler(
  config?: UpscalePipelineConfig,
  options: { stochastic?: boolean; sizeMultiple?: number } = {},
) {
  const denoiser = Object.assign(new FakeDenoiser({ inChannels: 7 }), {
    sizeMultiple: options.sizeMultiple ?? 1,
  });
  const codec = new FakeX4Codec();
  const scheduler = new FakeScheduler(options.stochastic ?? false);
  const lowResScheduler = new FakeScheduler();
  const promptEncoder = new FakePromptEncoder();
  const pipe = new StableDiffusionUpscalePipeline(
    { denoiser, codec, scheduler, lowResScheduler, promptEncoder },
    config,
  );
  return { pipe, denoiser, codec, scheduler, lowResScheduler, promptEncoder };
}
