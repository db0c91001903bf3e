/**
 * Static vs dynamic shapes on one UNet (issue 19 item 4): the model's UNet is created twice by
 * NodeSessionFactory — as exported (free dimensions) and with `staticShapes` for the size and a batch of 2
 * (one prompt with guidance) — and the two sessions are run alternately on the same random inputs, so load
 * on a shared machine hits both alike. Prints the median and min of each, their ratio, and the largest
 * difference between the two outputs.
 *
 *   npx tsx bench/static-shapes.bench.ts --model DIR [--size 256] [--runs 9] [--provider cpu] [--threads N]
 */
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import {
  type ExecutionProviderName,
  FileModelSource,
  NodeSessionFactory,
  parseExecutionProviders,
} from '@latentkit/backend-node';
import type { StaticShapeSession } from '@latentkit/onnx';
import { type InferenceSession, Tensor } from 'onnxruntime-node';

const { values } = parseArgs({
  options: {
    model: { type: 'string' },
    size: { type: 'string', default: '256' },
    runs: { type: 'string', default: '9' },
    provider: { type: 'string', default: 'cpu' },
    threads: { type: 'string' },
    level: { type: 'string', default: 'all' },
  },
});
if (!values.model) {
  process.stderr.write(
    'usage: npx tsx bench/static-shapes.bench.ts --model DIR [--size 256] [--runs 9] [--provider cpu] [--threads N] [--level all]\n',
  );
  process.exit(2);
}
const size = Number(values.size);
const runs = Number(values.runs);
const providers = parseExecutionProviders(values.provider) as ExecutionProviderName[];
const level = values.level as 'all' | 'extended' | 'basic' | 'disabled';
const threads = values.threads === undefined ? {} : { intraOpNumThreads: Number(values.threads) };
const source = new FileModelSource(values.model);
const request = { component: 'unet', modelPath: 'unet/model.onnx', source };

const load = async (factory: NodeSessionFactory) => {
  const t0 = performance.now();
  const session = await factory.create(request);
  return { session, loadS: (performance.now() - t0) / 1000 };
};
const dynamicFactory = new NodeSessionFactory({ providers, graphOptimizationLevel: level, ...threads });
const staticFactory = new NodeSessionFactory({
  providers,
  graphOptimizationLevel: level,
  ...threads,
  staticShapes: { width: size, height: size },
});
const dynamic = await load(dynamicFactory);
const fixed = await load(staticFactory);

function feeds(session: InferenceSession): Record<string, Tensor> {
  const meta = Object.fromEntries(session.inputMetadata.map((m) => [m.name, m]));
  // the latent size the static session was fixed to (size ÷ the VAE's scale, 8 for SD, 4 for the shapes model)
  const h = (fixed.session as StaticShapeSession).staticDimensions.inputShapes['sample']?.[2] ?? size / 8;
  const hidden = meta['encoder_hidden_states'];
  const d = hidden?.isTensor ? Number(hidden.shape[2]) : 768;
  let seed = 1;
  const next = (): number => {
    seed = (seed * 16807) % 2147483647;
    return (seed / 2147483647) * 2 - 1;
  };
  const rand = (n: number) => Float32Array.from({ length: n }, next);
  const ts = meta['timestep'];
  const tsType = ts?.isTensor ? ts.type : 'float32';
  const tsDims = ts?.isTensor && ts.shape.length === 0 ? [] : [2];
  const tsCount = tsDims.length === 0 ? 1 : 2;
  const timestep =
    tsType === 'int64'
      ? new Tensor('int64', new BigInt64Array(tsCount).fill(500n), tsDims)
      : new Tensor('float32', new Float32Array(tsCount).fill(500), tsDims);
  return {
    sample: new Tensor('float32', rand(2 * 4 * h * h), [2, 4, h, h]),
    timestep,
    encoder_hidden_states: new Tensor('float32', rand(2 * 77 * d), [2, 77, d]),
  };
}

const input = feeds(dynamic.session);
const outName = dynamic.session.outputNames[0]!;
const times = { dynamic: [] as number[], static: [] as number[] };
let maxDiff = 0;
for (let i = 0; i <= runs; i++) {
  const order = i % 2 === 0 ? (['dynamic', 'static'] as const) : (['static', 'dynamic'] as const);
  const outs: Record<string, Float32Array> = {};
  for (const which of order) {
    const session = which === 'dynamic' ? dynamic.session : fixed.session;
    const t0 = performance.now();
    const out = await session.run(input);
    const ms = performance.now() - t0;
    if (i > 0) times[which].push(ms); // run 0 is a warm-up
    outs[which] = out[outName]!.data as Float32Array;
  }
  const a = outs['dynamic']!;
  const b = outs['static']!;
  for (let j = 0; j < a.length; j++) maxDiff = Math.max(maxDiff, Math.abs(a[j]! - b[j]!));
}
const stats = (xs: number[]) => {
  const s = [...xs].sort((x, y) => x - y);
  return { median: s[Math.floor(s.length / 2)]!, min: s[0]!, max: s.at(-1)! };
};
const d = stats(times.dynamic);
const s = stats(times.static);
console.log(
  `UNet ${values.model} at ${size}×${size} (batch 2), ${providers.join(',')}, level ${level}, ${runs} interleaved runs each, load average ${loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')}`,
);
console.log(`| shapes | load s | UNet call ms median (min–max) |`);
console.log(`|---|---|---|`);
console.log(
  `| dynamic | ${dynamic.loadS.toFixed(1)} | ${d.median.toFixed(1)} (${d.min.toFixed(1)}–${d.max.toFixed(1)}) |`,
);
console.log(
  `| static | ${fixed.loadS.toFixed(1)} | ${s.median.toFixed(1)} (${s.min.toFixed(1)}–${s.max.toFixed(1)}) |`,
);
console.log(
  `static / dynamic (medians): ${(s.median / d.median).toFixed(3)}; max |output difference|: ${maxDiff.toExponential(2)}`,
);
await dynamicFactory.releaseAll();
await staticFactory.releaseAll();
