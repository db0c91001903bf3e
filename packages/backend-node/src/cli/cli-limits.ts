/**
 * The most images one `latentkit generate` makes (`--n`): 10,000. The CLI makes and writes them one at a
 * time, so memory does not grow with `--n`; the cap keeps a typo (`--n 100000000`) from running for days.
 */
export const MAX_IMAGES_PER_RUN = 10_000;
