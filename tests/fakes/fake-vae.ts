import type { Generator, LatentCodec } from '@latentkit/core';
import { Tensor } from '@latentkit/core';

const SCALING_FACTOR = Math.fround(0.18215);
const STD = Math.fround(Math.exp(-15));

/**
 * The fake VAE of the diffusers pipeline cases (tests/fixtures/pipeline-cases.json), with the scaling
 * factor 0.18215 applied inside (latentkit's codec contract):
 * - decode: `z = fl(latents / fl(0.18215))`, image = `fl(tanh(z))` of channels 0..2, nearest ×8;
 * - encode: per 8×8 block the channel means p0..p2 (float64, rounded), `p3 = fl((p0+p1+p2)/3)`; the latent is
 *   `fl(mean + fl(fl(e^−15)·randn([B,4,h,w])))`, times `fl(0.18215)`.
 */
export class FakeVae implements LatentCodec {
  readonly latentChannels = 4;
  readonly downscale = 8;
  /** Every encode call's input. */
  readonly encodeCalls: Tensor[] = [];
  /** Every decode call's input. */
  readonly decodeCalls: Tensor[] = [];

  async encode(image: Tensor, options?: { generator?: Generator }): Promise<Tensor> {
    this.encodeCalls.push(image);
    const [n, , H, W] = image.shape as [number, number, number, number];
    const h = H / 8;
    const w = W / 8;
    const mean = new Float32Array(n * 4 * h * w);
    for (let b = 0; b < n; b++) {
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          const p: number[] = [];
          for (let c = 0; c < 3; c++) {
            let s = 0;
            for (let dy = 0; dy < 8; dy++) {
              for (let dx = 0; dx < 8; dx++)
                s += image.data[((b * 3 + c) * H + y * 8 + dy) * W + x * 8 + dx]!;
            }
            p.push(Math.fround(s / 64));
          }
          p.push(Math.fround((p[0]! + p[1]! + p[2]!) / 3));
          for (let c = 0; c < 4; c++) mean[((b * 4 + c) * h + y) * w + x] = p[c]!;
        }
      }
    }
    if (!options?.generator) throw new Error('FakeVae.encode needs a generator');
    const noise = options.generator.randn([n, 4, h, w]);
    const sampled = new Tensor(mean, [n, 4, h, w]).add(noise.mul(STD));
    return sampled.mul(SCALING_FACTOR);
  }

  async decode(latents: Tensor): Promise<Tensor> {
    this.decodeCalls.push(latents);
    const [n, , h, w] = latents.shape as [number, number, number, number];
    const z = latents.div(SCALING_FACTOR);
    const H = h * 8;
    const W = w * 8;
    const out = new Float32Array(n * 3 * H * W);
    let i = 0;
    for (let b = 0; b < n; b++) {
      for (let c = 0; c < 3; c++) {
        for (let Y = 0; Y < H; Y++) {
          for (let X = 0; X < W; X++, i++) {
            out[i] = Math.tanh(z.data[((b * 4 + c) * h + (Y >> 3)) * w + (X >> 3)]!);
          }
        }
      }
    }
    return new Tensor(out, [n, 3, H, W]);
  }
}
