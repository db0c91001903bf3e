import { WrappedSession } from '@latentkit/onnx';
import * as ort from 'onnxruntime-web';

type GpuDevice = {
  createBuffer(descriptor: { size: number; usage: number }): GpuBuffer;
  queue: { writeBuffer(buffer: GpuBuffer, offset: number, data: ArrayBufferView): void };
};
type GpuBuffer = { size: number; destroy(): void };

// GPUBufferUsage.STORAGE | COPY_SRC | COPY_DST (the constants of the WebGPU spec; not global in workers of
// every browser under that name, so spelt out).
const STORAGE_COPY = 0x0080 | 0x0004 | 0x0008;

/**
 * A WebGPU session run with WebGPU graph capture (onnxruntime-web's `enableGraphCapture`): the caller's CPU
 * feeds are written into GPU buffers made once per input (capture replays read the same buffers, so they
 * must never change) and the outputs, kept on the GPU (`preferredOutputLocation: 'gpu-buffer'`), are read
 * back into CPU tensors — so the ONNX components use it like any session. Create the session with
 * {@link GPU_IO_SESSION_OPTIONS} and fixed input shapes (`staticShapes`).
 */
export class GpuIoSession extends WrappedSession {
  readonly #device: GpuDevice;
  readonly #buffers = new Map<string, GpuBuffer>();

  /**
   * @param session - A session on the `webgpu` provider created with {@link GPU_IO_SESSION_OPTIONS}.
   * @param device - onnxruntime-web's GPU device (`ort.env.webgpu.device`, there once a WebGPU session exists).
   */
  constructor(session: ort.InferenceSession, device: unknown) {
    super(session);
    this.#device = device as GpuDevice;
  }

  async run(
    feeds: ort.InferenceSession.FeedsType,
    _fetchesOrOptions?: ort.InferenceSession.FetchesType | ort.InferenceSession.RunOptions,
    _options?: ort.InferenceSession.RunOptions,
  ): Promise<ort.InferenceSession.ReturnType> {
    const gpuFeeds: Record<string, ort.Tensor> = {};
    for (const [name, tensor] of Object.entries(feeds)) {
      const data = tensor.data as ArrayBufferView;
      const bytes = Math.ceil(data.byteLength / 16) * 16;
      let buffer = this.#buffers.get(name);
      if (buffer && buffer.size !== bytes) {
        // a new shape (refused by static shapes before it gets here); a new buffer breaks the capture
        buffer.destroy();
        buffer = undefined;
      }
      if (!buffer) {
        buffer = this.#device.createBuffer({ size: bytes, usage: STORAGE_COPY });
        this.#buffers.set(name, buffer);
      }
      this.#device.queue.writeBuffer(buffer, 0, data);
      gpuFeeds[name] = ort.Tensor.fromGpuBuffer(buffer as never, {
        dataType: tensor.type as 'float32',
        dims: tensor.dims,
      });
    }
    const results = await this.session.run(gpuFeeds);
    const out: Record<string, ort.Tensor> = {};
    for (const [name, tensor] of Object.entries(results)) {
      // read back; the buffer stays the captured graph's (not released)
      const data = await tensor.getData();
      out[name] = new ort.Tensor(tensor.type as 'float32', data as Float32Array, tensor.dims);
    }
    return out;
  }

  /** Releases the wrapped session and the input buffers. */
  override async release(): Promise<void> {
    await super.release();
    for (const buffer of this.#buffers.values()) buffer.destroy();
    this.#buffers.clear();
  }
}

/** The session options a {@link GpuIoSession} needs: capture on, outputs left on the GPU. */
export const GPU_IO_SESSION_OPTIONS = {
  enableGraphCapture: true,
  preferredOutputLocation: 'gpu-buffer',
} as const satisfies Partial<ort.InferenceSession.SessionOptions>;
