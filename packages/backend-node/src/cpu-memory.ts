import { InvalidArgumentError } from '@latentkit/core';
import { WrappedSession } from '@latentkit/onnx';
import type { InferenceSession, Tensor as OrtTensor } from 'onnxruntime-common';
import { Tensor } from 'onnxruntime-node';

/**
 * How the sessions on onnxruntime's CPU provider use memory (docs/performance.md, "Memory"); the other
 * providers are not affected.
 *
 * - `'balanced'`: no CPU memory arena. Each `session.run` returns its activations when it ends,
 *   so they do not pile up: the UNet's first call and its memory-pattern block, and the VAE decoder's
 *   full-resolution maps on top of the UNet's.
 * - `'low'`: `'balanced'`, and the UNet runs one batch row at a time (under classifier-free guidance the
 *   negative and the positive row: two calls of batch 1 instead of one of batch 2), which halves its
 *   activations (the attention scores over 4096 positions at 512²); the outputs are the same bit for bit.
 * - `'arena'` (default): onnxruntime's own defaults. Each session keeps a memory arena that grows to its
 *   peak and never shrinks: the most memory, but no first-call cost and no large maps and unmaps per call
 *   (measured faster, and fewer event-loop stalls with `sessionThread: 'worker'`).
 */
export type CpuMemoryMode = 'balanced' | 'low' | 'arena';

/** The values {@link CpuMemoryMode} takes. */
export const CPU_MEMORY_MODES: readonly CpuMemoryMode[] = ['balanced', 'low', 'arena'];

/** The {@link CpuMemoryMode} used when none is given. */
export const DEFAULT_CPU_MEMORY: CpuMemoryMode = 'arena';

/** Components whose sessions run one batch row at a time in `'low'` mode. */
const ROW_BY_ROW_COMPONENTS: readonly string[] = ['unet'];

/** Throws an {@link InvalidArgumentError} unless `value` is absent or a {@link CpuMemoryMode}. */
export function checkCpuMemoryMode(value: unknown): void {
  if (value !== undefined && !CPU_MEMORY_MODES.includes(value as CpuMemoryMode)) {
    throw new InvalidArgumentError({
      name: 'cpuMemory',
      value,
      expected: `one of ${CPU_MEMORY_MODES.map((m) => JSON.stringify(m)).join(', ')}`,
      fix: 'leave it out for onnxruntime\'s defaults ("arena"), use "balanced" or "low" for a smaller peak',
    });
  }
}

/**
 * The session options a {@link CpuMemoryMode} sets for a session on `provider`: on `'cpu'`, no memory
 * arena unless the mode is `'arena'`; nothing on other providers. The caller's `sessionOptions` are
 * merged after these, so an explicit `enableCpuMemArena` wins.
 */
export function cpuMemorySessionOptions(
  mode: CpuMemoryMode | undefined,
  provider: string,
): Pick<InferenceSession.SessionOptions, 'enableCpuMemArena'> {
  if (provider !== 'cpu' || (mode ?? DEFAULT_CPU_MEMORY) === 'arena') return {};
  return { enableCpuMemArena: false };
}

/**
 * Whether sessions are created one after the other under `mode` (all but `'arena'`). onnxruntime-node
 * creates each session on its own thread; created at once, their transient load buffers (the parsed
 * protobuf, initializers before the graph optimiser's rewrites) land in different malloc arenas and
 * are kept there after they are freed: ~0.6 GB more resident memory for an SD 1.5 folder.
 */
export function createsOneAtATime(mode: CpuMemoryMode | undefined): boolean {
  return (mode ?? DEFAULT_CPU_MEMORY) !== 'arena';
}

/** Runs the tasks given to it one after the other, in the order given (a failed task does not stop the next). */
export class SerialQueue {
  #tail: Promise<unknown> = Promise.resolve();

  /** Runs `task` once every task given before it has settled. */
  run<T>(task: () => Promise<T>): Promise<T> {
    const result = this.#tail.then(task, task);
    this.#tail = result.catch(() => undefined);
    return result;
  }
}

/** Whether a component's session on `provider` runs one batch row at a time under `mode`. */
export function runsRowByRow(mode: CpuMemoryMode | undefined, component: string, provider: string): boolean {
  return mode === 'low' && provider === 'cpu' && ROW_BY_ROW_COMPONENTS.includes(component);
}

