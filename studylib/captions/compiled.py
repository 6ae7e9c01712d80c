"""The compiled caption pass: one loop from caption bytes to (caption, concept) keys.

Why: the numpy matcher (:mod:`studylib.captions.matching`, :mod:`studylib.captions.fastscan`) runs
in stages that each write whole arrays the next one reads back (normalise, split words, look them up,
walk the trie). This module does all of it in one pass per caption, in compiled code: map each byte
through the normalisation table (lower case, separators, deleted apostrophes, joining hyphens), pack
each word's bytes into a key while reading it (long words are hashed at their end), look it up in the
vocabulary, walk the word trie from each vocabulary word, apply the negative contexts and deduplicate
the caption's concepts with a stamp per concept. Measured here (``bench/freq_process.py``,
``bench/freq_methods.py``), it is 1.4-2x faster than the numpy path once started, but importing numba
and loading its machine code cost 0.5-0.8 s more than the numpy path's start-up: ``engine("auto")``
uses it for large inputs only.

Why numba: it installs from a wheel on Linux, macOS and Windows (no compiler on the user's
machine), caches what it compiles on disk (``cache=True``: a process after the first loads the
machine code instead of compiling it) and releases the GIL. The published matchers that do ship
compiled kernels (pyahocorasick, hyperscan, ahocorasick_rs, flashtext) match substrings, not the
study's word rules (whole words, inflections, negatives within a window), and a Python object per
match already costs a quarter of the budget (issue 30).

Exactness: the pass applies the rules of :func:`studylib.captions.patterns.tokenize` byte by byte
to text that the callers have lower-cased (Arrow, where non-ASCII letters need it) and whose
multi-byte separators and apostrophes they have rewritten in place to ``" "`` and ``"'"``
(:func:`studylib.captions.specials.rewrite_specials`), exactly as the numpy path does before it
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

_FNV_OFFSET = 0xCBF29CE484222325  # studylib.captions.kernels computes the same keys
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
# code (numba's import and its cached machine code: 0.51-0.82 s more start-up than the numpy path, best of 3
# rounds here) may cost more than the pass saves (0.14-0.31 µs per caption: 2.9-3.5M against 1.5-2.1M
# captions/s once started, over four runs), a break-even near 1.8-3.8M captions or 120-250 MB:
# bench/results/freq_process.txt.
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
        self.out_kind = pat.out_kind.astype(np.uint8)
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
        # the common-synonym rule: which named concepts a common synonym may describe
        self.describes_any = pat.describes_any.astype(np.uint8)
        self.common_block = pat.common_block.astype(np.int64)
        # a walk visits at most max_words nodes: the most mentions one word can start (room kept per caption)
        self.max_walk_out = int(pat.max_words) * max(1, int(np.diff(self.out_ptr).max(initial=0)))

    def arguments(self) -> tuple[tuple, tuple, tuple]:
        """(vocab, trie, common): the tables as the loops of :mod:`studylib.captions.kernels` take them
        (:func:`~studylib.captions.kernels.words`, :func:`~studylib.captions.kernels.mentions`,
        :func:`~studylib.captions.kernels.emit`)."""
        vocab = (self.vh_keys, self.vh_id, self.vh_len, self.vh_shift, self.vocab_bytes, self.vocab_off)
        trie = (self.first_node, self.node_has_out, self.node_has_child, self.out_ptr, self.out_concept)
        trie += (self.out_kind, self.e_keys, self.e_shift, self.e_child, self.continues, self.V)
        return (
            vocab + (self.max_word_bytes,),
            trie + (self.max_walk_out,),
            (self.describes_any, self.common_block, self.C),
        )


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
    return _kernels()[0](_bytes_view(data))


def match(data, bounds: np.ndarray, pat, negative_window: int | None) -> np.ndarray:
    """Sorted unique keys ``caption * n_concepts + concept`` of the captions ``data[bounds[i] :
    bounds[i + 1]]`` (each range may start or end with separator bytes). ``data``: lower-cased
    UTF-8 whose multi-byte separators and apostrophes are rewritten to ``" "`` and ``"'"``."""
    window = -1 if negative_window is None else int(negative_window)
    return _run_match(_kernels()[1], _bytes_view(data), np.asarray(bounds, np.int64), tables(pat), window)


def _run_match(kernel, data: np.ndarray, bounds: np.ndarray, t: Tables, window: int) -> np.ndarray:
    vocab, trie, common = t.arguments()
    return kernel(data, bounds, TABLE, vocab, trie, common, window)


def _bytes_view(data) -> np.ndarray:
    """``data`` (bytes, bytearray or a uint8 array) as a read-only uint8 array: one argument type, so the
    loops have one machine-code version, the one :func:`_kernels` loads before any worker forks."""
    a = np.frombuffer(data, np.uint8)
    if a.flags.writeable:
        a = a.view()
        a.flags.writeable = False
    return a


@functools.cache
def _kernels():
    """Compile (or load from numba's on-disk cache) the loops of :mod:`studylib.captions.kernels`, on
    first use only (importing this module never imports numba), and run them once on a one-caption
    input: numba loads machine code at a function's first call, so processes forked after this (the
    workers of ``freq count``) inherit it instead of each loading it again (0.3 s each, measured)."""
    numba = _numba()
    if numba is None:
        raise RuntimeError("the compiled caption pass needs numba (pip install numba)")
    from studylib.captions import kernels
    from studylib.captions.patterns import ConceptSpec, Patterns

    with _no_blas_probe():
        bounds_kernel, match_kernel = kernels.compile_all(numba)
        data = _bytes_view(b"a tench\n")
        tiny = tables(Patterns([ConceptSpec("tench", ("tench",))]))
        _run_match(match_kernel, data, bounds_kernel(data)[0], tiny, -1)
    return bounds_kernel, match_kernel


@contextlib.contextmanager
def _no_blas_probe():
    """Numba's first compile or cache load imports ``scipy.linalg`` (0.17 s of a 0.4 s load, measured) only
    to learn whether its ``np.dot`` of two vectors may call BLAS; these loops never call it. Where
    ``scipy.linalg`` is not imported yet, it is hidden for that moment (numba then takes its own loop for
    that case, in this process) and importable again right after."""
    import sys

    if "scipy.linalg" in sys.modules:
        yield
        return
    sys.modules["scipy.linalg"] = None  # ``import scipy.linalg`` raises ImportError while this is set
    try:
        yield
    finally:
        if sys.modules.get("scipy.linalg", 0) is None:
            del sys.modules["scipy.linalg"]
