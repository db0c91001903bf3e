import { Tokenizer } from '@huggingface/tokenizers';
import { ModelInvalidError } from '@latentkit/core';
import type { ModelSource } from './model-source.js';
import { parsePythonJson } from './python-json.js';

const BOS = '<|startoftext|>';
const EOS = '<|endoftext|>';

// The pre-tokenisation pattern of HF's CLIP tokenizer.json (openai/clip-vit-large-patch14).
const CLIP_PATTERN =
  "<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+";

/** The contents of a CLIP tokenizer folder (`tokenizer/` in a diffusers model). */
export interface ClipTokenizerFiles {
  /** `vocab.json`: token → id. */
  vocab: Record<string, number>;
  /** `merges.txt` as text (the `#version` header line is skipped). */
  merges: string;
  /** `tokenizer_config.json`, if present. */
  tokenizerConfig?: Record<string, unknown>;
  /** `special_tokens_map.json`, if present (it takes precedence over `tokenizerConfig`, as in transformers). */
  specialTokensMap?: Record<string, unknown>;
}

/** Options of {@link ClipTokenizer.encode}. */
export interface ClipEncodeOptions {
  /** Total length with BOS and EOS (default: the tokenizer's `modelMaxLength`, 77). */
  maxLength?: number;
  /** Pad to `maxLength` with the pad token (default true). */
  padding?: boolean;
}

function tokenContent(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { content?: unknown }).content === 'string'
  ) {
    return (value as { content: string }).content;
  }
  return undefined;
}

/**
 * The CLIP BPE tokenizer of Stable Diffusion, built from `vocab.json` + `merges.txt` with
 * `@huggingface/tokenizers` as an in-memory `tokenizer.json` equivalent to Hugging Face's fast CLIP
 * tokenizer: NFC, whitespace collapsed, lower case; split on CLIP's pattern (keeping the matches only), byte-level
 * symbols without a prefix space; BPE with the `</w>` end-of-word suffix.
 */
export class ClipTokenizer {
  /** Id of `<|startoftext|>`. */
  readonly bosTokenId: number;
  /** Id of `<|endoftext|>`. */
  readonly eosTokenId: number;
  /** Id of the padding token: `<|endoftext|>` for SD 1.x, `!` for SD 2.x. */
  readonly padTokenId: number;
  /** Sequence length the text encoder takes (77). */
  readonly modelMaxLength: number;
  /** The largest id in `vocab.json`: the text encoder's `vocab_size` must exceed it. */
  readonly maxTokenId: number;
  readonly #tokenizer: Tokenizer;

