import { defineConfig } from 'tsup';

export default defineConfig({
  // cli/main is the `latentkit` bin (its shebang is kept, and tsup makes it executable).
  entry: ['src/index.ts', 'src/cli/main.ts'],
  format: ['esm', 'cjs'],
  dts: { entry: 'src/index.ts' },
  sourcemap: true,
  clean: true,
  target: 'es2022',
  // The CJS build needs `import.meta.url` to find worker/session-worker.mjs (sessionThread: 'worker').
  shims: true,
});
