/**
 * The evaluators of the shapes models. Prompt adherence (issue 6): prompts with known attributes, an
 * image judge by simple image analysis, the evaluation loop through the public pipeline API, and
 * plain-text reports. `npm run eval:shapes` (scripts/eval-shapes.ts) runs it on the shipped model.
 * Layout-to-image (issue 16): held-out layouts, a layout judge (each box cropped and judged, nothing but
 * background outside the boxes), the loop through the GLIGEN pipeline and its report; `npm run
 * eval:layout` (scripts/eval-layout.ts) runs it on the shipped layout model.
 */
export * from './adherence-score.js';
export * from './concept-prompts.js';
export * from './eval-layouts.js';
export * from './evaluate-adherence.js';
export * from './evaluate-layout.js';
export * from './format-layout-report.js';
export * from './format-report.js';
export * from './judge-image.js';
export * from './judge-layout.js';
export * from './layout-score.js';
export * from './shape-prompts.js';
export * from './shapes-world.js';
