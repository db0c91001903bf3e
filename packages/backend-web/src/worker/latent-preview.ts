/**
 * The latent → RGB preview now lives in `@latentkit/core` (Node users get it too); re-exported here so
 * `import { approximateLatentsToRgb } from '@latentkit/backend-web'` keeps working.
 */
export { approximateLatentsToRgb, SD1_LATENT_RGB_FACTORS } from '@latentkit/core';
