"""A compact text vocabulary: open_clip BPE tokens remapped to the ids a corpus uses.

Why: the tiny text tower trains on a few thousand distinct tokens; the stock
49,408-row embedding table would cost more optimizer time per step than the
whole image CNN. Captions are tokenised with open_clip's tokenizer and every
token id the corpus uses gets a compact id (0 = pad, 1 = unknown).

    vocab = Vocabulary(captions + prompts, context_length=24)
    tokens = vocab.encode(["a photo of a tench."])      # (1, 24) int64
"""
from __future__ import annotations

import numpy as np
import torch


class Vocabulary:
    """open_clip BPE tokens remapped to the ids a corpus uses (0 = pad, 1 = unknown)."""

    def __init__(self, texts, context_length: int):
        from open_clip.tokenizer import SimpleTokenizer

        self.context_length = context_length
        self._tok = SimpleTokenizer(context_length=context_length)
        raw = self._raw(texts)
        used = np.unique(raw.numpy())
        used = used[used != 0]
        self.bpe_ids = torch.from_numpy(used)                 # compact id k+2 <-> bpe id used[k]
        lut = torch.ones(int(used.max()) + 1 if len(used) else 1, dtype=torch.long)
        lut[0] = 0
        lut[self.bpe_ids] = torch.arange(2, len(used) + 2)
        self._lut = lut

    def __len__(self):
        return len(self.bpe_ids) + 2

    def _raw(self, texts) -> torch.Tensor:
        texts = list(texts)
        uniq, inverse = np.unique(np.asarray(texts, dtype=object), return_inverse=True)
        return self._tok([str(t) for t in uniq])[torch.from_numpy(inverse.reshape(-1))]

    def encode(self, texts) -> torch.Tensor:
        """(n, context_length) compact token ids; unseen tokens map to 1."""
        raw = self._raw(texts)
        inside = raw < len(self._lut)
        out = torch.ones_like(raw)
        out[inside] = self._lut[raw[inside]]
        out[raw == 0] = 0
        return out
