import { readFileSync } from 'node:fs';
import type { RgbaImage } from '@latentkit/core';
import { describe, expect, it } from 'vitest';
import { decodeFixtureImage } from '../test-support/fixture-image.js';
import { SHAPE_ATTRIBUTES } from './adherence-score.js';
import { judgeShapeImage } from './judge-image.js';

// Ground truth: clean renders of the shapes world by tools/shapes-model/data.py's own renderer
// (with its training-time size/position jitter, a quarter at the jitter's extremes), written by
// tools/shapes-model/render_judge_fixture.py — 54 at 32×32 (every shape × layout) and 6 at 64×64.
interface FixtureCase {
  color: string;
  shape: string;
  background: string;
  size: string;
  position: string;
  width: number;
  height: number;
  rgb: string; // zlib-deflated RGB bytes, base64
}
const fixture = JSON.parse(
  readFileSync(new URL('../../test-fixtures/judge-cases.json', import.meta.url), 'utf8'),
) as { colors: Record<string, [number, number, number]>; cases: FixtureCase[] };
const colors = fixture.colors;

/** A hand-drawn image: background colour, then `paint(x, y)` returns a colour name or undefined. */
function draw(
  size: number,
  background: string,
  paint: (x: number, y: number) => string | undefined,
): RgbaImage {
  const data = new Uint8ClampedArray(size * size * 4);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const [r, g, b] = colors[paint(x + 0.5, y + 0.5) ?? background]!;
      data.set([r, g, b, 255], (y * size + x) * 4);
    }
  }
  return { width: size, height: size, data };
}

describe('judgeShapeImage on ground-truth renders', () => {
  const results = fixture.cases.map((c) => ({ c, judged: judgeShapeImage(decodeFixtureImage(c), colors) }));

  it('has a fixture covering every shape, layout and colour', () => {
    expect(fixture.cases).toHaveLength(60);
    expect(new Set(fixture.cases.map((c) => c.shape)).size).toBe(3);
    expect(new Set(fixture.cases.map((c) => `${c.size} ${c.position}`)).size).toBe(6);
    expect(new Set(fixture.cases.map((c) => c.color)).size).toBe(8);
    expect(new Set(fixture.cases.map((c) => c.background)).size).toBe(8);
  });

  it('gets ≥ 98% of the attributes right (measured: all 300)', () => {
    let right = 0;
    const wrong: string[] = [];
    for (const { c, judged } of results) {
      for (const key of SHAPE_ATTRIBUTES) {
        if (judged[key] === c[key]) right += 1;
        else
          wrong.push(
            `${c.size} ${c.color} ${c.shape} ${c.position} on ${c.background}: ${key} → ${judged[key]}`,
          );
      }
    }
    const total = results.length * SHAPE_ATTRIBUTES.length;
    expect(right / total, wrong.join('\n')).toBeGreaterThanOrEqual(0.98);
  });

  it('measures fill ratios near the geometry: circle π/4, square 1, triangle 1/2', () => {
    const fills = (shape: string) =>
      results.filter((r) => r.c.shape === shape).map((r) => r.judged.measurements.fillRatio);
    // Pixelation of 9-px shapes spreads the values; the means sit near the ideal ratios.
    const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
    expect(mean(fills('circle'))).toBeCloseTo(Math.PI / 4, 1);
    expect(mean(fills('square'))).toBeGreaterThan(0.97);
    expect(mean(fills('triangle'))).toBeGreaterThan(0.5);
    expect(mean(fills('triangle'))).toBeLessThan(0.65);
  });

  it('puts an apex-up triangle’s mass low (upper-half share ≈ 1/4)', () => {
    for (const { c, judged } of results) {
      if (c.shape === 'triangle') expect(judged.measurements.topShare).toBeLessThan(0.36);
      else expect(judged.measurements.topShare).toBeGreaterThan(0.42);
    }
  });
});

describe('judgeShapeImage edge cases', () => {
  it('reports no shape on a plain background', () => {
    const judged = judgeShapeImage(
      draw(32, 'green', () => undefined),
      colors,
    );
    expect(judged).toMatchObject({
      background: 'green',
      color: null,
      shape: null,
      size: null,
      position: null,
    });
  });

  it('rejects an upside-down triangle and an elongated bar', () => {
    const flipped = draw(32, 'white', (x, y) =>
      y >= 10 && y <= 22 && Math.abs(x - 16) <= ((22 - y) / 12) * 6 ? 'red' : undefined,
    );
    expect(judgeShapeImage(flipped, colors)).toMatchObject({ color: 'red', shape: null });
    const bar = draw(32, 'white', (x, y) => (x >= 4 && x <= 28 && y >= 13 && y <= 19 ? 'blue' : undefined));
    expect(judgeShapeImage(bar, colors)).toMatchObject({ color: 'blue', shape: null });
  });

  it('takes the majority of the border even when the shape touches it', () => {
    // A 12-px orange square in the top-left corner, flush with two edges.
    const judged = judgeShapeImage(
      draw(32, 'purple', (x, y) => (x < 12 && y < 12 ? 'orange' : undefined)),
      colors,
    );
    expect(judged).toMatchObject({
      background: 'purple',
      color: 'orange',
      shape: 'square',
      size: 'small',
      position: 'top left',
    });
  });

  it('ignores a stray speck and colour noise, judging the largest component', () => {
    const image = draw(32, 'black', (x, y) => {
      if ((x - 16) ** 2 + (y - 16) ** 2 <= 8.5 ** 2) return 'yellow';
      if (x > 26 && x < 28 && y > 3 && y < 5) return 'white'; // a 2×2 speck
      return undefined;
    });
    // Deterministic ±12 noise on every channel, as a generated image is never flat.
    for (let i = 0; i < image.data.length; i++) {
      if (i % 4 !== 3) image.data[i] = image.data[i]! + (((i * 2654435761) >>> 0) % 25) - 12;
    }
    expect(judgeShapeImage(image, colors)).toMatchObject({
      background: 'black',
      color: 'yellow',
      shape: 'circle',
      size: 'large',
      position: 'center',
    });
  });

  it('calls a shape between two positions no position', () => {
    // Small square centred at (16, 9) px = (32, 18)/64: in the top band, but neither left nor right.
    const judged = judgeShapeImage(
      draw(32, 'red', (x, y) => (Math.abs(x - 16) <= 4.5 && Math.abs(y - 9) <= 4.5 ? 'white' : undefined)),
      colors,
    );
    expect(judged).toMatchObject({ shape: 'square', size: 'small', position: null });
    expect(judged.measurements.center[0]).toBeCloseTo(32, 5);
  });

  it('throws a typed error for a malformed image', () => {
    expect(() => judgeShapeImage({ width: 32, height: 32, data: new Uint8ClampedArray(10) }, colors)).toThrow(
      /width·height·4/,
    );
  });
});
