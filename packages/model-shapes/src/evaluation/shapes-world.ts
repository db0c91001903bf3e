import { formatValue, InvalidArgumentError, ModelInvalidError } from '@latentkit/core';

/** The shape classes of the shapes world. A triangle is isosceles with its apex up. */
export type ShapeName = 'circle' | 'square' | 'triangle';

/** The two sizes: a large shape is always centred, a small one sits at one of the five positions. */
export type ShapeSize = 'small' | 'large';

/** Where a shape sits: one of the four corners' quadrants or the centre. */
export type ShapePosition = 'top left' | 'top right' | 'bottom left' | 'bottom right' | 'center';

/** A (colour, shape, background) triple, the unit the training set holds out. */
export interface ShapeTriple {
  /** The shape's colour name, e.g. `red`. */
  readonly color: string;
  /** The shape class. */
  readonly shape: ShapeName;
  /** The background's colour name (never the shape's colour). */
  readonly background: string;
}

/**
 * What the evaluator needs to know about the world the model was trained on: its vocabulary, the
 * RGB of each colour word and the triples held out of training. Read from the model's `heldout.json`
 * with {@link parseShapesWorld}.
 */
export interface ShapesWorld {
  /** The side of the generated images in pixels. */
  readonly resolution: number;
  /** Colour name → canonical `[r, g, b]` (0–255), in the vocabulary's order. */
  readonly colors: Readonly<Record<string, readonly [number, number, number]>>;
  /** The shape classes. */
  readonly shapes: readonly ShapeName[];
  /** The sizes. */
  readonly sizes: readonly ShapeSize[];
  /** The positions of a small shape. */
  readonly positions: readonly ShapePosition[];
  /** The triples that never occur in training. */
  readonly heldout: readonly ShapeTriple[];
  /** Sampling defaults recommended by the model's authors, when `heldout.json` records them. */
  readonly recommended?: Readonly<Record<string, unknown>>;
}

const SHAPES: readonly ShapeName[] = ['circle', 'square', 'triangle'];
const SIZES: readonly ShapeSize[] = ['small', 'large'];
const POSITIONS: readonly ShapePosition[] = [
  'top left',
  'top right',
  'bottom left',
  'bottom right',
  'center',
];

