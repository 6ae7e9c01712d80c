"""A compact text vocabulary: open_clip BPE tokens remapped to the ids a corpus uses.

Why: the tiny text tower trains on a few thousand distinct tokens; the stock
49,408-row embedding table would cost more optimizer time per step than the
whole image CNN. Captions are tokenised with open_clip's tokenizer and every
token id the corpus uses gets a compact id (0 = pad, 1 = unknown).

    vocab = Vocabulary(captions + prompts, context_length=24)
    tokens = vocab.encode(["a photo of a tench."])      # (1, 24) int64
"""

from __future__ import annotations

import functools
import hashlib

import numpy as np
import torch

# context_length -> text -> its row of open_clip BPE ids (int64). Tokenising is a pure function of the text, and a
# chapter's CLIP runs see the same captions again and again (a world's vocabulary, then its encoding; mixtures
# and subsets of worlds already seen): each distinct text is tokenised once per process.
_ROWS: dict = {}
# A corpus of at least this many distinct texts not yet tokenised in this process is also kept on disk
# (``<cache>/tokens``, keyed by the texts, the context length and open_clip's version): open_clip's
# tokenizer (ftfy, regex, BPE) takes about 60 µs a caption here (40 with the ASCII shortcut below), so the
# 200k-caption pretraining world costs about 10 s, which every chapter kernel training a CLIP on it paid again
# (issue 30: the study's time outside training; bench/tokenise.py).
DISK_MIN = 2000


@functools.cache
def _tokenizer(context_length: int):
    from studylib.models.openclip_parts import part  # open_clip's tokenizer, without the package

    module = part("tokenizer")
    tokenizer = module.SimpleTokenizer(context_length=context_length)
    if getattr(tokenizer, "clean_fn", None) is getattr(module, "_clean_lower", 0):
        tokenizer.clean_fn = functools.partial(_clean_lower, module)
    return WordMemoTokenizer(tokenizer)


class WordMemoTokenizer:
    """open_clip's ``SimpleTokenizer.__call__`` on a list of texts, with each distinct word's BPE ids kept.

    Why not open_clip's own call: per word it byte-encodes, looks up its BPE cache, splits and maps the pieces,
    and per text it builds a tensor; a corpus's captions reuse a few thousand words, so keeping each word's ids
    once makes tokenising about five times faster (issue 30: this ran outside training in every chapter kernel
    that built a CLIP vocabulary). The same cleaning, word pattern, BPE and truncation (the last id of a text
    longer than the context is the end token), so the same ids: tests/test_models.py compares both on a world's
    captions and on crafted text."""

    def __init__(self, tokenizer):
        self.inner = tokenizer
        self.context_length = tokenizer.context_length
        self._words: dict[str, list[int]] = {}

    def _word(self, word: str) -> list[int]:
        tok = self.inner
        ids = self._words.get(word)
        if ids is None:
            pieces = tok.bpe("".join(tok.byte_encoder[b] for b in word.encode("utf-8"))).split(" ")
            ids = self._words[word] = [tok.encoder[p] for p in pieces]
        return ids

    def __call__(self, texts) -> torch.Tensor:
        tok = self.inner
        texts = [texts] if isinstance(texts, str) else list(texts)
        if getattr(tok, "reduction_fn", None) is not None:  # not the truncating tokenizer this mirrors
            return tok(texts)
        n, sot, eot = self.context_length, tok.sot_token_id, tok.eot_token_id
        clean, words, word = tok.clean_fn, tok.pat.findall, self._word
        out = np.zeros((len(texts), n), dtype=np.int64)
        for i, text in enumerate(texts):
            row = [sot]
            for w in words(clean(text)):
                row += word(w)
            row.append(eot)
            if len(row) > n:
                row = row[:n]
                row[-1] = eot
            out[i, : len(row)] = row
        return torch.from_numpy(out)


def _clean_lower(module, text: str) -> str:
    """open_clip's ``_clean_lower``, without its no-op on plain text: ``ftfy.fix_text`` and ``html.unescape``
    leave printable ASCII without ``&`` as it is (no mojibake, entity, control character or line break to
    fix), and ftfy is a third of the tokenizer's time. Any other text takes open_clip's own path; the test
    compares both on every caption of a world and on crafted strings."""
    if text.isascii() and text.isprintable() and "&" not in text:
        return module.whitespace_clean(text.strip()).lower()
    return module._clean_lower(text)


class Vocabulary:
    """open_clip BPE tokens remapped to the ids a corpus uses (0 = pad, 1 = unknown)."""

    def __init__(self, texts, context_length: int):
        self.context_length = context_length
        self._tok = _tokenizer(context_length)
        raw = self._raw(texts)
        used = np.unique(raw.numpy())
        used = used[used != 0]
        self.bpe_ids = torch.from_numpy(used)  # compact id k+2 <-> bpe id used[k]
        lut = torch.ones(int(used.max()) + 1 if len(used) else 1, dtype=torch.long)
        lut[0] = 0
        lut[self.bpe_ids] = torch.arange(2, len(used) + 2)
        self._lut = lut

    def __len__(self):
        return len(self.bpe_ids) + 2

    def _raw(self, texts) -> torch.Tensor:
        texts = [str(t) for t in texts]
        n = self.context_length
        rows = _ROWS.setdefault(n, {})
        # distinct texts in order of first use, by hashing: numpy's unique sorts Python strings, several times slower
        index: dict = {}
        inverse = np.fromiter((index.setdefault(t, len(index)) for t in texts), np.int64, len(texts))
        uniq = list(index)
        missing = [t for t in uniq if t not in rows]
        if len(missing) >= DISK_MIN:

            def tokenise(texts: list[str]) -> np.ndarray:  # the memo's rows, and the missing texts tokenised
                new = dict(zip(missing, self._tok(missing).numpy()))
                return np.stack([rows[t] if t in rows else new[t] for t in texts])

            rows.update(zip(uniq, _stored_rows(tokenise, uniq, n)))
        elif missing:
            rows.update(zip(missing, self._tok(missing).numpy()))
        if not uniq:
            return torch.zeros((0, n), dtype=torch.long)
        return torch.from_numpy(np.stack([rows[t] for t in uniq])[inverse])

    def encode(self, texts) -> torch.Tensor:
        """(n, context_length) compact token ids; unseen tokens map to 1."""
        raw = self._raw(texts)
        inside = raw < len(self._lut)
        out = torch.ones_like(raw)
        out[inside] = self._lut[raw[inside]]
        out[raw == 0] = 0
        return out


def _stored_rows(tokenizer, texts: list[str], context_length: int) -> np.ndarray:
    """``tokenizer(texts)`` (rows of BPE ids), read from the token cache when an earlier process wrote it,
    else written there."""
    from importlib.metadata import version

    from studylib.fileio import atomic_write_npy, cache_dir

    digest = hashlib.sha256()
    digest.update(f"open_clip {version('open_clip_torch')} context {context_length}\x1e".encode())
    digest.update("\x1f".join(texts).encode("utf-8", "surrogatepass"))
    path = cache_dir("tokens") / f"bpe-{digest.hexdigest()[:20]}.npy"
    if path.is_file():
        try:
            rows = np.load(path)
            if rows.shape == (len(texts), context_length):
                return rows.astype(np.int64)
        except (OSError, ValueError):
            pass  # unreadable (a disk error): tokenise again and rewrite it
    rows = np.asarray(tokenizer(texts))
    atomic_write_npy(path, rows.astype(np.int32))  # BPE ids < 49,408
    return rows
