"""A tiny CLIP-format BPE tokenizer for the shapes vocabulary.

Files are written in exactly the format of openai/clip-vit-large-patch14's
tokenizer (vocab.json + merges.txt), so a stock CLIPTokenizer implementation
(transformers, or the TypeScript one in latentkit) tokenizes identically to
`encode()` below, which is what the model was trained with.

vocab order (like CLIP): 256 byte symbols (GPT-2 bytes_to_unicode order),
the same 256 with "</w>", one entry per merge result, then <|startoftext|>
and <|endoftext|> (highest id, also used as padding).
"""
import json
import os
import re

from data import COLOR_NAMES, POSITIONS, SHAPES, SIZES

MAX_LEN = 77
BOS, EOS = "<|startoftext|>", "<|endoftext|>"

WORDS = sorted(
    set(COLOR_NAMES + SHAPES + SIZES + " ".join(POSITIONS).split() + ["a", "an", "on", "background", "at", "the", "in", ","])
)

# CLIP's pre-tokenisation regex.  CLIP uses \p{L} / \p{N} from the `regex`
# module; for ASCII input these are exactly [a-zA-Z] and [0-9].  Python's `re`
# has no \p classes, so use the Unicode-aware equivalents [^\W\d_] and \d.
PAT = re.compile(
    r"""<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[^\W\d_]+|\d|[^\s\w]+|_+""",
    re.IGNORECASE,
)


def bytes_to_unicode():
    """GPT-2 / CLIP reversible byte -> printable unicode mapping."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


BYTE_ENCODER = bytes_to_unicode()


def get_pairs(word):
    return {(word[i], word[i + 1]) for i in range(len(word) - 1)}


def bpe(token, ranks):
    """CLIP's BPE: repeatedly merge the lowest-ranked adjacent pair."""
    word = tuple(token[:-1]) + (token[-1] + "</w>",)
    while len(word) > 1:
        pairs = get_pairs(word)
        best = min(pairs, key=lambda p: ranks.get(p, float("inf")))
        if best not in ranks:
            break
        first, second = best
        new, i = [], 0
        while i < len(word):
            if i < len(word) - 1 and word[i] == first and word[i + 1] == second:
                new.append(first + second)
                i += 2
            else:
                new.append(word[i])
                i += 1
        word = tuple(new)
    return list(word)


def pre_tokenize(text):
    text = re.sub(r"\s+", " ", text).strip().lower()
    return PAT.findall(text)


def learn_merges(words):
    """Add merges until every word is a single token.  Each new merge joins
    the two leftmost pieces of the word's *current* segmentation and gets the
    lowest priority, so it can never fire inside an already-finished word
    (those are fully merged by higher-priority merges)."""
    merges, ranks = [], {}
    for w in words:
        token = "".join(BYTE_ENCODER[b] for b in w.encode("utf-8"))
        while True:
            pieces = bpe(token, ranks)
            if len(pieces) == 1:
                break
            pair = (pieces[0], pieces[1])
            ranks[pair] = len(merges)
            merges.append(pair)
    return merges


