import { readdirSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { describe, expect, it } from 'vitest';
import { shapesModelFiles, shapesModelPath } from './index.js';

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = join(dir, name);
    return statSync(full).isDirectory() ? walk(full) : [full];
  });
}

describe('@latentkit/model-shapes', () => {
  it('points at the model folder beside src/ and dist/', () => {
    expect(shapesModelPath.split(sep).slice(-2)).toEqual(['model-shapes', 'model']);
  });

  it('lists exactly the files of the folder', () => {
    const onDisk = walk(shapesModelPath)
      .map((f) => relative(shapesModelPath, f).split(sep).join('/'))
      .filter((f) => !f.split('/').some((part) => part.startsWith('.')))
      .sort();
    expect([...shapesModelFiles].sort()).toEqual(onDisk);
  });
});
