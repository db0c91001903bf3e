export { generateWithRefiner } from './refiner-hand-off.js';
export {
  DEFAULT_HIGH_NOISE_FRAC,
  type RefinerHandOffOptions,
  type RefinerHandOffParameters,
  type RefinerHandOffResult,
  type RefinerStepInfo,
} from './refiner-hand-off-options.js';
export { checkRefinerHandOffOptions, REFINER_HAND_OFF_OPTION_KEYS } from './validate-refiner-options.js';
