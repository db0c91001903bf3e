import * as fs from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { writeFileAtomic } from './atomic-write.js';
import { readPng, writePng } from './png.js';

vi.mock('node:fs/promises', async (importOriginal) => {
  const original = await importOriginal<typeof import('node:fs/promises')>();
  return { ...original, writeFile: vi.fn(original.writeFile) };
});

let dir: string;
beforeAll(async () => {
  dir = await fs.mkdtemp(join(tmpdir(), 'latentkit-atomic-'));
});
afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

const leftovers = async () => (await fs.readdir(dir)).filter((f) => f.endsWith('.tmp'));

describe('writeFileAtomic', () => {
  it('keeps the old file whole and removes the temp file when the write dies half-way', async () => {
    const target = join(dir, 'image.png');
    await writePng(target, { width: 1, height: 1, data: new Uint8ClampedArray([1, 2, 3, 255]) });
    const before = await fs.readFile(target);
    // A disk that fills up half-way through the new image.
    vi.mocked(fs.writeFile).mockImplementationOnce(async (path, data) => {
      await fs.appendFile(path as string, (data as Uint8Array).subarray(0, 10));
      throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
    });
    await expect(
      writePng(target, { width: 2, height: 2, data: new Uint8ClampedArray(16).fill(9) }),
    ).rejects.toThrow(/ENOSPC/);
    expect(await fs.readFile(target)).toEqual(before);
    expect((await readPng(target)).data).toEqual(new Uint8ClampedArray([1, 2, 3, 255]));
    expect(await leftovers()).toEqual([]);
  });

  it('never creates the target when the first write fails', async () => {
    const target = join(dir, 'new.png');
    vi.mocked(fs.writeFile).mockImplementationOnce(async (path) => {
      await fs.appendFile(path as string, 'partial');
      throw new Error('EIO: i/o error');
    });
    await expect(writeFileAtomic(target, new Uint8Array([1, 2, 3]))).rejects.toThrow(/EIO/);
    await expect(fs.access(target)).rejects.toThrow();
    expect(await leftovers()).toEqual([]);
  });

  it('replaces an existing file', async () => {
    const target = join(dir, 'replace.bin');
    await writeFileAtomic(target, new Uint8Array([1]));
    await writeFileAtomic(target, new Uint8Array([2, 3]));
    expect(Array.from(await fs.readFile(target))).toEqual([2, 3]);
    expect(await leftovers()).toEqual([]);
  });
});
