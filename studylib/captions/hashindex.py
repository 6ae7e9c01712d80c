"""A vectorised hash index: look up millions of 64-bit keys at once with numpy.

Why: the matcher looks up every word of a caption batch in the vocabulary and
every (trie node, next word) pair in the word trie. ``np.searchsorted`` costs
a binary search per key; this open-addressing table costs one multiply, one
gather and one compare per key, plus a short probe for the few keys that land
on a slot taken by another key. The table is sized to stay in the CPU cache.

Usage::

    import numpy as np
    from studylib.captions.hashindex import HashIndex
    idx = HashIndex(np.array([7, 42], np.uint64))
    idx.get(np.array([42, 5, 7], np.uint64))        # [1, -1, 0]: positions in the key array
"""

from __future__ import annotations

import math

import numpy as np

_MULT = np.uint64(0x94D049BB133111EB)


class HashIndex:
    """Nonzero unique uint64 keys -> their positions (0..n-1), by linear probing.

    ``slot_value[s]`` is the position of the key in slot ``s`` (-1 for empty
    slots), so callers can keep per-slot arrays of their own.
    """

    def __init__(self, keys: np.ndarray, spread: int = 8):
        keys = np.asarray(keys, dtype=np.uint64)
        if keys.size and (keys == 0).any():
            raise ValueError("HashIndex keys must be nonzero")
        bits = max(8, int(math.ceil(math.log2(max(keys.size, 1) * spread))))
        self.shift = np.uint64(64 - bits)
        self.mask = (1 << bits) - 1
        table, value = [0] * (1 << bits), [-1] * (1 << bits)
        self.max_probe = 0
        for i, (k, s) in enumerate(zip(keys.tolist(), self._home(keys).tolist())):
            p = 0
            while table[(s + p) & self.mask]:
                if table[(s + p) & self.mask] == k:
                    raise ValueError("HashIndex keys must be unique")
                p += 1
            table[(s + p) & self.mask] = k
            value[(s + p) & self.mask] = i
            self.max_probe = max(self.max_probe, p)
        self.keys = np.array(table, dtype=np.uint64)
        self.slot_value = np.array(value, dtype=np.int32)

    def _home(self, q: np.ndarray) -> np.ndarray:
        with np.errstate(over="ignore"):
            return ((q * _MULT) >> self.shift).view(np.int64)

    def find(self, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(indices into ``q`` of the keys present, their slots); ascending except for probed keys,
        which come last."""
        slot = self._home(q)
        k = self.keys[slot]
        hit = k == q
        idx = np.flatnonzero(hit)
        found = slot[idx]
        if self.max_probe:
            pending = np.flatnonzero(k != 0)
            if pending.size > idx.size:  # keys that met another key: probe on
                pending = pending[~hit[pending]]
                idxs, slots = [idx], [found]
                for p in range(1, self.max_probe + 1):
                    s2 = (slot[pending] + p) & self.mask
                    k2 = self.keys[s2]
                    h2 = k2 == q[pending]
                    idxs.append(pending[h2])
                    slots.append(s2[h2])
                    pending = pending[(k2 != 0) & ~h2]
                    if not pending.size:
                        break
                idx, found = np.concatenate(idxs), np.concatenate(slots)
        return idx, found

    def get(self, q: np.ndarray) -> np.ndarray:
        """Position of each key of ``q`` in the key array, -1 where absent."""
        out = np.full(q.shape, -1, dtype=np.int32)
        idx, slot = self.find(q)
        out[idx] = self.slot_value[slot]
        return out
