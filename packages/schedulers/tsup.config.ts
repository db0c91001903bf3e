import { defineConfig } from 'tsup';

export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'es2022',
  // esbuild renames classes with static members (`_DDIMScheduler`); users read `constructor.name`.
  keepNames: true,
});
