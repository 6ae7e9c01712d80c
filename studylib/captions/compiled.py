"""The compiled caption pass: one loop from caption bytes to (caption, concept) keys.

Why: the numpy matcher (:mod:`studylib.captions.matching`, :mod:`studylib.captions.fastscan`) runs
in stages that each write whole arrays the next one reads back (normalise, split words, look them up,
walk the trie). This module does all of it in one pass per caption, in compiled code: map each byte
through the normalisation table (lower case, separators, deleted apostrophes, joining hyphens), pack
each word's bytes into a key while reading it (long words are hashed at their end), look it up in the
vocabulary, walk the word trie from each vocabulary word, apply the negative contexts and deduplicate
the caption's concepts with a stamp per concept. Measured here (``bench/freq_process.py``,
``bench/freq_methods.py``), it is faster than the numpy path only by a modest factor once started, and
loading it costs most of a second: ``engine("auto")`` uses it for large inputs only.

Why numba: it installs from a wheel on Linux, macOS and Windows (no compiler on the user's
machine), caches what it compiles on disk (``cache=True``: a process after the first loads the
machine code instead of compiling it) and releases the GIL. The published matchers that do ship
compiled kernels (pyahocorasick, hyperscan, ahocorasick_rs, flashtext) match substrings, not the
study's word rules (whole words, inflections, negatives within a window), and a Python object per
match already costs a quarter of the budget (issue 30).

Exactness: the pass applies the rules of :func:`studylib.captions.patterns.tokenize` byte by byte
to text that the callers have lower-cased (Arrow, where non-ASCII letters need it) and whose
multi-byte separators and apostrophes they have rewritten in place to ``" "`` and ``"'"``
(:func:`studylib.captions.fastscan.rewrite_specials`), exactly as the numpy path does before it
splits words. ``tests/test_compiled.py`` compares the two on the world's captions and on crafted
edge cases. The numpy path stays as the fallback (numba missing, or ``STUDYLIB_COMPILED=0``) and as
the reference.

Usage::

    from studylib.captions import compiled
    from studylib.captions.patterns import build_patterns
    pat = build_patterns("imagenet")
    with compiled.engine("compiled"):
        data = b"two tench\\na crane on a construction site\\n"
        bounds, empty = compiled.line_bounds(data)
        keys = compiled.match(data, bounds, pat, None)   # caption * n_concepts + concept, sorted
"""

from __future__ import annotations

import contextlib
import functools
import os

import numpy as np

_FNV_OFFSET = 0xCBF29CE484222325
_FNV_PRIME = 0x100000001B3
_MULT = 0x94D049BB133111EB  # the multiplier of studylib.captions.hashindex


def _table() -> np.ndarray:
    """Byte -> normalised byte: ASCII upper case to lower, letters, digits, newline, hyphen (a word byte
    only between two word bytes: the loop looks) and non-ASCII bytes kept, apostrophes (``'`` and `````) to 0 (deleted), every other ASCII byte to a space."""
    tab = np.arange(256, dtype=np.uint8)
    for b in range(128):
        c = chr(b)
        if "A" <= c <= "Z":
            tab[b] = b + 32
        elif c in "'`":
            tab[b] = 0
        elif not ("a" <= c <= "z" or "0" <= c <= "9" or c in "\n-"):
            tab[b] = 32
    return tab


TABLE = _table()


@functools.cache
def _numba():
    """The numba module, or None where it is not installed."""
    try:
        import numba
    except ImportError:
        return None
    return numba


# ``engine("auto")`` runs the compiled pass from this many input bytes on. Below it, loading the compiled
# code (about 0.3 s to import numba and 0.5 s to load its cached machine code, measured here) costs more
# than the pass saves over the numpy path: see bench/results/freq_process.txt.
MIN_BYTES = 256 << 20
KINDS = ("auto", "compiled", "numpy")
_ACTIVE = False


def enabled() -> bool:
    """Whether the compiled pass can run: numba is installed and ``STUDYLIB_COMPILED`` is not ``0``."""
    return os.environ.get("STUDYLIB_COMPILED", "1") != "0" and _numba() is not None


def active() -> bool:
    """Whether the matchers of this process run the compiled pass now (see :func:`engine`)."""
    return _ACTIVE


