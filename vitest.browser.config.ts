import { defineConfig } from 'vitest/config';
import base from './vitest.config.js';

// `npm run test:browser`: the tests that drive headless Chromium (Debian's /usr/bin/chromium, through
// playwright-core). Kept out of `npm test` so that a fresh machine with only Node passes it; `.ci/run`
// installs Chromium and runs both.
export default defineConfig({
  ...base,
  test: { ...base.test, include: ['tests/browser/**/*.test.ts'], exclude: ['**/node_modules/**'] },
});
