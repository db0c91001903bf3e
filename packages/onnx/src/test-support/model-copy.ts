import {
  cpSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileModelSource, NodeSessionFactory } from '@latentkit/backend-node';
import { shapesModelPath } from '@latentkit/model-shapes';
import type { InferenceSession } from 'onnxruntime-common';
import type { SessionRequest } from '../session-factory.js';

/**
 * A copy of the shipped model (`@latentkit/model-shapes`) in a temp folder, to break one file of it.
 * JSON files are copied; the `.onnx` files are hard links (no copy of the weights, and — unlike symbolic
 * links — no link out of the folder). `remove()` deletes the folder.
 */
export function copyShippedModel(): { dir: string; remove(): void } {
  return copyModelFolder(shapesModelPath);
}

/** A copy of any model folder (e.g. a test fixture) in a temp folder, made as {@link copyShippedModel} does. */
export function copyModelFolder(modelPath: string): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'latentkit-model-'));
  for (const entry of readdirSync(modelPath, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const from = join(entry.parentPath, entry.name);
    const to = join(dir, from.slice(modelPath.length));
    mkdirSync(join(dir, entry.parentPath.slice(modelPath.length)), { recursive: true });
    if (entry.name.endsWith('.onnx')) {
      try {
        linkSync(from, to);
      } catch {
        cpSync(from, to);
      }
    } else cpSync(from, to);
  }
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Changes keys of a JSON file in a model folder (`null` values stay, `undefined` removes the key). */
export function editJson(dir: string, file: string, changes: Record<string, unknown>): void {
  const path = join(dir, file);
  const json = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  for (const [key, value] of Object.entries(changes)) {
    if (value === undefined) delete json[key];
    else json[key] = value;
  }
  writeFileSync(path, JSON.stringify(json));
}

/** Replaces a whole file's text (for tokens JSON cannot write, such as Python's `NaN`). */
export function writeText(dir: string, file: string, text: string): void {
  writeFileSync(join(dir, file), text);
}

/**
 * The real onnxruntime-node session factory, counting the sessions it creates and the runs of each
 * component, so a test can tell that a check came before any session (or run).
 */
export class CountingSessionFactory extends NodeSessionFactory {
  /** Sessions created so far. */
  created = 0;
  /** Runs per component. */
  readonly runs: Record<string, number> = {};

  override async create(request: SessionRequest): Promise<InferenceSession> {
    this.created++;
    const session = await super.create(request);
    const run = session.run.bind(session);
    const runs = this.runs;
    runs[request.component] = 0;
    // count, then run the real session
    session.run = ((...args: Parameters<InferenceSession['run']>) => {
      runs[request.component]!++;
      return run(...args);
    }) as InferenceSession['run'];
    return session;
  }
}

/** A {@link FileModelSource} over a folder (re-exported so tests need one import). */
export const folderSource = (dir: string): FileModelSource => new FileModelSource(dir);