class Tokenizer:
    def __init__(self, vocab, merges):
        self.vocab = vocab
        self.ranks = {tuple(m): i for i, m in enumerate(merges)}
        self.bos_id = vocab[BOS]
        self.eos_id = vocab[EOS]
        self.pad_id = vocab[EOS]

    @classmethod
    def build(cls):
        merges = learn_merges(WORDS)
        syms = list(BYTE_ENCODER.values())
        vocab_list = syms + [s + "</w>" for s in syms]
        for a, b in merges:
            if a + b not in vocab_list:
                vocab_list.append(a + b)
        vocab_list += [BOS, EOS]
        return cls({t: i for i, t in enumerate(vocab_list)}, merges)

    @classmethod
    def load(cls, folder):
        with open(os.path.join(folder, "vocab.json"), encoding="utf-8") as f:
            vocab = json.load(f)
        with open(os.path.join(folder, "merges.txt"), encoding="utf-8") as f:
            lines = f.read().split("\n")[1:]
        merges = [tuple(l.split()) for l in lines if l.strip()]
        return cls(vocab, merges)

    def tokens(self, text):
        out = []
        for tok in pre_tokenize(text):
            tok = "".join(BYTE_ENCODER[b] for b in tok.encode("utf-8"))
            out.extend(self.vocab[p] for p in bpe(tok, self.ranks))
        return out

    def encode(self, text):
        """BOS + tokens + EOS, truncated to 77 keeping EOS last, padded with
        the pad id (= EOS id), exactly like CLIPTokenizer(padding="max_length",
        max_length=77, truncation=True)."""
        ids = self.tokens(text)[: MAX_LEN - 2]
        ids = [self.bos_id] + ids + [self.eos_id]
        return ids + [self.pad_id] * (MAX_LEN - len(ids))

    def save(self, folder):
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, "vocab.json"), "w", encoding="utf-8") as f:
            json.dump(self.vocab, f, ensure_ascii=False)
        merges = sorted(self.ranks, key=self.ranks.get)
        with open(os.path.join(folder, "merges.txt"), "w", encoding="utf-8") as f:
            f.write("#version: 0.2\n" + "\n".join(f"{a} {b}" for a, b in merges) + "\n")
        # Same keys/values as runwayml/stable-diffusion-v1-5's tokenizer folder.
        cfg = {
            "add_prefix_space": False,
            "bos_token": {"__type": "AddedToken", "content": BOS, "lstrip": False, "normalized": True, "rstrip": False, "single_word": False},
            "do_lower_case": True,
            "eos_token": {"__type": "AddedToken", "content": EOS, "lstrip": False, "normalized": True, "rstrip": False, "single_word": False},
            "errors": "replace",
            "model_max_length": MAX_LEN,
            "pad_token": EOS,
            "tokenizer_class": "CLIPTokenizer",
            "unk_token": {"__type": "AddedToken", "content": EOS, "lstrip": False, "normalized": True, "rstrip": False, "single_word": False},
        }
        with open(os.path.join(folder, "tokenizer_config.json"), "w") as f:
            json.dump(cfg, f, indent=2)
        special = {
            "bos_token": {"content": BOS, "lstrip": False, "normalized": True, "rstrip": False, "single_word": False},
            "eos_token": {"content": EOS, "lstrip": False, "normalized": True, "rstrip": False, "single_word": False},
            "pad_token": EOS,
            "unk_token": {"content": EOS, "lstrip": False, "normalized": True, "rstrip": False, "single_word": False},
        }
        with open(os.path.join(folder, "special_tokens_map.json"), "w") as f:
            json.dump(special, f, indent=2)


def self_check(tok):
    inv = {v: k for k, v in tok.vocab.items()}
    for w in WORDS:
        ids = tok.tokens(w)
        assert len(ids) == 1 and inv[ids[0]] == w + "</w>", (w, [inv[i] for i in ids])
    ex = tok.encode("  Red circle,   BLUE background ")
    assert [inv[i] for i in ex[:7]] == [BOS, "red</w>", "circle</w>", ",</w>", "blue</w>", "background</w>", EOS], [inv[i] for i in ex[:7]]
    assert len(ex) == MAX_LEN and all(i == tok.pad_id for i in ex[7:])
    assert tok.encode("")[:3] == [tok.bos_id, tok.eos_id, tok.pad_id]
    assert tok.eos_id == max(tok.vocab.values())
    long = tok.encode("red " * 100)
    assert len(long) == MAX_LEN and long[-1] == tok.eos_id and long[0] == tok.bos_id
    # Out-of-vocabulary words still tokenize (into sub-word / byte pieces).
    assert all(i in inv for i in tok.tokens("a magenta hexagon!"))
    return [inv[i] for i in tok.encode("a small red circle at the top left on a blue background") if i != tok.pad_id]


if __name__ == "__main__":
    t = Tokenizer.build()
    print("vocab", len(t.vocab), "merges", len(t.ranks))
    print(self_check(t))
