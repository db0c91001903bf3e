/**
 * The prompt-adherence evaluator of the shapes model (issue 6): prompts with known attributes, an
 * image judge by simple image analysis, the evaluation loop through the public pipeline API, and
 * plain-text reports. `npm run eval:shapes` (scripts/eval-shapes.ts) runs it on the shipped model.
 */
export * from './adherence-score.js';
export * from './evaluate-adherence.js';
export * from './format-report.js';
export * from './judge-image.js';
export * from './shape-prompts.js';
export * from './shapes-world.js';
