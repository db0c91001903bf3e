export { hiresFix, hiresGenerationParameters, hiresInfotextExtra } from './hires-fix.js';
export * from './hires-fix-options.js';
export { hiresInferenceSteps, hiresSide } from './hires-schedule.js';
export { resizeLanczos } from './lanczos-resize.js';
export { upscaleLatentsBilinear } from './latent-upscale.js';
export { HIRES_FIX_OPTION_KEYS } from './validate-hires-options.js';
