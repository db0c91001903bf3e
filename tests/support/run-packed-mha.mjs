// Child process of tests/onnx-fused-fixtures.test.ts: runs one tests/fixtures/mha-forms graph once on
// onnxruntime-node's CPU provider and prints {"error": message} or {"dims": output dims} as JSON.
// Usage: node tests/support/run-packed-mha.mjs <file.onnx> '<{"input": [dims…]}>'
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';

const [file, inputsJson] = process.argv.slice(2);
const forms = join(import.meta.dirname, '..', 'fixtures', 'mha-forms');
const sine = (dims, phase) =>
  new ort.Tensor(
    'float32',
    Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, (_, i) => Math.sin(0.37 * i + phase)),
    dims,
  );
const session = await ort.InferenceSession.create(join(forms, file), { logSeverityLevel: 4 });
const feeds = Object.fromEntries(Object.entries(JSON.parse(inputsJson)).map(([n, d], i) => [n, sine(d, i)]));
try {
  const out = await session.run(feeds);
  console.log(JSON.stringify({ dims: Object.values(out)[0].dims }));
} catch (e) {
  console.log(JSON.stringify({ error: e instanceof Error ? e.message : String(e) }));
} finally {
  await session.release();
}
