import { Tokenizer } from '@huggingface/tokenizers';
import { InvalidArgumentError, ModelInvalidError } from '@latentkit/core';
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
  readonly #vocabMaxId: number;
  readonly #vocab: Readonly<Record<string, number>>;
  readonly #tokenizer: Tokenizer;
  /** Added tokens (textual inversion) → id, in the order they were added. */
  readonly #added = new Map<string, number>();
  readonly #addedById = new Map<number, string>();
  /** Splits text on the added tokens, longest first (undefined while there are none). */
  #addedPattern: RegExp | undefined;

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
    this.#vocabMaxId = maxId;
    this.#vocab = vocab;
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

  /**
   * The largest token id: `vocab.json`'s, or the last added token's once tokens are added. The text
   * encoder's embedding must have more rows than this (its `vocab_size`, grown by textual inversion).
   */
  get maxTokenId(): number {
    let max = this.#vocabMaxId;
    for (const id of this.#addedById.keys()) if (id > max) max = id;
    return max;
  }

  /** The added tokens (textual inversion) and their ids, in the order they were added. */
  get addedTokens(): ReadonlyMap<string, number> {
    return this.#added;
  }

  /**
   * Whether `token` is taken: a `vocab.json` entry (e.g. `cat</w>`, `<|endoftext|>`) or an added token —
   * what transformers' `token in tokenizer.get_vocab()` tests.
   */
  hasToken(token: string): boolean {
    return Object.hasOwn(this.#vocab, token) || this.#added.has(token);
  }

  /**
   * Adds tokens that are matched whole in text before BPE (transformers' `add_tokens`, as textual inversion
   * uses it): they get the next free ids, `maxTokenId + 1`, `+ 2`, …. As in transformers' `CLIPTokenizer`,
   * they match case-sensitively on the text as written (the rest of the text is lower-cased as usual), so
   * `<Pink>` and `<pink>` are different tokens.
   *
   * @param tokens - Non-empty strings that are not taken yet (see {@link hasToken}), without whitespace.
   * @returns Their ids, in order.
   * @throws {@link @latentkit/core!InvalidArgumentError} for an empty token, one with whitespace, a
   *   duplicate, or one already in the vocabulary (nothing is added then).
   */
  addTokens(tokens: readonly string[]): number[] {
    this.checkNewTokens(tokens);
    const first = this.maxTokenId + 1;
    const ids = tokens.map((token, i) => {
      this.#added.set(token, first + i);
      this.#addedById.set(first + i, token);
      return first + i;
    });
    this.#updatePattern();
    return ids;
  }

  /**
   * Checks that {@link addTokens} would accept `tokens`, without adding them.
   *
   * @throws {@link @latentkit/core!InvalidArgumentError} as {@link addTokens} does.
   */
  checkNewTokens(tokens: readonly string[]): void {
    const seen = new Set<string>();
    for (const token of tokens) {
      if (typeof token !== 'string' || token.length === 0 || /\s/u.test(token)) {
        throw new InvalidArgumentError({
          name: 'token',
          value: token,
          expected: 'a non-empty string without spaces, e.g. "<pink>"',
          fix: 'pass { token: "<my-concept>" }',
        });
      }
      if (this.hasToken(token) || seen.has(token)) {
        throw new InvalidArgumentError({
          name: 'token',
          value: token,
          expected: 'a token that is not in the tokenizer yet (as diffusers, latentkit refuses to reuse one)',
          fix: `pass another token, e.g. { token: "<${token.replace(/[<>]/g, '')}-2>" }`,
        });
      }
      seen.add(token);
    }
  }

  /**
   * Removes added tokens (undoes {@link addTokens}, e.g. when loading the embedding failed). Only the most
   * recently added tokens can be removed, so that ids stay contiguous with the embedding rows.
   *
   * @throws {@link @latentkit/core!InvalidArgumentError} for a token that was not added, or one that is not
   *   among the last added.
   */
  removeTokens(tokens: readonly string[]): void {
    const last = [...this.#added.keys()].slice(-tokens.length);
    if (tokens.length > 0 && !tokens.every((t) => last.includes(t))) {
      throw new InvalidArgumentError({
        name: 'tokens',
        value: [...tokens],
        expected: `the most recently added tokens (${last.join(', ') || 'none'})`,
      });
    }
    for (const token of tokens) {
      this.#addedById.delete(this.#added.get(token)!);
      this.#added.delete(token);
    }
    this.#updatePattern();
  }

  #updatePattern(): void {
    const tokens = [...this.#added.keys()].sort((a, b) => b.length - a.length);
    const escaped = tokens.map((t) => t.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&'));
    this.#addedPattern = tokens.length > 0 ? new RegExp(`(${escaped.join('|')})`, 'u') : undefined;
  }

  /** `text` cut into pieces: the added tokens (whole, longest first) and the text between them. */
  #pieces(text: string): { text: string; added?: number }[] {
    const pattern = this.#addedPattern;
    if (!pattern) return [{ text }];
    return text
      .split(pattern)
      .map((piece, i) => (i % 2 === 1 ? { text: piece, added: this.#added.get(piece)! } : { text: piece }))
      .filter((p) => p.added !== undefined || p.text.trim().length > 0);
  }

  /** Token ids of `text` without BOS/EOS, without truncation (as A1111 tokenizes prompt fragments). */
  encodeIds(text: string): number[] {
    return this.#pieces(text).flatMap((p) =>
      p.added !== undefined ? [p.added] : this.#tokenizer.encode(p.text, { add_special_tokens: false }).ids,
    );
  }

  /** The id of a vocabulary entry such as `,</w>` or of an added token, or undefined. */
  tokenToId(token: string): number | undefined {
    return this.#added.get(token) ?? this.#tokenizer.token_to_id(token);
  }

  /** Token strings of `text` (without BOS/EOS), e.g. `['a</w>', 'photo</w>']`; added tokens as added. */
  tokenize(text: string): string[] {
    return this.#pieces(text).flatMap((p) =>
      p.added !== undefined ? [p.text] : this.#tokenizer.tokenize(p.text, { add_special_tokens: false }),
    );
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
    // runs of vocabulary ids decode together; added tokens come out as written, space-separated
    const words: string[] = [];
    let run: number[] = [];
    const flush = (): void => {
      if (run.length > 0) words.push(this.#tokenizer.decode(run, { skip_special_tokens: true }).trim());
      run = [];
    };
    for (const id of kept) {
      const added = this.#addedById.get(id);
      if (added === undefined) run.push(id);
      else {
        flush();
        words.push(added);
      }
    }
    flush();
    return words.filter((w) => w.length > 0).join(' ');
  }
}
