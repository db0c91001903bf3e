/** @packageDocumentation Work in progress: see the README. */
export const packageName = '@latentkit/backend-node';
