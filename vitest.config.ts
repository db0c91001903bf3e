import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// Tests import the packages by name; point those names at the sources so `npm test` needs no build.
const pkg = (name: string) => fileURLToPath(new URL(`./packages/${name}/src/index.ts`, import.meta.url));

export default defineConfig({
  resolve: {
    alias: {
      '@latentkit/core': pkg('core'),
      '@latentkit/schedulers': pkg('schedulers'),
      '@latentkit/onnx': pkg('onnx'),
      '@latentkit/model-shapes': pkg('model-shapes'),
      '@latentkit/backend-node': pkg('backend-node'),
      '@latentkit/backend-web': pkg('backend-web'),
      '@latentkit/server': pkg('server'),
    },
  },
  test: {
    include: ['packages/*/src/**/*.test.ts', 'tests/**/*.test.ts'],
    // The browser tests need Chromium: they run with `npm run test:browser` (vitest.browser.config.ts).
    // The Redis tests need redis-server: they run with `npm run test:redis` (vitest.redis.config.ts).
    exclude: ['tests/browser/**', '**/*.redis.test.ts', '**/node_modules/**'],
    testTimeout: 60_000,
    pool: 'forks',
  },
});
