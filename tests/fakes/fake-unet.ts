import type { Denoiser, DenoiserInput } from '@latentkit/core';
import { Tensor } from '@latentkit/core';

/**
 * The fake UNet of the diffusers pipeline cases (tests/fixtures/pipeline-cases.json): a closed-form
 * function of the sample, the timestep and the mean of each row's conditioning, with torch's float32
 * rounding, so the pipeline's arithmetic can be checked against diffusers without weights.
 *
 * `out[b,c,y,x] = fl(fl(fl(fl(0.3)·s) + fl(0.1·cos(t/250 + c + 0.1y − 0.07x))) + fl(0.05·mean(ehs[b])))`
 */
export class FakeUnet implements Denoiser {
  readonly inChannels = 4;
  /** Every call's input, for tests that look at what the pipeline passed. */
  readonly calls: DenoiserInput[] = [];

  async predict(input: DenoiserInput): Promise<Tensor> {
    this.calls.push(input);
    const { sample, timestep: t } = input;
    const ehs = input.conditioning.encoderHiddenStates;
    const [n, ch, h, w] = sample.shape as [number, number, number, number];
    const rowSize = ehs.size / ehs.shape[0]!;
    const m = Array.from({ length: n }, (_, b) => {
      let s = 0;
      for (let i = b * rowSize; i < (b + 1) * rowSize; i++) s += ehs.data[i]!;
      return Math.fround(0.05 * (s / rowSize));
    });
    const k = Math.fround(0.3);
    const out = new Float32Array(sample.size);
    let i = 0;
    for (let b = 0; b < n; b++) {
      for (let c = 0; c < ch; c++) {
        for (let y = 0; y < h; y++) {
          for (let x = 0; x < w; x++, i++) {
            const wave = Math.fround(0.1 * Math.cos(t / 250 + c + 0.1 * y - 0.07 * x));
            out[i] = Math.fround(Math.fround(Math.fround(k * sample.data[i]!) + wave) + m[b]!);
          }
        }
      }
    }
    return new Tensor(out, sample.shape);
  }
}
