import type { InferenceSession, Tensor as OrtTensor } from 'onnxruntime-common';
import type { ModelSource } from '../model-source.js';
import type { OrtFeedData, SessionFactory, SessionRequest } from '../session-factory.js';

/** A value's metadata in tests: name, element type, shape (strings are symbolic dimensions). */
export type FakeValue = [name: string, type: string, shape: (number | string)[]];

/** A runtime tensor stand-in: what the ONNX code reads from feeds and outputs. */
export interface FakeTensor {
  type: string;
  data: Float32Array | Uint16Array | Int32Array | BigInt64Array;
  dims: readonly number[];
}

/** A fake InferenceSession whose `run` is a function of the feeds; it records every call. */
export function fakeSession(
  inputs: FakeValue[],
  outputs: FakeValue[],
  run: (feeds: Record<string, FakeTensor>) => Record<string, FakeTensor>,
): InferenceSession & { calls: Record<string, FakeTensor>[]; released: boolean } {
  const meta = (v: FakeValue) => ({ name: v[0], isTensor: true as const, type: v[1], shape: v[2] });
  const session = {
    calls: [] as Record<string, FakeTensor>[],
    released: false,
    inputNames: inputs.map((v) => v[0]),
    outputNames: outputs.map((v) => v[0]),
    inputMetadata: inputs.map(meta),
    outputMetadata: outputs.map(meta),
    async run(feeds: Record<string, FakeTensor>) {
      session.calls.push(feeds);
      return run(feeds);
    },
    async release() {
      session.released = true;
    },
  };
  return session as unknown as InferenceSession & { calls: Record<string, FakeTensor>[]; released: boolean };
}

/** A SessionFactory over fake sessions, by component name. */
export function fakeFactory(
  sessions: Record<string, InferenceSession>,
): SessionFactory & { created: string[] } {
  const created: string[] = [];
  return {
    created,
    async create(request: SessionRequest) {
      const s = sessions[request.component];
      if (!s) throw new Error(`no fake session for ${request.component}`);
      created.push(request.component);
      return s;
    },
    createTensor(feed: OrtFeedData, dims: readonly number[]) {
      return { type: feed.type, data: feed.data, dims } as unknown as OrtTensor;
    },
  };
}

/** An in-memory model folder. */
export function memorySource(
  files: Record<string, string | Uint8Array>,
  location = '/models/fake',
): ModelSource {
  const get = (path: string) => {
    const f = files[path];
    if (f === undefined) throw new Error(`missing ${path}`);
    return f;
  };
  return {
    location,
    async exists(path) {
      return path in files;
    },
    async readText(path) {
      const f = get(path);
      return typeof f === 'string' ? f : new TextDecoder().decode(f);
    },
    async readBytes(path) {
      const f = get(path);
      return typeof f === 'string' ? new TextEncoder().encode(f) : f;
    },
  };
}
