import { type FakeValue, fakeSession } from './fake-session.js';

/** The phrase embedding width of {@link groundedUnet}'s default graph. */
export const GROUNDED_FAKE_DIM = 6;

/** A UNet graph with the four gligen inputs (shapes as given), whose output is sample · 2. */
export function groundedUnet(
  gligen: FakeValue[] = [
    ['gligen_boxes', 'float32', ['batch', 30, 4]],
    ['gligen_positive_embeddings', 'float32', ['batch', 30, GROUNDED_FAKE_DIM]],
    ['gligen_masks', 'float32', ['batch', 30]],
    ['gligen_enabled', 'float32', []],
  ],
) {
  return fakeSession(
    [
      ['sample', 'float32', ['batch', 4, 'h', 'w']],
      ['timestep', 'float32', ['batch']],
      ['encoder_hidden_states', 'float32', ['batch', 'seq', 8]],
      ...gligen,
    ],
    [['out_sample', 'float32', ['batch', 4, 'h', 'w']]],
    (feeds) => {
      const s = feeds['sample']!;
      return { out_sample: { ...s, data: (s.data as Float32Array).map((v) => v * 2) } };
    },
  );
}
