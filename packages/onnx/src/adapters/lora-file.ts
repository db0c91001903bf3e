import { ModelInvalidError, NotImplementedError, type Tensor } from '@latentkit/core';
import type { SafetensorsFile } from './safetensors.js';

/**
 * Reads the layers of a LoRA file (already parsed by `parseSafetensors`) in the two formats people download:
 *
 * - **kohya / A1111** (sd-scripts, most community LoRAs): `lora_unet_<flat>.lora_down.weight`,
 *   `.lora_up.weight`, `.alpha`; `lora_te_` (SD 1.x/2.x text encoder), `lora_te1_` / `lora_te2_` (SDXL's two
 *   encoders). `<flat>` is the diffusers module path with `.` written as `_`. Conv LoRA (LoCon) has a 4-D down
 *   `[r, in, kh, kw]` and up `[out, r, 1, 1]`.
 * - **diffusers / PEFT**: `unet.<module>.lora_A.weight` / `.lora_B.weight` (and `text_encoder.`,
 *   `text_encoder_2.`), the older `<module>.lora.down.weight` / `.lora.up.weight`,
 *   `<module>.lora_linear_layer.down/up.weight` and attention-processor keys
 *   (`….attn1.processor.to_q_lora.down.weight`); `<module>.alpha` where present.
 *
 * As in diffusers, the delta of a layer is `(alpha / rank) · up · down` and a layer without alpha has
 * alpha = rank (factor 1).
 */

/** The model component a LoRA layer changes. */
export type LoraComponent = 'unet' | 'text_encoder' | 'text_encoder_2';

/** The file formats {@link readLoraFile} reads. */
export type LoraFormat = 'kohya' | 'diffusers';

/** One low-rank update of one weight: ΔW = (alpha / rank) · up · down. */
export interface LoraLayer {
  /** The component whose weight it changes. */
  readonly component: LoraComponent;
  /** The down (A) tensor's key as written in the file, for messages. */
  readonly key: string;
  /** The dotted module path (diffusers/PEFT files), e.g. `down_blocks.0.attentions.0.proj_in`. */
  readonly module?: string;
  /** The underscored module name (kohya files, without `lora_unet_`/`lora_te_`), e.g. `down_blocks_0_attentions_0_proj_in`. */
  readonly flatName?: string;
  /** The down (A) matrix: `[rank, in]`, or `[rank, in, kh, kw]` for a conv layer. */
  readonly down: Tensor;
  /** The up (B) matrix: `[out, rank]`, or `[out, rank, 1, 1]`. */
  readonly up: Tensor;
  /** The network alpha; absent means alpha = rank. */
  readonly alpha?: number;
}

/** What {@link readLoraFile} found in a file. */
export interface LoraFile {
  /** The format the file was read as. */
  readonly format: LoraFormat;
  /** Its layers, in file order of their down tensors. */
  readonly layers: readonly LoraLayer[];
  /** Keys that are not LoRA weights and were skipped (e.g. textual-inversion vectors bundled as `bundle_emb.*`). */
  readonly ignoredKeys: readonly string[];
}

/** Weight kinds of LyCORIS and other adapters that are not plain low-rank LoRA. */
const UNSUPPORTED: readonly { readonly pattern: RegExp; readonly kind: string }[] = [
  { pattern: /\.hada_w[12]_[ab]$|\.hada_t[12]$/, kind: 'LyCORIS LoHa (hada_*)' },
  { pattern: /\.lokr_w[12](_[ab])?$|\.lokr_t2$/, kind: 'LyCORIS LoKr (lokr_*)' },
  { pattern: /\.on_input$/, kind: 'LyCORIS IA3 (on_input)' },
  { pattern: /\.lora_mid\.weight$/, kind: 'LyCORIS LoCon with a Tucker middle weight (lora_mid)' },
  { pattern: /\.dora_scale$|\.lora_magnitude_vector(\.[^.]+)?(\.weight)?$/, kind: 'DoRA (dora_scale)' },
  { pattern: /\.diff(_b)?$/, kind: 'a full weight difference (diff)' },
];

const KOHYA_PREFIXES: readonly (readonly [string, LoraComponent])[] = [
  ['lora_unet_', 'unet'],
  ['lora_te1_', 'text_encoder'],
  ['lora_te2_', 'text_encoder_2'],
  ['lora_te_', 'text_encoder'],
];

const COMPONENT_PREFIXES: readonly (readonly [string, LoraComponent])[] = [
  ['unet.', 'unet'],
  ['text_encoder_2.', 'text_encoder_2'],
  ['text_encoder.', 'text_encoder'],
];

type Role = 'down' | 'up' | 'alpha';

interface Entry {
  component: LoraComponent;
  module?: string;
  flatName?: string;
  down?: string;
  up?: string;
  alpha?: string;
}

