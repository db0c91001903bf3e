import { InferenceFailedError, LatentkitError, ModelInvalidError, Tensor } from '@latentkit/core';
import type { InferenceSession, Tensor as OrtTensor } from 'onnxruntime-common';
import { float16ToFloat32, float32ToFloat16 } from './float16.js';
import type { SessionFactory } from './session-factory.js';

/** The element types latentkit feeds to and reads from ONNX sessions. */
export type OrtElementType = 'float32' | 'float16' | 'int32' | 'int64';

/** A session input or output as its metadata describes it (symbolic dimensions are strings). */
export interface OrtValueInfo {
  /** The input or output name. */
  readonly name: string;
  /** The element type, e.g. `float32`, or undefined when the runtime reports no metadata. */
  readonly type: string | undefined;
  /** The shape; undefined when the runtime reports none. */
  readonly shape: ReadonlyArray<number | string> | undefined;
}

function infos(
  metadata: readonly InferenceSession.ValueMetadata[] | undefined,
  names: readonly string[],
): OrtValueInfo[] {
  if (metadata && metadata.length > 0) {
    return metadata.map((m) =>
      m.isTensor
        ? { name: m.name, type: m.type, shape: m.shape }
        : { name: m.name, type: undefined, shape: undefined },
    );
  }
  return names.map((name) => ({ name, type: undefined, shape: undefined }));
}

/** The inputs of a session, from `inputMetadata` (or just the names where a runtime has no metadata). */
export function sessionInputs(session: InferenceSession): OrtValueInfo[] {
  return infos(session.inputMetadata, session.inputNames);
}

/** The outputs of a session, from `outputMetadata` (or just the names). */
export function sessionOutputs(session: InferenceSession): OrtValueInfo[] {
  return infos(session.outputMetadata, session.outputNames);
}

/** The input named `name`, or undefined. */
export function findInput(session: InferenceSession, name: string): OrtValueInfo | undefined {
  return sessionInputs(session).find((i) => i.name === name);
}

/** The output named `name`, or undefined. */
export function findOutput(session: InferenceSession, name: string): OrtValueInfo | undefined {
  return sessionOutputs(session).find((i) => i.name === name);
}

/**
 * The input named `name`; a model without it is a {@link ModelInvalidError} that lists the inputs it has.
 */
export function requireInput(session: InferenceSession, name: string, modelPath: string): OrtValueInfo {
  const found = findInput(session, name);
  if (!found) {
    throw new ModelInvalidError(
      `${modelPath} has no input "${name}" (its inputs: ${session.inputNames.join(', ')}). Expected a diffusers/Optimum ONNX export.`,
    );
  }
  return found;
}

/** A dimension of a value's shape when it is a fixed number, else undefined (symbolic or unknown). */
export function fixedDim(info: OrtValueInfo | undefined, axis: number): number | undefined {
  const d = info?.shape?.[axis];
  return typeof d === 'number' && d > 0 ? d : undefined;
}

/** The float element type a value wants: float16 when its metadata says so, float32 otherwise. */
export function floatType(info: OrtValueInfo | undefined, what: string): 'float32' | 'float16' {
  const type = info?.type;
  if (type === undefined || type === 'float32') return 'float32';
  if (type === 'float16') return 'float16';
  throw new ModelInvalidError(`${what} has element type ${type}; expected float32 or float16.`);
}

/** A float runtime tensor from float32 values, converted to float16 bits when `type` is float16. */
export function floatFeed(
  factory: SessionFactory,
  data: Float32Array,
  dims: readonly number[],
  type: 'float32' | 'float16',
): OrtTensor {
  return type === 'float16'
    ? factory.createTensor({ type: 'float16', data: float32ToFloat16(data) }, dims)
    : factory.createTensor({ type: 'float32', data }, dims);
}

/** A float16 conversion kept for reuse: the half bits, and a copy of the float32 values they came from. */
interface Float16Conversion {
  readonly source: Float32Array;
  readonly half: Uint16Array;
}

/** float16 conversions of values fed again and again (a generation's text embeddings), by their array. */
const float16Conversions = new WeakMap<Float32Array, Float16Conversion>();