@contextlib.contextmanager
def engine(kind: str = "auto", total_bytes: int = 0):
    """Match with the compiled pass (``"compiled"``), the numpy path (``"numpy"``) or, with ``"auto"``,
    the compiled pass where it is enabled and the input holds at least :data:`MIN_BYTES`. Yields
    whether the compiled pass runs. Its code is loaded here, before any worker process forks."""
    global _ACTIVE
    if kind not in KINDS:
        raise ValueError(f"kernel must be one of {', '.join(KINDS)}, got {kind!r}")
    if kind == "compiled" and not enabled():
        raise ValueError(
            "kernel 'compiled' needs numba (pip install numba) and STUDYLIB_COMPILED unset or not 0"
        )
    use = kind == "compiled" or (kind == "auto" and total_bytes >= MIN_BYTES and enabled())
    if use:
        _kernels()
    old, _ACTIVE = _ACTIVE, use
    try:
        yield use
    finally:
        _ACTIVE = old


def word_key(word: bytes) -> int:
    """The 64-bit key of a word, as the compiled loop computes it while reading the word: its bytes
    packed little-endian when it has at most 8 (exact: a word's bytes are never 0), else their
    FNV-1a hash (verified against the bytes on a hit)."""
    if len(word) <= 8:
        return int.from_bytes(word, "little")
    h = _FNV_OFFSET
    for b in word:
        h = ((h ^ b) * _FNV_PRIME) & 0xFFFFFFFFFFFFFFFF
    return h or 1


class Tables:
    """The arrays of a :class:`~studylib.captions.patterns.Patterns` that the compiled loop reads:
    a vocabulary hash table keyed by :func:`word_key` and length, the word trie's
    first nodes, edges (the trie's own :class:`~studylib.captions.hashindex.HashIndex`) and outputs."""

    def __init__(self, pat):
        words = [w.encode("utf-8") for w in pat.vocab]
        self.max_word_bytes = max(len(w) for w in words)
        bits = max(8, int(np.ceil(np.log2(len(words) * 4))))
        size = 1 << bits
        self.vh_shift = np.uint64(64 - bits)
        self.vh_keys = np.zeros(size, np.uint64)
        self.vh_id = np.full(size, -1, np.int32)
        self.vh_len = np.zeros(size, np.int32)
        for i, w in enumerate(words):
            h = word_key(w)
            s = ((h * _MULT) & 0xFFFFFFFFFFFFFFFF) >> (64 - bits)
            while self.vh_keys[s]:
                s = (s + 1) & (size - 1)
            self.vh_keys[s] = h
            self.vh_id[s] = i
            self.vh_len[s] = len(w)
        self.vocab_bytes = np.frombuffer(b"".join(words) or b"\0", np.uint8).copy()
        self.vocab_off = np.concatenate([[0], np.cumsum([len(w) for w in words])]).astype(np.int64)
        self.first_node = pat.first_node.astype(np.int32)
        self.node_has_out = pat.node_has_out.astype(np.uint8)
        self.node_has_child = pat.node_has_child.astype(np.uint8)
        self.out_ptr = pat.out_ptr.astype(np.int64)
        self.out_concept = pat.out_concept.astype(np.int32)
        self.out_neg = pat.out_neg.astype(np.uint8)
        # the trie's edges (node > 0, next word) -> child in a table at load 1/2 (the matcher's own index is
        # spread for numpy's probing and would not stay in the cache here); words that never continue a
        # phrase are skipped before any probe
        edges, child = pat.edge_keys.astype(np.uint64), pat.edge_child.astype(np.int32)
        bits = max(8, int(np.ceil(np.log2(max(len(edges), 1) * 2))))
        self.e_shift = np.uint64(64 - bits)
        self.e_keys = np.zeros(1 << bits, np.uint64)
        self.e_child = np.full(1 << bits, -1, np.int32)
        for q, c in zip(edges.tolist(), child.tolist()):
            e = ((q * _MULT) & 0xFFFFFFFFFFFFFFFF) >> (64 - bits)
            while self.e_keys[e]:
                e = (e + 1) & ((1 << bits) - 1)
            self.e_keys[e], self.e_child[e] = q, c
        self.continues = np.zeros(max(int(pat.V), 1), np.uint8)
        self.continues[(edges % np.uint64(pat.V)).astype(np.int64)] = 1
        self.V, self.C = int(pat.V), int(pat.n_concepts)