/** Splits a kohya key into its component, flat module name and role. */
function kohyaKey(key: string): { component: LoraComponent; flatName: string; role: Role } | undefined {
  const prefix = KOHYA_PREFIXES.find(([p]) => key.startsWith(p));
  if (!prefix) return undefined;
  const dot = key.indexOf('.');
  if (dot < 0) return undefined;
  const flatName = key.slice(prefix[0].length, dot);
  const suffix = key.slice(dot + 1);
  const role: Role | undefined =
    suffix === 'lora_down.weight'
      ? 'down'
      : suffix === 'lora_up.weight'
        ? 'up'
        : suffix === 'alpha'
          ? 'alpha'
          : undefined;
  if (!role || flatName === '') return undefined;
  return { component: prefix[1], flatName, role };
}

// Old diffusers attention-processor LoRA names → the module they change.
const PROCESSOR_UNET: Readonly<Record<string, string>> = {
  to_q: 'to_q',
  to_k: 'to_k',
  to_v: 'to_v',
  to_out: 'to_out.0',
};
const PROCESSOR_TEXT: Readonly<Record<string, string>> = {
  to_q: 'q_proj',
  to_k: 'k_proj',
  to_v: 'v_proj',
  to_out: 'out_proj',
};

/** Splits a diffusers/PEFT key into its component, dotted module path and role. */
function diffusersKey(key: string): { component: LoraComponent; module: string; role: Role } | undefined {
  let rest = key.startsWith('base_model.model.') ? key.slice('base_model.model.'.length) : key;
  let component: LoraComponent = 'unet'; // diffusers' oldest files name UNet modules without a prefix
  const prefix = COMPONENT_PREFIXES.find(([p]) => rest.startsWith(p));
  if (prefix) {
    component = prefix[1];
    rest = rest.slice(prefix[0].length);
  } else if (rest.startsWith('text_model.')) component = 'text_encoder';
  let m = /^(.+)\.lora_([AB])(?:\.[^.]+)?\.weight$/.exec(rest);
  if (m) return { component, module: m[1]!, role: m[2] === 'A' ? 'down' : 'up' };
  m = /^(.+)\.(?:lora|lora_linear_layer)\.(down|up)\.weight$/.exec(rest);
  if (m) return { component, module: m[1]!, role: m[2] as Role };
  m = /^(.+?)\.(?:processor\.)?(to_q|to_k|to_v|to_out)_lora\.(down|up)\.weight$/.exec(rest);
  if (m) {
    const names = component === 'unet' ? PROCESSOR_UNET : PROCESSOR_TEXT;
    return { component, module: `${m[1]!}.${names[m[2]!]!}`, role: m[3] as Role };
  }
  m = /^(.+)\.alpha$/.exec(rest);
  if (m) return { component, module: m[1]!, role: 'alpha' };
  return undefined;
}

function firstKeys(keys: readonly string[]): string {
  const shown = keys.slice(0, 5).map((k) => JSON.stringify(k));
  return `${shown.join(', ')}${keys.length > 5 ? `, … (${keys.length} keys)` : ''}`;
}

function checkFinite(tensor: Tensor, key: string, what: string): void {
  const data = tensor.data;
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i]!)) {
      throw new ModelInvalidError(
        `${what}: tensor ${JSON.stringify(key)} holds ${data[i]} at index ${i}; a LoRA weight must be finite. Fix: the file is damaged or was saved from a diverged training run; download it again or use another checkpoint.`,
      );
    }
  }
}

/**
 * Reads the LoRA layers of a safetensors file.
 *
 * @param file - The parsed file (`parseSafetensors`).
 * @param what - The file's name or URL, for messages.
 * @returns The format, one {@link LoraLayer} per changed weight, and the keys that were skipped.
 * @throws {@link @latentkit/core!ModelInvalidError} for a file without LoRA weights (naming its first keys), a
 *   down without its up (or the reverse), ranks that differ between down and up, tensors of the wrong rank,
 *   an alpha that is not one finite number, or non-finite weights.
 * @throws {@link @latentkit/core!NotImplementedError} for LyCORIS LoHa/LoKr/IA3/Tucker, DoRA and full-diff
 *   weights, naming the key.
 */