function invalid(name: string, value: unknown, expected: string): ModelInvalidError {
  return new ModelInvalidError(
    `heldout.json: ${name} = ${formatValue(value)} is invalid: expected ${expected}. ` +
      'Fix: re-export the model with tools/shapes-model/export.py.',
  );
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function oneOf<T extends string>(value: unknown, allowed: readonly T[], name: string): T {
  if (typeof value === 'string' && (allowed as readonly string[]).includes(value)) return value as T;
  throw invalid(name, value, `one of ${allowed.join(', ')}`);
}

function parseColors(value: unknown): Record<string, readonly [number, number, number]> {
  if (!isRecord(value) || Object.keys(value).length < 2) {
    throw invalid('colors', value, 'an object of colour name → [r, g, b]');
  }
  const colors: Record<string, readonly [number, number, number]> = {};
  for (const [name, rgb] of Object.entries(value)) {
    const ok =
      Array.isArray(rgb) &&
      rgb.length === 3 &&
      rgb.every((c) => typeof c === 'number' && Number.isFinite(c) && c >= 0 && c <= 255);
    if (!ok) throw invalid(`colors.${name}`, rgb, '[r, g, b] with values in 0–255');
    colors[name] = [rgb[0], rgb[1], rgb[2]];
  }
  return colors;
}

/**
 * Checks and types the contents of a shapes model's `heldout.json` (written by
 * `tools/shapes-model/export.py`). Throws `ModelInvalidError` naming the first field that is wrong.
 */
export function parseShapesWorld(json: unknown): ShapesWorld {
  if (!isRecord(json)) throw invalid('(root)', json, 'an object');
  const resolution = json.resolution;
  if (typeof resolution !== 'number' || !Number.isInteger(resolution) || resolution < 8) {
    throw invalid('resolution', resolution, 'an integer ≥ 8');
  }
  const colors = parseColors(json.colors);
  const list = (key: string): unknown[] => {
    const value = json[key];
    if (!Array.isArray(value)) throw invalid(key, value, 'an array');
    return value;
  };
  const shapes = list('shapes').map((s, i) => oneOf(s, SHAPES, `shapes[${i}]`));
  const sizes = list('sizes').map((s, i) => oneOf(s, SIZES, `sizes[${i}]`));
  const positions = list('positions').map((p, i) => oneOf(p, POSITIONS, `positions[${i}]`));
  const colorNames = Object.keys(colors);
  const heldout = list('heldout').map((t, i): ShapeTriple => {
    if (!isRecord(t)) throw invalid(`heldout[${i}]`, t, '{ color, shape, background }');
    return {
      color: oneOf(t.color, colorNames, `heldout[${i}].color`),
      shape: oneOf(t.shape, shapes, `heldout[${i}].shape`),
      background: oneOf(t.background, colorNames, `heldout[${i}].background`),
    };
  });
  const world: ShapesWorld = { resolution, colors, shapes, sizes, positions, heldout };
  return isRecord(json.recommended) ? { ...world, recommended: json.recommended } : world;
}

/** Every (colour, shape, background) triple of the world with background ≠ colour, in vocabulary order. */
export function allTriples(world: ShapesWorld): ShapeTriple[] {
  const names = Object.keys(world.colors);
  return names.flatMap((color) =>
    world.shapes.flatMap((shape) =>
      names.filter((bg) => bg !== color).map((background) => ({ color, shape, background })),
    ),
  );
}

/** A stable string key of a triple, e.g. `red circle on blue`. */
export function tripleKey(triple: ShapeTriple): string {
  return `${triple.color} ${triple.shape} on ${triple.background}`;
}

/** Sampling settings for an evaluation: steps, guidance and the scheduler's name. */
export interface SamplingSettings {
  /** Denoising steps. */
  readonly numInferenceSteps: number;
  /** Classifier-free guidance scale. */
  readonly guidanceScale: number;
  /** A name `createScheduler` accepts, or undefined for the model's own scheduler_config.json. */
  readonly scheduler?: string;
}

/**
 * The model's default sampling settings: what its `heldout.json` recommends (keys as diffusers
 * names them, `num_inference_steps` / `guidance_scale` / `scheduler`, or short `steps` / `guidance`),
 * each missing one taken from `fallback`.
 */
export function recommendedSampling(
  world: ShapesWorld,
  fallback: SamplingSettings = { numInferenceSteps: 50, guidanceScale: 7.5 },
): SamplingSettings {
  const rec = world.recommended ?? {};
  const pick = (keys: string[], type: 'number' | 'string'): unknown =>
    keys.map((k) => rec[k]).find((v) => typeof v === type);
  const steps = pick(['num_inference_steps', 'steps'], 'number') as number | undefined;
  const guidance = pick(['guidance_scale', 'guidance'], 'number') as number | undefined;
  const scheduler = (pick(['scheduler', 'sampler'], 'string') as string | undefined) ?? fallback.scheduler;
  const settings = {
    numInferenceSteps: steps ?? fallback.numInferenceSteps,
    guidanceScale: guidance ?? fallback.guidanceScale,
  };
  return scheduler === undefined ? settings : { ...settings, scheduler };
}

/**
 * The world with more colours in its table, for judging a concept the model learned later (e.g. the
 * pink of `packages/model-shapes/adapters/`): `judgeShapeImage(image, withExtraColors(world, { pink:
 * [250, 120, 190] }).colors)` can then say "pink". The world's own colours keep their order and come
 * first, so every image the old table judged as one of them still is, unless the new colour is nearer.
 * Throws `InvalidArgumentError` for a name the world already has or an RGB that is not 3 numbers in 0–255.
 */
export function withExtraColors(
  world: ShapesWorld,
  extra: Readonly<Record<string, readonly [number, number, number]>>,
): ShapesWorld {
  if (!isRecord(extra) || Object.keys(extra).length === 0) {
    throw new InvalidArgumentError({
      name: 'extra colours',
      value: isRecord(extra) ? Object.keys(extra) : extra, // the (empty) list of names
      expected: 'an object of colour name → [r, g, b] with at least one colour',
      fix: 'pass e.g. { pink: [250, 120, 190] }',
    });
  }
  const colors: Record<string, readonly [number, number, number]> = { ...world.colors };
  for (const [name, rgb] of Object.entries(extra)) {
    if (name in world.colors) {
      throw new InvalidArgumentError({
        name: `extra colours.${name}`,
        value: name,
        expected: `a colour the world does not have (it has ${Object.keys(world.colors).join(', ')})`,
        fix: 'give the new colour another name',
      });
    }
    const ok =
      Array.isArray(rgb) &&
      rgb.length === 3 &&
      rgb.every((c) => typeof c === 'number' && Number.isFinite(c) && c >= 0 && c <= 255);
    if (!ok) {
      throw new InvalidArgumentError({
        name: `extra colours.${name}`,
        value: rgb,
        expected: '[r, g, b] with values in 0–255',
      });
    }
    colors[name] = [rgb[0], rgb[1], rgb[2]];
  }
  return { ...world, colors };
}