def tables(pat) -> Tables:
    """The compiled tables of ``pat``, built once and kept on it."""
    t = getattr(pat, "_compiled_tables", None)
    if t is None:
        t = Tables(pat)
        pat._compiled_tables = t
    return t


def line_bounds(data) -> tuple[np.ndarray, int]:
    """(start of every line and the end of the last, number of lines that are ``""`` or ``"\\r"``) of
    bytes holding complete lines (each ending with ``\\n``)."""
    return _kernels()[0](np.frombuffer(data, np.uint8))


def match(data, bounds: np.ndarray, pat, negative_window: int | None) -> np.ndarray:
    """Sorted unique keys ``caption * n_concepts + concept`` of the captions ``data[bounds[i] :
    bounds[i + 1]]`` (each range may start or end with separator bytes). ``data``: lower-cased
    UTF-8 whose multi-byte separators and apostrophes are rewritten to ``" "`` and ``"'"``."""
    t = tables(pat)
    window = -1 if negative_window is None else int(negative_window)
    return _kernels()[1](
        np.frombuffer(data, np.uint8),
        np.asarray(bounds, np.int64),
        TABLE,
        t.vh_keys,
        t.vh_id,
        t.vh_len,
        t.vh_shift,
        t.vocab_bytes,
        t.vocab_off,
        t.max_word_bytes,
        t.first_node,
        t.node_has_out,
        t.node_has_child,
        t.out_ptr,
        t.out_concept,
        t.out_neg,
        t.e_keys,
        t.e_shift,
        t.e_child,
        t.continues,
        t.V,
        t.C,
        window,
    )


@functools.cache
def _kernels():
    """Compile (or load from numba's on-disk cache) the two loops, on first use only: importing
    this module never imports numba."""
    numba = _numba()
    if numba is None:
        raise RuntimeError("the compiled caption pass needs numba (pip install numba)")
    jit = numba.njit(cache=True, nogil=True, boundscheck=False)
    global _grow  # the match loop calls it: compiled first
    _grow = jit(_grow_py)
    return jit(_line_bounds_py), jit(_match_py)


def _line_bounds_py(buf):
    n = buf.size
    lines = 0
    for i in range(n):
        if buf[i] == 10:
            lines += 1
    out = np.empty(lines + 1, np.int64)
    out[0] = 0
    k = 1
    empty = 0
    start = 0
    for i in range(n):
        if buf[i] == 10:
            length = i - start
            if length == 0 or (length == 1 and buf[start] == 13):
                empty += 1
            out[k] = i + 1
            k += 1
            start = i + 1
    return out, empty


def _grow_py(a, n):
    b = np.empty(max(2 * a.size, n), a.dtype)
    b[: a.size] = a
    return b


_grow = _grow_py