/** True when `a` and `b` hold the same bits (NaN payloads included). */
function sameBits(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  const x = new Int32Array(a.buffer, a.byteOffset, a.length);
  const y = new Int32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

/**
 * {@link floatFeed} for values fed unchanged to many calls — the text embeddings (and SDXL's pooled
 * embeddings, LCM's guidance embedding) go to every UNet call of a generation. For a float16 input the
 * conversion is made once per `Float32Array` and reused while its values stay the same: each use compares
 * the values with the copy kept beside the half bits (a pass ~40× cheaper than converting again), so data
 * changed in place is converted afresh, never fed stale. The cache is a `WeakMap`: it goes with the array.
 * The half bits are shared between calls, so the tensor is not marked transferable (a worker-thread
 * backend copies it). float32 inputs are fed as {@link floatFeed} feeds them.
 */
export function reusedFloatFeed(
  factory: SessionFactory,
  data: Float32Array,
  dims: readonly number[],
  type: 'float32' | 'float16',
): OrtTensor {
  if (type !== 'float16') return floatFeed(factory, data, dims, type);
  let conversion = float16Conversions.get(data);
  if (conversion === undefined || !sameBits(conversion.source, data)) {
    conversion = { source: data.slice(), half: float32ToFloat16(data) };
    float16Conversions.set(data, conversion);
  }
  return factory.createTensor({ type: 'float16', data: conversion.half }, dims);
}

/** An integer runtime tensor (int32 or int64). Values are truncated toward zero, as numpy's cast does. */
export function intFeed(
  factory: SessionFactory,
  values: ArrayLike<number>,
  dims: readonly number[],
  type: 'int32' | 'int64',
): OrtTensor {
  // made here for this feed alone: a worker-thread backend may move it instead of copying it
  if (type === 'int32')
    return factory.createTensor(
      { type: 'int32', data: Int32Array.from(values, Math.trunc), transferable: true },
      dims,
    );
  // a plain loop (BigInt64Array.from(Array.from(values), mapper) took about twice as long)
  const data = new BigInt64Array(values.length);
  for (let i = 0; i < data.length; i++) data[i] = BigInt(Math.trunc(values[i]!));
  return factory.createTensor({ type: 'int64', data, transferable: true }, dims);
}

/** A runtime float output (float32 or float16) as a core {@link Tensor}. */
export function toTensor(value: OrtTensor | undefined, what: string): Tensor {
  if (!value) throw new ModelInvalidError(`${what} is missing from the model's outputs.`);
  const dims = value.dims.map(Number);
  const data: unknown = value.data;
  if (value.type === 'float32' && data instanceof Float32Array) return new Tensor(data, dims);
  if (value.type === 'float16') {
    if (data instanceof Uint16Array) return new Tensor(float16ToFloat32(data), dims);
    // runtimes with Float16Array hand out float16 values directly
    return new Tensor(Float32Array.from(data as ArrayLike<number>), dims);
  }
  throw new ModelInvalidError(`${what} has element type ${value.type}; expected float32 or float16.`);
}

/**
 * Runs a session; a runtime failure becomes an {@link InferenceFailedError} naming the component and the
 * shapes of the inputs it was given.
 */
export async function runSession(
  session: InferenceSession,
  feeds: Record<string, OrtTensor>,
  component: string,
): Promise<InferenceSession.ReturnType> {
  try {
    return await session.run(feeds);
  } catch (err) {
    // a session wrapper's own typed refusal (e.g. staticShapes' ShapeMismatchError) stays as it is
    if (err instanceof LatentkitError) throw err;
    const shapes = Object.entries(feeds)
      .map(([name, t]) => `${name}: ${t.type}[${t.dims.join(', ')}]`)
      .join('; ');
    const reason = err instanceof Error ? err.message : String(err);
    throw new InferenceFailedError(
      `The ${component} model failed to run with inputs { ${shapes} }: ${reason}`,
      {
        cause: err,
      },
    );
  }
}

/** Releases a session, ignoring runtimes without `release`. */
export async function releaseSession(session: InferenceSession | undefined): Promise<void> {
  await session?.release?.();
}