type Data = OrtTensor['data'] & { slice(begin: number, end: number): Data; length: number };

function row(tensor: OrtTensor, index: number): OrtTensor {
  const rowLength = tensor.dims.slice(1).reduce((a, b) => a * b, 1);
  const data = (tensor.data as Data).slice(index * rowLength, (index + 1) * rowLength);
  return new Tensor(tensor.type as 'float32', data as Float32Array, [1, ...tensor.dims.slice(1)]);
}

function concatRows(parts: readonly OrtTensor[]): OrtTensor {
  const first = parts[0]!;
  const length = parts.reduce((n, p) => n + (p.data as Data).length, 0);
  const Ctor = (first.data as unknown as { constructor: new (n: number) => Data }).constructor;
  const data = new Ctor(length) as Data & { set(a: ArrayLike<unknown>, offset: number): void };
  let offset = 0;
  for (const p of parts) {
    data.set(p.data as unknown as ArrayLike<unknown>, offset);
    offset += (p.data as Data).length;
  }
  const rows = parts.reduce((n, p) => n + (p.dims[0] ?? 1), 0);
  return new Tensor(first.type as 'float32', data as unknown as Float32Array, [rows, ...first.dims.slice(1)]);
}

/**
 * An onnxruntime session that runs a batch one row at a time (cpuMemory `'low'`): every feed whose first
 * dimension is the batch of `sample` is cut into rows, the session runs once per row, and the outputs are
 * joined again along the first dimension. onnxruntime's CPU kernels compute each row of a batch on its
 * own, so the outputs are the same bit for bit as one batched call; the peak of the activations is that
 * of batch 1. A graph whose `sample` batch is fixed (static shapes), a batch of 1, and preallocated
 * outputs go to the session unchanged.
 */
export class RowByRowSession extends WrappedSession {
  // The batch to split, or undefined when the call goes through unchanged.
  #batch(feeds: InferenceSession.FeedsType): number | undefined {
    const sample = (feeds as Record<string, OrtTensor | undefined>)['sample'];
    const batch = sample?.dims[0];
    if (batch === undefined || batch <= 1) return undefined;
    const meta = this.inputMetadata?.find((m) => m.name === 'sample');
    const fixed = meta && 'shape' in meta ? meta.shape[0] : undefined;
    return typeof fixed === 'number' ? undefined : batch;
  }

  /** Runs the session once per batch row; see `InferenceSession.run`. */
  run(
    feeds: InferenceSession.FeedsType,
    options?: InferenceSession.RunOptions,
  ): Promise<InferenceSession.ReturnType>;
  run(
    feeds: InferenceSession.FeedsType,
    fetches: InferenceSession.FetchesType,
    options?: InferenceSession.RunOptions,
  ): Promise<InferenceSession.ReturnType>;
  async run(
    feeds: InferenceSession.FeedsType,
    fetchesOrOptions?: InferenceSession.FetchesType | InferenceSession.RunOptions,
    options?: InferenceSession.RunOptions,
  ): Promise<InferenceSession.ReturnType> {
    const batch = this.#batch(feeds);
    // with fetches (output names or preallocated outputs), or nothing to split: one call, as asked
    if (batch === undefined || options !== undefined || Array.isArray(fetchesOrOptions)) {
      return this.forwardRun(feeds, fetchesOrOptions, options);
    }
    const runOptions = fetchesOrOptions as InferenceSession.RunOptions | undefined;
    const outputs: Record<string, OrtTensor>[] = [];
    for (let i = 0; i < batch; i++) {
      const rowFeeds: Record<string, OrtTensor> = {};
      for (const [name, tensor] of Object.entries(feeds as Record<string, OrtTensor>)) {
        rowFeeds[name] = tensor.dims[0] === batch ? row(tensor, i) : tensor;
      }
      outputs.push(
        (await (runOptions === undefined
          ? this.session.run(rowFeeds)
          : this.session.run(rowFeeds, runOptions))) as Record<string, OrtTensor>,
      );
    }
    const result: Record<string, OrtTensor> = {};
    for (const name of Object.keys(outputs[0]!)) result[name] = concatRows(outputs.map((o) => o[name]!));
    return result as InferenceSession.ReturnType;
  }
}
