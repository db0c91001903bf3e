/**
 * The demo's box editor for layout-to-image: drag on a square canvas (laid over the layout's output) to
 * draw a box, type what belongs in it, delete it with its button. Boxes are kept as fractions of the
 * canvas's width and height, origin top left — the `[x0, y0, x1, y1]` that `generateLayout` takes.
 */

import type { LayoutBox, LayoutObject } from '@latentkit/core';

/** A drag shorter than this fraction of the side (either way) is a click, not a box. */
export const MIN_BOX_SIDE = 0.02;

/** Box outline colours, one per object index (cycling). */
const COLOURS = ['#e6194b', '#3cb44b', '#4363d8', '#f58231', '#911eb4', '#42d4f4', '#f032e6', '#9a6324'];

/** A fraction rounded to 3 decimals (a thousandth of the side is finer than any model's latent grid). */
const round = (v: number) => Math.round(Math.min(1, Math.max(0, v)) * 1000) / 1000;

/**
 * The box a drag from `start` to `end` (fractions of the side, either corner first) spans, clamped to the
 * canvas and rounded to 3 decimals; undefined when it is thinner than {@link MIN_BOX_SIDE} either way.
 */
export function boxFromDrag(start: [number, number], end: [number, number]): LayoutBox | undefined {
  const box: LayoutBox = [
    round(Math.min(start[0], end[0])),
    round(Math.min(start[1], end[1])),
    round(Math.max(start[0], end[0])),
    round(Math.max(start[1], end[1])),
  ];
  return box[2] - box[0] < MIN_BOX_SIDE || box[3] - box[1] < MIN_BOX_SIDE ? undefined : box;
}

/** Options of {@link LayoutEditor}. */
export interface LayoutEditorOptions {
  /** The square canvas boxes are drawn on (laid over the output image). */
  canvas: HTMLCanvasElement;
  /** The list that gets one row per box: its number, phrase input, coordinates and Delete button. */
  list: HTMLOListElement;
  /** The most boxes (GLIGEN's 30 slots). */
  maxObjects: number;
  /** Called with a message when a box is refused (the editor holds `maxObjects` already). */
  onRefuse: (message: string) => void;
}

/** Box editing on a canvas, with a phrase per box: see the module comment. */
export class LayoutEditor {
  readonly #options: LayoutEditorOptions;
  readonly #objects: LayoutObject[] = [];
  #drag: { start: [number, number]; end: [number, number] } | undefined;

