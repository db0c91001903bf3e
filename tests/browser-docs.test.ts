import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// docs/browser.md promises that its TypeScript is known to run: every ```ts block must be copied verbatim
// from a file of examples/web (the demo's build config and the pages tests/browser runs from the built site).
const root = fileURLToPath(new URL('../', import.meta.url));

async function sources(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory() && entry.name !== 'dist') out.push(...(await sources(path)));
    else if (entry.isFile() && entry.name.endsWith('.ts')) out.push(await readFile(path, 'utf8'));
  }
  return out;
}

describe('docs/browser.md code blocks', () => {
  it('every TypeScript block is copied from a file of examples/web', async () => {
    const files = await sources(join(root, 'examples', 'web'));
    const text = await readFile(join(root, 'docs', 'browser.md'), 'utf8');
    const blocks = [...text.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!);
    expect(blocks.length).toBe(4);
    for (const block of blocks) {
      expect(
        files.some((source) => source.includes(block)),
        `docs/browser.md: this block is not in any examples/web file:\n${block}`,
      ).toBe(true);
    }
  });
});