  constructor(files: ClipTokenizerFiles) {
    const { vocab } = files;
    let maxId = -1;
    for (const [token, id] of Object.entries(vocab)) {
      // ids are fed to the text encoder as int32 indices into its embedding table
      if (!Number.isInteger(id) || id < 0 || id > 0x7fffffff) {
        throw new ModelInvalidError(
          `tokenizer/vocab.json maps ${JSON.stringify(token)} to ${JSON.stringify(id)}: expected a token id, an integer from 0 to 2147483647. Fix: use the vocab.json of the model's tokenizer.`,
        );
      }
      if (id > maxId) maxId = id;
    }
    this.maxTokenId = maxId;
    const bos = vocab[BOS];
    const eos = vocab[EOS];
    if (bos === undefined || eos === undefined) {
      throw new ModelInvalidError(
        `tokenizer/vocab.json has no ${BOS} or ${EOS} entry: it is not a CLIP vocabulary.`,
      );
    }
    const merges = files.merges
      .split(/\r?\n/)
      .filter((line, i) => line.length > 0 && !(i === 0 && line.startsWith('#version')));
    const special = { ...(files.tokenizerConfig ?? {}), ...(files.specialTokensMap ?? {}) };
    const padToken = tokenContent(special['pad_token']) ?? EOS;
    const pad = vocab[padToken];
    if (pad === undefined) {
      throw new ModelInvalidError(
        `The tokenizer's pad_token ${JSON.stringify(padToken)} is not in tokenizer/vocab.json.`,
      );
    }
    const maxLength = files.tokenizerConfig?.['model_max_length'];
    this.modelMaxLength =
      typeof maxLength === 'number' && maxLength > 2 && maxLength <= 4096 ? maxLength : 77;
    this.bosTokenId = bos;
    this.eosTokenId = eos;
    this.padTokenId = pad;

    const added = (id: number, content: string) => ({
      id,
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: true,
      special: true,
    });
    const tokenizerJson = {
      version: '1.0',
      truncation: null,
      padding: null,
      added_tokens: [added(bos, BOS), added(eos, EOS)],
      normalizer: {
        type: 'Sequence',
        normalizers: [
          { type: 'NFC' },
          { type: 'Replace', pattern: { Regex: '\\s+' }, content: ' ' },
          { type: 'Lowercase' },
        ],
      },
      pre_tokenizer: {
        type: 'Sequence',
        pretokenizers: [
          // "Removed" + invert: keep the pattern's matches, drop what lies between (spaces)
          { type: 'Split', pattern: { Regex: CLIP_PATTERN }, behavior: 'Removed', invert: true },
          { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
        ],
      },
      post_processor: {
        type: 'RobertaProcessing',
        sep: [EOS, eos],
        cls: [BOS, bos],
        trim_offsets: false,
        add_prefix_space: false,
      },
      decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
      model: {
        type: 'BPE',
        dropout: null,
        unk_token: EOS,
        continuing_subword_prefix: '',
        end_of_word_suffix: '</w>',
        fuse_unk: false,
        byte_fallback: false,
        vocab,
        merges,
      },
    };
    this.#tokenizer = new Tokenizer(tokenizerJson, {
      model_max_length: this.modelMaxLength,
      clean_up_tokenization_spaces: true,
    });
  }

  /**
   * Reads `vocab.json`, `merges.txt` and (when present) `tokenizer_config.json` and
   * `special_tokens_map.json` from a model folder.
   *
   * @param source - The model folder.
   * @param folder - The tokenizer's subfolder (default `tokenizer`).
   */
  static async fromSource(source: ModelSource, folder = 'tokenizer'): Promise<ClipTokenizer> {
    const readJson = async (name: string): Promise<Record<string, unknown> | undefined> => {
      const path = `${folder}/${name}`;
      if (!(await source.exists(path))) return undefined;
      return parsePythonJson(await source.readText(path), path) as Record<string, unknown>;
    };
    const [vocabText, merges, tokenizerConfig, specialTokensMap] = await Promise.all([
      source.readText(`${folder}/vocab.json`),
      source.readText(`${folder}/merges.txt`),
      readJson('tokenizer_config.json'),
      readJson('special_tokens_map.json'),
    ]);
    const vocab = parsePythonJson(vocabText, `${folder}/vocab.json`) as Record<string, number>;
    const files: ClipTokenizerFiles = { vocab, merges };
    if (tokenizerConfig) files.tokenizerConfig = tokenizerConfig;
    if (specialTokensMap) files.specialTokensMap = specialTokensMap;
    return new ClipTokenizer(files);
  }

  /** Token ids of `text` without BOS/EOS, without truncation (as A1111 tokenizes prompt fragments). */
  encodeIds(text: string): number[] {
    return this.#tokenizer.encode(text, { add_special_tokens: false }).ids;
  }

  /** The id of a vocabulary entry such as `,</w>`, or undefined. */
  tokenToId(token: string): number | undefined {
    return this.#tokenizer.token_to_id(token);
  }

  /** Token strings of `text` (without BOS/EOS), e.g. `['a</w>', 'photo</w>']`. */
  tokenize(text: string): string[] {
    return this.#tokenizer.tokenize(text, { add_special_tokens: false });
  }

  /**
   * `text` → `[BOS, …ids, EOS, pad…]` of length `maxLength` (77): like transformers'
   * `tokenizer(text, padding="max_length", truncation=True)`; truncation keeps EOS last.
   */
  encode(text: string, options: ClipEncodeOptions = {}): number[] {
    const maxLength = options.maxLength ?? this.modelMaxLength;
    const ids = this.encodeIds(text).slice(0, Math.max(0, maxLength - 2));
    const out = [this.bosTokenId, ...ids, this.eosTokenId];
    if (options.padding ?? true) while (out.length < maxLength) out.push(this.padTokenId);
    return out;
  }

  /** Ids → text: a leading BOS is skipped and decoding stops at the first EOS (padding follows it). */
  decode(ids: readonly number[]): string {
    const start = ids[0] === this.bosTokenId ? 1 : 0;
    const eos = ids.indexOf(this.eosTokenId, start);
    const kept = ids.slice(start, eos < 0 ? ids.length : eos);
    if (kept.length === 0) return '';
    return this.#tokenizer.decode([...kept], { skip_special_tokens: true }).trim();
  }
}
