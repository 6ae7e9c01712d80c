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

import numpy as np
import torch

# (context_length, text) -> its row of open_clip BPE ids. Tokenising is a pure function of the text, and a
# chapter's CLIP runs see the same captions again and again (a world's vocabulary, then its encoding; mixtures
# and subsets of worlds already seen): each distinct text is tokenised once per process.
_ROWS: dict = {}


@functools.cache
def _tokenizer(context_length: int):
    from studylib.models.openclip_parts import part  # open_clip's tokenizer, without the package

    return part("tokenizer").SimpleTokenizer(context_length=context_length)


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
        uniq, inverse = np.unique(np.asarray([str(t) for t in texts], dtype=object), return_inverse=True)
        n = self.context_length
        missing = [t for t in uniq if (n, t) not in _ROWS]
        if missing:
            for t, row in zip(missing, self._tok(missing)):
                _ROWS[(n, t)] = row
        if not len(uniq):
            return torch.zeros((0, n), dtype=torch.long)
        table = torch.stack([_ROWS[(n, t)] for t in uniq])
        return table[torch.from_numpy(inverse.reshape(-1))]

    def encode(self, texts) -> torch.Tensor:
        """(n, context_length) compact token ids; unseen tokens map to 1."""
        raw = self._raw(texts)
        inside = raw < len(self._lut)
        out = torch.ones_like(raw)
        out[inside] = self._lut[raw[inside]]
        out[raw == 0] = 0
        return out
