/**
 * The shipped shapes layout model's folder (packages/model-shapes/layout, made by tools/shapes-layout): the
 * exports point at it, list exactly its files, and carry its card's recommended settings.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  shapesLayoutDefaults,
  shapesLayoutModelFiles,
  shapesLayoutModelPath,
  shapesLayoutModelUrl,
} from './index.js';

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = join(dir, name);
    return statSync(full).isDirectory() ? walk(full) : [full];
  });
}

describe('@latentkit/model-shapes: the layout model', () => {
  it('points at the layout folder beside src/ and dist/', () => {
    expect(shapesLayoutModelPath.split(sep).slice(-2)).toEqual(['model-shapes', 'layout']);
    expect(shapesLayoutModelUrl.href.endsWith('/model-shapes/layout/')).toBe(true);
  });

  it('lists exactly the files of the folder', () => {
    const onDisk = walk(shapesLayoutModelPath)
      .map((f) => relative(shapesLayoutModelPath, f).split(sep).join('/'))
      .filter((f) => !f.split('/').some((part) => part.startsWith('.')))
      .sort();
    expect([...shapesLayoutModelFiles].sort()).toEqual(onDisk);
  });

  it('shapesLayoutDefaults are the recommended settings of layout/layout.json', () => {
    const card = JSON.parse(readFileSync(join(shapesLayoutModelPath, 'layout.json'), 'utf8')) as {
      recommended: Record<string, number>;
    };
    expect({ ...shapesLayoutDefaults }).toEqual(card.recommended);
  });
});