  /** Starts listening to pointer events on the canvas. */
  constructor(options: LayoutEditorOptions) {
    this.#options = options;
    const { canvas } = options;
    canvas.addEventListener('pointerdown', (event) => {
      if (event.button !== 0) return;
      canvas.setPointerCapture(event.pointerId);
      const at = this.#fraction(event);
      this.#drag = { start: at, end: at };
      this.draw();
    });
    canvas.addEventListener('pointermove', (event) => {
      if (!this.#drag) return;
      this.#drag.end = this.#fraction(event);
      this.draw();
    });
    const finish = (event: PointerEvent) => {
      if (!this.#drag) return;
      const box = boxFromDrag(this.#drag.start, this.#fraction(event));
      this.#drag = undefined;
      if (box) this.add(box);
      else this.draw();
    };
    canvas.addEventListener('pointerup', finish);
    canvas.addEventListener('pointercancel', () => {
      this.#drag = undefined;
      this.draw();
    });
    this.draw();
  }

  /** The layout: each box with its phrase as typed (trimmed), in the order drawn. */
  get objects(): LayoutObject[] {
    return this.#objects.map(({ phrase, box }) => ({ phrase: phrase.trim(), box: [...box] }));
  }

  /**
   * Adds a box (and a row with an empty phrase input, focused), unless the editor is full.
   *
   * @returns Whether the box was added.
   */
  add(box: LayoutBox, phrase = ''): boolean {
    const { maxObjects, onRefuse } = this.#options;
    if (this.#objects.length >= maxObjects) {
      onRefuse(`At most ${maxObjects} boxes: delete one to draw another.`);
      this.draw();
      return false;
    }
    this.#objects.push({ phrase, box });
    this.#renderList();
    this.draw();
    this.#options.list.querySelector<HTMLInputElement>('li:last-child input')?.focus();
    return true;
  }

  /** Deletes the box at `index`. */
  remove(index: number): void {
    this.#objects.splice(index, 1);
    this.#renderList();
    this.draw();
  }

  /** Deletes every box. */
  clear(): void {
    this.#objects.length = 0;
    this.#renderList();
    this.draw();
  }

  /** Redraws the boxes (and the one being dragged) with their numbers and phrases. */
  draw(): void {
    const { canvas } = this.#options;
    const context = canvas.getContext('2d');
    if (!context) return;
    const { width: w, height: h } = canvas;
    context.clearRect(0, 0, w, h);
    context.lineWidth = Math.max(2, w / 160);
    context.font = `${Math.round(w / 24)}px system-ui, sans-serif`;
    context.textBaseline = 'top';
    this.#objects.forEach(({ phrase, box }, i) => {
      const colour = COLOURS[i % COLOURS.length]!;
      const [x0, y0, x1, y1] = [box[0] * w, box[1] * h, box[2] * w, box[3] * h];
      context.strokeStyle = colour;
      context.strokeRect(x0, y0, x1 - x0, y1 - y0);
      const label = `${i + 1} ${phrase.trim()}`.trim();
      const pad = context.lineWidth;
      const textWidth = context.measureText(label).width;
      context.fillStyle = colour;
      context.fillRect(x0, y0, textWidth + 2 * pad, Math.round(w / 24) + 2 * pad);
      context.fillStyle = '#fff';
      context.fillText(label, x0 + pad, y0 + pad);
    });
    if (this.#drag) {
      const { start, end } = this.#drag;
      context.setLineDash([6, 4]);
      context.strokeStyle = '#888';
      context.strokeRect(start[0] * w, start[1] * h, (end[0] - start[0]) * w, (end[1] - start[1]) * h);
      context.setLineDash([]);
    }
  }

  /** The pointer's position as fractions of the canvas's displayed width and height, clamped to [0, 1]. */
  #fraction(event: PointerEvent): [number, number] {
    const rect = this.#options.canvas.getBoundingClientRect();
    const clamp = (v: number) => Math.min(1, Math.max(0, v));
    return [clamp((event.clientX - rect.left) / rect.width), clamp((event.clientY - rect.top) / rect.height)];
  }

  /** One row per box: its number, phrase input, coordinates `x0, y0, x1, y1` and Delete button. */
  #renderList(): void {
    const rows = this.#objects.map((object, i) => {
      const li = document.createElement('li');
      li.style.setProperty('--box-colour', COLOURS[i % COLOURS.length]!);
      const number = document.createElement('span');
      number.className = 'box-number';
      number.textContent = String(i + 1);
      const phrase = document.createElement('input');
      phrase.type = 'text';
      phrase.className = 'phrase';
      phrase.placeholder = 'what goes in the box, e.g. a red circle';
      phrase.value = object.phrase;
      phrase.setAttribute('aria-label', `Phrase of box ${i + 1}`);
      phrase.addEventListener('input', () => {
        object.phrase = phrase.value;
        this.draw();
      });
      const coords = document.createElement('span');
      coords.className = 'coords';
      coords.textContent = object.box.map((v) => v.toFixed(3)).join(', ');
      const remove = document.createElement('button');
      remove.type = 'button';
      remove.className = 'delete-box';
      remove.textContent = 'Delete';
      remove.addEventListener('click', () => this.remove(i));
      li.append(number, phrase, coords, remove);
      return li;
    });
    this.#options.list.replaceChildren(...rows);
  }
}