export function readLoraFile(file: SafetensorsFile, what: string): LoraFile {
  const keys = [...file.tensors.keys()];
  for (const key of keys) {
    const hit = UNSUPPORTED.find((u) => u.pattern.test(key));
    if (hit) {
      throw new NotImplementedError(
        `${what} holds ${hit.kind} weights (e.g. ${JSON.stringify(key)}); latentkit applies plain LoRA only (kohya lora_down/lora_up/alpha, LoCon, diffusers/PEFT lora_A/lora_B). Fix: use a LoRA or LoCon version of the adapter, or merge this one into the model with the tool that made it.`,
      );
    }
  }
  const kohya = keys.some((k) => kohyaKey(k) !== undefined);
  const format: LoraFormat = kohya ? 'kohya' : 'diffusers';
  const entries = new Map<string, Entry>();
  const ignoredKeys: string[] = [];
  const unknown: string[] = [];
  for (const key of keys) {
    let id: string;
    let role: Role;
    let entry: Entry;
    if (kohya) {
      const k = kohyaKey(key);
      if (!k) {
        (key.startsWith('bundle_emb.') ? ignoredKeys : unknown).push(key);
        continue;
      }
      id = `${k.component}:${k.flatName}`;
      role = k.role;
      entry = entries.get(id) ?? { component: k.component, flatName: k.flatName };
    } else {
      const d = diffusersKey(key);
      if (!d) {
        (key.startsWith('bundle_emb.') ? ignoredKeys : unknown).push(key);
        continue;
      }
      id = `${d.component}:${d.module}`;
      role = d.role;
      entry = entries.get(id) ?? { component: d.component, module: d.module };
    }
    if (entry[role] !== undefined) {
      throw new ModelInvalidError(
        `${what} holds two ${role} tensors for the same layer: ${JSON.stringify(entry[role])} and ${JSON.stringify(key)}. Fix: keep one format per file (kohya or diffusers), as the tool that trained it saves it.`,
      );
    }
    entry[role] = key;
    entries.set(id, entry);
  }
  const paired = [...entries.values()].filter((e) => e.down !== undefined || e.up !== undefined);
  if (paired.length === 0) {
    throw new ModelInvalidError(
      `${what} is not a LoRA file: none of its keys is a LoRA weight (its keys: ${keys.length === 0 ? 'none' : firstKeys(keys)}). Expected kohya/A1111 keys (lora_unet_….lora_down.weight, lora_up.weight, alpha) or diffusers/PEFT keys (unet.….lora_A.weight, lora_B.weight). Fix: pass a LoRA .safetensors file; a textual-inversion embedding loads with loadTextualInversion.`,
    );
  }
  if (unknown.length > 0) {
    throw new ModelInvalidError(
      `${what} holds keys that are not LoRA weights of its ${format} format: ${firstKeys(unknown)}. Expected ${format === 'kohya' ? 'lora_unet_/lora_te_/lora_te1_/lora_te2_<module>.lora_down.weight, .lora_up.weight and .alpha' : '<component>.<module>.lora_A.weight / lora_B.weight (or lora.down.weight / lora.up.weight) and .alpha'}. Fix: convert the file to one of the two formats.`,
    );
  }
  for (const e of entries.values()) {
    if (e.down === undefined || e.up === undefined) {
      const have = e.down ?? e.up ?? e.alpha!;
      const missing = e.down === undefined ? 'down (lora_down / lora_A)' : 'up (lora_up / lora_B)';
      throw new ModelInvalidError(
        `${what}: ${JSON.stringify(have)} has no matching ${missing} tensor; every LoRA layer needs both. Fix: the file is incomplete or damaged; download it again.`,
      );
    }
  }
  const layers: LoraLayer[] = [];
  for (const e of entries.values()) layers.push(buildLayer(file, e, what));
  return { format, layers, ignoredKeys };
}

function buildLayer(file: SafetensorsFile, e: Entry, what: string): LoraLayer {
  const downKey = e.down!;
  const upKey = e.up!;
  const down = file.tensors.get(downKey)!;
  const up = file.tensors.get(upKey)!;
  const ds = down.shape;
  const us = up.shape;
  if (!(ds.length === 2 || ds.length === 4) || ds.some((d) => d === 0)) {
    throw new ModelInvalidError(
      `${what}: ${JSON.stringify(downKey)} has shape [${ds.join(', ')}]; a LoRA down weight is [rank, in] or [rank, in, kh, kw]. Fix: the file is damaged or not a LoRA; download it again.`,
    );
  }
  if (!(us.length === 2 || (us.length === 4 && us[2] === 1 && us[3] === 1)) || us.some((d) => d === 0)) {
    throw new ModelInvalidError(
      `${what}: ${JSON.stringify(upKey)} has shape [${us.join(', ')}]; a LoRA up weight is [out, rank] or [out, rank, 1, 1]. Fix: the file is damaged or not a LoRA; download it again.`,
    );
  }
  if (ds[0] !== us[1]) {
    throw new ModelInvalidError(
      `${what}: the ranks differ: ${JSON.stringify(downKey)} is [${ds.join(', ')}] (rank ${ds[0]}) but ${JSON.stringify(upKey)} is [${us.join(', ')}] (rank ${us[1]}); down is [rank, in] and up [out, rank]. Fix: the file is damaged; download it again.`,
    );
  }
  checkFinite(down, downKey, what);
  checkFinite(up, upKey, what);
  let alpha: number | undefined;
  if (e.alpha !== undefined) {
    const a = file.tensors.get(e.alpha)!;
    if (a.data.length !== 1 || !Number.isFinite(a.data[0]!)) {
      throw new ModelInvalidError(
        `${what}: ${JSON.stringify(e.alpha)} is ${a.data.length === 1 ? a.data[0] : `a tensor of shape [${a.shape.join(', ')}]`}; an alpha is one finite number. Fix: the file is damaged; download it again.`,
      );
    }
    alpha = a.data[0]!;
  }
  return {
    component: e.component,
    key: downKey,
    ...(e.module !== undefined ? { module: e.module } : {}),
    ...(e.flatName !== undefined ? { flatName: e.flatName } : {}),
    down,
    up,
    ...(alpha !== undefined ? { alpha } : {}),
  };
}
