import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ModelInvalidError } from '@latentkit/core';
import type { InferenceSession } from 'onnxruntime-node';
import { FileModelSource } from '../file-model-source.js';
import { NodeSessionFactory } from '../node-session-factory.js';

/** One input or output of a component's ONNX graph. */
export interface ValueInfo {
  name: string;
  /** onnxruntime's type name, e.g. `float32`, `int64`; `non-tensor` for sequences and maps. */
  type: string;
  /** Dimensions; symbolic ones by name (e.g. `batch`). */
  shape: (number | string)[];
}

/** What `latentkit info` reports about one component. */
export interface ComponentInfo {
  name: string;
  /** `[library, class]` from model_index.json. */
  kind: readonly unknown[];
  files: { path: string; bytes: number }[];
  inputs?: ValueInfo[];
  outputs?: ValueInfo[];
  config?: Record<string, unknown>;
}

/** What `latentkit info DIR` reports. */
export interface ModelInfo {
  location: string;
  pipeline: string;
  components: ComponentInfo[];
}

/** JSON.parse that accepts the `NaN` / `Infinity` tokens Python's json module writes (as `null`). */
function parseLenientJson(text: string, what: string): Record<string, unknown> {
  try {
    return JSON.parse(
      text.replace(/"(?:\\.|[^"\\])*"|-?Infinity|NaN/g, (m) => (m.startsWith('"') ? m : 'null')),
    ) as Record<string, unknown>;
  } catch (error) {
    throw new ModelInvalidError(`${what} is not valid JSON: ${(error as Error).message}`);
  }
}

function valueInfo(metadata: InferenceSession.ValueMetadata): ValueInfo {
  if (!metadata.isTensor) return { name: metadata.name, type: 'non-tensor', shape: [] };
  return { name: metadata.name, type: metadata.type, shape: [...metadata.shape] };
}

/** Reads a model folder's components, their files, configs and the ONNX graphs' inputs and outputs. */
export async function readModelInfo(directory: string): Promise<ModelInfo> {
  const source = new FileModelSource(directory);
  const index = parseLenientJson(
    await source.readText('model_index.json'),
    `${source.location}/model_index.json`,
  );
  const factory = new NodeSessionFactory({
    providers: ['cpu'],
    graphOptimizationLevel: 'disabled',
    logLevel: 'fatal',
  });
  const components: ComponentInfo[] = [];
  try {
    for (const [name, kind] of Object.entries(index)) {
      if (name.startsWith('_') || !Array.isArray(kind) || kind[0] === null) continue;
      const info: ComponentInfo = { name, kind, files: [] };
      const folder = join(source.location, name);
      const entries = await readdir(folder).catch(() => [] as string[]);
      for (const file of entries.sort()) {
        const stats = await stat(join(folder, file));
        if (stats.isFile()) info.files.push({ path: `${name}/${file}`, bytes: stats.size });
      }
      for (const configName of ['config.json', 'scheduler_config.json']) {
        if (await source.exists(`${name}/${configName}`)) {
          info.config = parseLenientJson(
            await source.readText(`${name}/${configName}`),
            `${name}/${configName}`,
          );
        }
      }
      if (await source.exists(`${name}/model.onnx`)) {
        const session = await factory.create({ component: name, modelPath: `${name}/model.onnx`, source });
        info.inputs = session.inputMetadata.map(valueInfo);
        info.outputs = session.outputMetadata.map(valueInfo);
      }
      components.push(info);
    }
  } finally {
    await factory.releaseAll();
  }
  return { location: source.location, pipeline: String(index['_class_name'] ?? 'unknown'), components };
}

function size(bytes: number): string {
  if (bytes >= 1e9) return `${(bytes / 1e9).toFixed(2)} GB`;
  if (bytes >= 1e6) return `${(bytes / 1e6).toFixed(1)} MB`;
  if (bytes >= 1e3) return `${(bytes / 1e3).toFixed(1)} kB`;
  return `${bytes} B`;
}

const SUMMARY_KEYS = [
  '_class_name',
  'prediction_type',
  'beta_schedule',
  'timestep_spacing',
  'sample_size',
  'in_channels',
  'out_channels',
  'latent_channels',
  'cross_attention_dim',
  'attention_type',
  'scaling_factor',
  'shift_factor',
  'hidden_size',
  'num_hidden_layers',
  'projection_dim',
];

/** `latentkit info` as text. */
export function formatModelInfo(info: ModelInfo): string {
  const lines = [`${info.location}`, `pipeline: ${info.pipeline}`];
  for (const c of info.components) {
    const total = c.files.reduce((n, f) => n + f.bytes, 0);
    lines.push(
      '',
      `${c.name} (${c.kind.filter((k) => k !== null).join(' / ')}, ${c.files.length} file${c.files.length === 1 ? '' : 's'}, ${size(total)})`,
    );
    if (c.config) {
      const pairs = SUMMARY_KEYS.filter((k) => c.config?.[k] !== undefined && c.config[k] !== null).map(
        (k) => `${k}=${JSON.stringify(c.config?.[k])}`,
      );
      if (pairs.length > 0) lines.push(`  config: ${pairs.join(', ')}`);
    }
    const width = Math.max(0, ...[...(c.inputs ?? []), ...(c.outputs ?? [])].map((v) => v.name.length));
    for (const [dir, values] of [
      ['in ', c.inputs],
      ['out', c.outputs],
    ] as const) {
      for (const v of values ?? []) {
        lines.push(`  ${dir} ${v.name.padEnd(width)}  ${v.type.padEnd(8)} [${v.shape.join(', ')}]`);
      }
    }
  }
  return lines.join('\n');
}
