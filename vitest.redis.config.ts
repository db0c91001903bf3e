import { defineConfig } from 'vitest/config';
import base from './vitest.config.js';

// `npm run test:redis`: the tests that run a real redis-server (Debian's /usr/bin/redis-server, each test
// file starting its own on a free loopback port): @latentkit/server's BullMQ mode, its workers and faults.
// Kept out of `npm test` so that a fresh machine with only Node passes it; `.ci/run` installs redis-server
// and runs both. Without redis-server these tests fail (they never skip).
export default defineConfig({
  ...base,
  test: { ...base.test, include: ['tests/**/*.redis.test.ts'], exclude: ['**/node_modules/**'] },
});
