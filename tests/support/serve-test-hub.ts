/**
 * Serves the local test hub (./test-hub.ts) until Ctrl-C, for trying hub ids by hand:
 *
 *   npx tsx tests/support/serve-test-hub.ts
 *   npx tsx examples/load-from-hub.ts --hub-url <the printed URL>
 *   HF_ENDPOINT=<the printed URL> npx latentkit generate "a red circle on a blue background" --model latentkit/shapes
 *
 * It serves the shipped model as `latentkit/shapes` (branches `main` and `euler`), the external-weights
 * fixture as `latentkit/sd1-external`, and a private and a gated copy that need the printed token.
 */
import { PRIVATE_TOKEN, standardRepos, TestHub } from './test-hub.js';

const hub = await TestHub.start(standardRepos());
console.log(`test hub: ${hub.url} (LFS files from ${hub.cdnUrl})`);
console.log(
  `repos: ${standardRepos()
    .map((r) => r.id)
    .join(', ')}; token of the private/gated ones: ${PRIVATE_TOKEN}`,
);
console.log('Ctrl-C to stop.');
process.once('SIGINT', () => {
  void hub.close().then(() => process.exit(0));
});