def _match_py(
    buf,
    bounds,
    table,
    vh_keys,
    vh_id,
    vh_len,
    vh_shift,
    vocab_bytes,
    vocab_off,
    max_wb,
    first_node,
    node_has_out,
    node_has_child,
    out_ptr,
    out_concept,
    out_neg,
    e_keys,
    e_shift,
    e_child,
    continues,
    n_vocab,
    n_concepts,
    window,
):
    fnv_offset = np.uint64(0xCBF29CE484222325)
    fnv_prime = np.uint64(0x100000001B3)
    mult = np.uint64(0x94D049BB133111EB)
    vmask = vh_keys.size - 1
    emask = e_keys.size - 1
    vocab_n = np.uint64(n_vocab)
    keys = np.empty(4096, np.int64)
    nk = 0
    ids = np.empty(256, np.int32)
    mc = np.empty(64, np.int32)
    ms = np.empty(64, np.int32)
    ml = np.empty(64, np.int32)
    mneg = np.empty(64, np.uint8)
    found = np.empty(64, np.int64)
    stamp = np.full(n_concepts, -1, np.int64)
    wb = np.empty(max_wb + 1, np.uint8)
    n_caps = bounds.size - 1
    for k in range(n_caps):
        # words of caption k -> vocabulary ids (-1: not in the vocabulary)
        nw = 0
        wlen = 0
        packed = np.uint64(0)
        last = np.uint8(32)
        lo = bounds[k]
        hi = bounds[k + 1]
        for i in range(lo, hi + 1):
            t = table[buf[i]] if i < hi else np.uint8(32)
            if t == 0:
                continue  # a deleted apostrophe joins the word's parts
            if t == 45:  # a hyphen joins two word bytes ("umbrella-like" is one word), else separates
                j = i + 1
                while j < hi and table[buf[j]] == 0:
                    j += 1
                nt = table[buf[j]] if j < hi else np.uint8(32)
                if not (last > 32 and last != 45 and nt > 32 and nt != 45):
                    t = np.uint8(32)
            last = t
            if t > 32:
                if wlen < 8:
                    packed |= np.uint64(t) << np.uint64(8 * wlen)
                if wlen < max_wb:
                    wb[wlen] = t
                wlen += 1
                continue
            if wlen == 0:
                continue
            wid = -1
            if wlen <= max_wb:
                long_word = wlen > 8
                hh = packed
                if long_word:  # hashed here, not byte by byte: most words have at most 8 bytes
                    h = fnv_offset
                    for j in range(wlen):
                        h = (h ^ np.uint64(wb[j])) * fnv_prime
                    hh = h if h != 0 else np.uint64(1)
                s = np.int64((hh * mult) >> vh_shift)
                while vh_keys[s] != 0:
                    if vh_keys[s] == hh and vh_len[s] == wlen:
                        cand = vh_id[s]
                        if not long_word:
                            wid = cand
                            break
                        o = vocab_off[cand]
                        same = True
                        for j in range(wlen):
                            if vocab_bytes[o + j] != wb[j]:
                                same = False
                                break
                        if same:
                            wid = cand
                            break
                    s = (s + 1) & vmask
            if nw == ids.size:
                ids = _grow(ids, nw + 1)
            ids[nw] = wid
            nw += 1
            wlen = 0
            packed = np.uint64(0)
        # trie walks from every vocabulary word -> mentions (concept, first word, words, negative)
        nm = 0
        anyneg = False
        for i in range(nw):
            w = ids[i]
            if w < 0:
                continue
            node = first_node[w]
            if node <= 0:
                continue
            d = 1
            while True:
                if node_has_out[node]:
                    for o in range(out_ptr[node], out_ptr[node + 1]):
                        if nm == mc.size:
                            mc = _grow(mc, nm + 1)
                            ms = _grow(ms, nm + 1)
                            ml = _grow(ml, nm + 1)
                            mneg = _grow(mneg, nm + 1)
                        mc[nm] = out_concept[o]
                        ms[nm] = i
                        ml[nm] = d
                        mneg[nm] = out_neg[o]
                        anyneg = anyneg or out_neg[o] != 0
                        nm += 1
                if node_has_child[node] == 0 or i + d >= nw:
                    break
                nxt = ids[i + d]
                if nxt < 0 or continues[nxt] == 0:
                    break
                q = np.uint64(node) * vocab_n + np.uint64(nxt)
                s = np.int64((q * mult) >> e_shift)
                child = -1
                while e_keys[s] != 0:
                    if e_keys[s] == q:
                        child = e_child[s]
                        break
                    s = (s + 1) & emask
                if child < 0:
                    break
                node = child
                d += 1
        # negatives, then each concept once per caption, in ascending order
        nf = 0
        for j in range(nm):
            if mneg[j]:
                continue
            c = mc[j]
            if stamp[c] == k:
                continue
            if anyneg:
                blocked = False
                for q2 in range(nm):
                    if mneg[q2] and mc[q2] == c:
                        if window < 0 or (
                            ms[q2] < ms[j] + ml[j] + window and ms[j] < ms[q2] + ml[q2] + window
                        ):
                            blocked = True
                            break
                if blocked:
                    continue
            stamp[c] = k
            if nf == found.size:
                found = _grow(found, nf + 1)
            found[nf] = c
            nf += 1
        if nf:
            for a in range(1, nf):  # insertion sort: a caption names few concepts
                v = found[a]
                b = a - 1
                while b >= 0 and found[b] > v:
                    found[b + 1] = found[b]
                    b -= 1
                found[b + 1] = v
            if nk + nf > keys.size:
                keys = _grow(keys, nk + nf)
            base = np.int64(k) * n_concepts
            for j in range(nf):
                keys[nk] = base + found[j]
                nk += 1
    return keys[:nk].copy()
