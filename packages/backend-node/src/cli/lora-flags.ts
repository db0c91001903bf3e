import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { PipelineBase } from '@latentkit/core';
import { adapterStem } from '@latentkit/onnx';
import { InvalidArgumentError as CommanderArgumentError } from 'commander';
import { UsageError } from './cli-error.js';

/** One `--lora FILE[:SCALE]`. */
export interface LoraFlag {
  /** The LoRA file (.safetensors). */
  file: string;
  /** Its scale (default 1). */
  scale: number;
}

/** One `--embedding FILE[:TOKEN]`. */
export interface EmbeddingFlag {
  /** The embedding file (.safetensors). */
  file: string;
  /** The token for prompts; default the file's own, else the file name. */
  token?: string;
}

/** The LoRA and embedding flags of `latentkit generate`, as commander parsed them. */
export interface LoraFlags {
  /** `--lora FILE[:SCALE]`, repeatable, in order. */
  lora?: LoraFlag[];
  /** `--embedding FILE[:TOKEN]`, repeatable, in order. */
  embedding?: EmbeddingFlag[];
}

const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/**
 * Parses one `--lora FILE[:SCALE]` value and appends it (commander's repeatable-option parser). The scale is
 * the part after the last `:` when it is a number (so `C:\loras\a.safetensors` and `pink.safetensors` keep
 * scale 1); it must be finite.
 *
 * @throws commander's InvalidArgumentError for an empty file name or a scale that is not finite.
 */
export function parseLora(value: string, previous: LoraFlag[] | undefined): LoraFlag[] {
  const colon = value.lastIndexOf(':');
  const tail = colon >= 0 ? value.slice(colon + 1).trim() : '';
  const hasScale = colon >= 0 && NUMBER.test(tail);
  const file = hasScale ? value.slice(0, colon) : value;
  const scale = hasScale ? Number(tail) : 1;
  if (file.trim() === '') {
    throw new CommanderArgumentError(
      'the LoRA file name is empty. Fix: write --lora FILE[:SCALE], e.g. --lora pink.safetensors:0.8.',
    );
  }
  if (!Number.isFinite(scale)) {
    throw new CommanderArgumentError(
      `the scale ${tail} is not a finite number. Fix: write e.g. --lora ${file}:0.8.`,
    );
  }
  return [...(previous ?? []), { file, scale }];
}

/**
 * Parses one `--embedding FILE[:TOKEN]` value and appends it. The token is the part after the last `:` when
 * the part before it ends in a file extension (`pink.safetensors:<pink>`); without it the file's own token
 * is used (diffusers' key, A1111's name), else the file name.
 *
 * @throws commander's InvalidArgumentError for an empty file name or token.
 */
export function parseEmbedding(value: string, previous: EmbeddingFlag[] | undefined): EmbeddingFlag[] {
  const colon = value.lastIndexOf(':');
  const head = colon >= 0 ? value.slice(0, colon) : value;
  const hasToken = colon > 0 && /\.[A-Za-z0-9]+$/.test(head) && !/[\\/]/.test(value.slice(colon + 1));
  const file = hasToken ? head : value;
  const token = hasToken ? value.slice(colon + 1) : undefined;
  if (file.trim() === '') {
    throw new CommanderArgumentError(
      'the embedding file name is empty. Fix: write --embedding FILE[:TOKEN], e.g. --embedding pink.safetensors:<pink>.',
    );
  }
  if (token !== undefined && token.trim() === '') {
    throw new CommanderArgumentError(
      `the token after "${file}:" is empty. Fix: write --embedding ${file}:<token>, or leave ":" out to use the file's token.`,
    );
  }
  return [...(previous ?? []), token === undefined ? { file } : { file, token }];
}

/**
 * Checks the LoRA and embedding flags before any model is loaded: every file exists, and no two `--lora`
 * files have the same name (the adapter's name is the file name without extension, which `<lora:name:w>`
 * in the prompt refers to).
 *
 * @throws {@link UsageError} for a missing file or two LoRAs with one name.
 */
export async function checkLoraFlags(flags: LoraFlags): Promise<void> {
  const names = new Map<string, string>();
  for (const { file } of flags.lora ?? []) {
    await requireFile(file, '--lora');
    const name = adapterStem(file);
    const other = names.get(name);
    if (other !== undefined) {
      throw new UsageError(
        `--lora ${file} and --lora ${other} have the same adapter name "${name}" (the file name without extension, as <lora:${name}:w> names it). Fix: rename one of the files.`,
      );
    }
    names.set(name, file);
  }
  for (const { file } of flags.embedding ?? []) await requireFile(file, '--embedding');
}

async function requireFile(file: string, flag: string): Promise<void> {
  const info = await stat(file).catch(() => undefined);
  if (!info?.isFile()) {
    throw new UsageError(
      `${flag} ${file}: ${info ? 'not a file' : 'no such file'} (${resolve(file)}). Fix: pass the path of a .safetensors file.`,
    );
  }
}

/** What the flags loaded, for `--json`. */
export interface LoadedAdapters {
  /** The LoRA adapters: name (the file stem), scale, file. */
  loras: { name: string; scale: number; file: string }[];
  /** The embeddings: the token to write in prompts, and the file. */
  embeddings: { token: string; file: string }[];
}

/**
 * Loads the `--lora` files (adapter name = file stem, at their scales) and the `--embedding` files into the
 * pipeline, in order.
 */
export async function loadAdapterFlags(pipeline: PipelineBase, flags: LoraFlags): Promise<LoadedAdapters> {
  const loaded: LoadedAdapters = { loras: [], embeddings: [] };
  for (const { file, scale } of flags.lora ?? []) {
    const info = await pipeline.loadLoraWeights(file, { scale });
    loaded.loras.push({ name: info.name, scale: info.scale, file: resolve(file) });
  }
  for (const { file, token } of flags.embedding ?? []) {
    const info = await pipeline.loadTextualInversion(file, token === undefined ? {} : { token });
    loaded.embeddings.push({ token: info.token, file: resolve(file) });
  }
  return loaded;
}
