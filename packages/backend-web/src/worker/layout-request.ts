import { checkLayout, InvalidArgumentError, LAYOUT_INPUT_NAMES } from '@latentkit/core';
import type { WorkerLayoutOptions } from './messages.js';

/**
 * GLIGEN's object slots: a grounded UNet sees at most 30 boxes (diffusers pads every layout to 30). The
 * worker refuses longer layouts before it downloads anything; the editor in the demo stops at it.
 */
export const MAX_LAYOUT_OBJECTS = 30;

/** The pipeline's other layout forms, which the worker does not take (one form crosses postMessage). */
const OTHER_FORMS = ['gligenPhrases', 'gligenBoxes', 'gligenPhraseEmbeds'] as const;

/**
 * Checks a layout request's own fields before any download — the model URL and the layout (1 to
 * {@link MAX_LAYOUT_OBJECTS} objects `{ phrase, box }`, checked by core's `checkLayout`: a non-empty
 * phrase, a box of 4 finite numbers with 0 ≤ x0 < x1 ≤ 1 and 0 ≤ y0 < y1 ≤ 1, no other keys) — so a bad
 * layout is refused at once. The other options go to `StableDiffusionGLIGENPipeline.generate()`, which
 * checks them (and the layout again, against the loaded model's own object slots).
 *
 * @throws {@link InvalidArgumentError} naming the value (e.g. `layout[1].box = [0.5, 0, 1.2, 1]`);
 *   `LimitExceededError` for more than 30 objects.
 */
export function checkLayoutRequest(options: WorkerLayoutOptions): void {
  if (typeof options.model !== 'string' || options.model === '') {
    throw new InvalidArgumentError({
      name: 'layout model',
      value: options.model,
      expected:
        "the URL of a grounded model folder (model_index.json with _class_name 'StableDiffusionGLIGENPipeline')",
      fix: "pass model: e.g. './models/shapes-layout/'",
    });
  }
  for (const key of OTHER_FORMS) {
    if (key in options) {
      throw new InvalidArgumentError({
        name: `layout request key ${JSON.stringify(key)}`,
        value: (options as unknown as Record<string, unknown>)[key],
        expected: 'the layout as layout: [{ phrase, box }, …] (the one form the worker takes)',
        fix: 'pass layout: phrases.map((phrase, i) => ({ phrase, box: boxes[i] }))',
      });
    }
  }
  if (!Array.isArray(options.layout)) {
    throw new InvalidArgumentError({
      name: LAYOUT_INPUT_NAMES.objects,
      value: options.layout,
      expected: 'an array of { phrase, box } (box = [x0, y0, x1, y1], fractions of the width and height)',
      fix: 'pass layout: [{ phrase: "a red circle", box: [0.05, 0.05, 0.45, 0.45] }]',
    });
  }
  // The object-list form never reads embeddingDim (only phrase embeddings have a width).
  checkLayout(options.layout, { maxObjects: MAX_LAYOUT_OBJECTS, embeddingDim: 0 });
}
