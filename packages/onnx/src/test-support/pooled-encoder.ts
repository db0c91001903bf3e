import { OnnxTextEncoder } from '../onnx-text-encoder.js';
import { type FakeTensor, fakeFactory, fakeSession, memorySource } from './fake-session.js';

/** The pooled width of {@link pooledEncoder}. */
export const POOLED_FAKE_DIM = 3;
const D = POOLED_FAKE_DIM;

/**
 * A fake CLIP text encoder with `pooler_output[b] = [sum of row b's ids, its length, b]` (distinct per
 * text), or without that output; it records its runs.
 */
export function pooledEncoder(withPooler = true) {
  const session = fakeSession(
    [['input_ids', 'int32', ['batch', 'sequence']]],
    [
      ['last_hidden_state', 'float32', ['batch', 'sequence', D]],
      ...(withPooler ? ([['pooler_output', 'float32', ['batch', D]]] as const) : []),
    ].map((v) => [...v] as [string, string, (number | string)[]]),
    (feeds) => {
      const ids = feeds['input_ids']!.data as Int32Array;
      const [b, t] = feeds['input_ids']!.dims as [number, number];
      const pooled = new Float32Array(b * D);
      for (let r = 0; r < b; r++) {
        pooled[r * D] = ids.subarray(r * t, (r + 1) * t).reduce((a, v) => a + v, 0);
        pooled[r * D + 1] = t;
        pooled[r * D + 2] = r;
      }
      return {
        last_hidden_state: {
          type: 'float32',
          data: new Float32Array(b * t * D),
          dims: [b, t, D],
        } as FakeTensor,
        ...(withPooler
          ? { pooler_output: { type: 'float32', data: pooled, dims: [b, D] } as FakeTensor }
          : {}),
      };
    },
  );
  const request = {
    component: 'text_encoder',
    modelPath: 'text_encoder/model.onnx',
    source: memorySource({}),
  };
  return { session, encoder: new OnnxTextEncoder(session, fakeFactory({}), { request }) };
}
