import { InvalidArgumentError } from '../errors.js';
import { Tensor } from '../tensor.js';

const f = Math.fround;

/** Source index and weights of one output row or column: torch's `align_corners=False` bilinear. */
interface Taps {
  i0: Int32Array;
  i1: Int32Array;
  w0: Float32Array;
  w1: Float32Array;
}

function taps(inSize: number, outSize: number): Taps {
  const i0 = new Int32Array(outSize);
  const i1 = new Int32Array(outSize);
  const w0 = new Float32Array(outSize);
  const w1 = new Float32Array(outSize);
  // torch's area_pixel_compute_scale with an output size: in / out, in float32.
  const scale = f(inSize / outSize);
  for (let o = 0; o < outSize; o++) {
    const src = Math.max(f(f(scale * f(o + 0.5)) - 0.5), 0);
    const lo = Math.min(Math.floor(src), inSize - 1);
    const lambda = f(src - lo);
    i0[o] = lo;
    i1[o] = lo < inSize - 1 ? lo + 1 : lo;
    w1[o] = lambda;
    w0[o] = f(1 - lambda);
  }
  return { i0, i1, w0, w1 };
}

/**
 * Resizes latents `[B, C, h, w]` to `[B, C, height, width]` with bilinear interpolation as
 * `torch.nn.functional.interpolate(x, size=(height, width), mode="bilinear", align_corners=False,
 * antialias=False)` computes it in float32: A1111's "Latent" hires upscaler.
 *
 * @throws InvalidArgumentError when `latents` is not 4-D or a size is not a positive integer.
 */
export function upscaleLatentsBilinear(latents: Tensor, height: number, width: number): Tensor {
  if (!(latents instanceof Tensor) || latents.shape.length !== 4) {
    throw new InvalidArgumentError({
      name: 'latents',
      value: latents instanceof Tensor ? latents.shape : latents,
      expected: 'a Tensor [B, C, h, w]',
      fix: "pass the latents of a generate() call with outputType: 'latent'",
    });
  }
  for (const [name, value] of [
    ['height', height],
    ['width', width],
  ] as const) {
    if (!Number.isInteger(value) || value < 1) {
      throw new InvalidArgumentError({ name, value, expected: 'a positive integer (latent pixels)' });
    }
  }
  const [b, c, h, w] = latents.shape as [number, number, number, number];
  const rows = taps(h, height);
  const cols = taps(w, width);
  const src = latents.data;
  const out = new Float32Array(b * c * height * width);
  let k = 0;
  for (let plane = 0; plane < b * c; plane++) {
    const base = plane * h * w;
    for (let y = 0; y < height; y++) {
      const r0 = base + rows.i0[y]! * w;
      const r1 = base + rows.i1[y]! * w;
      const h0 = rows.w0[y]!;
      const h1 = rows.w1[y]!;
      for (let x = 0; x < width; x++) {
        const c0 = cols.i0[x]!;
        const c1 = cols.i1[x]!;
        const v0 = cols.w0[x]!;
        const v1 = cols.w1[x]!;
        const top = f(f(v0 * src[r0 + c0]!) + f(v1 * src[r0 + c1]!));
        const bottom = f(f(v0 * src[r1 + c0]!) + f(v1 * src[r1 + c1]!));
        out[k++] = f(f(h0 * top) + f(h1 * bottom));
      }
    }
  }
  return new Tensor(out, [b, c, height, width]);
}
