"""The fast path for text files (one caption a line): blocks of bytes -> matches.

Why: a whole-process scan of millions of one-line captions is dominated by
per-byte work. This module normalises a block of complete lines with
``bytes.translate`` (lower-casing ASCII, mapping separators to spaces and
deleting apostrophes at C speed), handles the few non-ASCII bytes with numpy
on their positions only, finds words and caption boundaries with numpy, looks
every word up in the vocabulary (:meth:`Patterns.lookup_words`) and hands
the vocabulary hits to :func:`studylib.captions.matching.match_words` (trie
walk, negatives, dedup), so its results are the matcher's by construction.

Exactness with :func:`studylib.captions.matching.match_batch`:

* ASCII blocks: ``bytes.translate`` applies the rules of
  :func:`studylib.captions.patterns.tokenize` byte by byte.
* Non-ASCII blocks are checked to be valid UTF-8 (invalid lines are decoded
  with U+FFFD and counted, as the readers do). Multi-byte separators and
  apostrophes are blanked or deleted by their byte patterns (those of
  ``matching._resolve_specials``). When any other non-ASCII character is
  present, the block is first lower-cased with Arrow's ``utf8_lower``, as the
  matcher does; otherwise lower-casing cannot change a non-ASCII byte (the only
  separators whose lower case is a letter, U+2126, U+212A and U+212B, count as
  "other").
* Words, boundaries and empty lines (``""`` or ``"\\r"``) are found on the
  normalised block; a phrase cannot span two captions since every newline is
  a caption boundary for :func:`match_words`.

Usage::

    from studylib.captions.fastscan import iter_text_matches
    from studylib.captions.patterns import build_patterns
    pat = build_patterns("imagenet")
    for out in iter_text_matches("caps.txt", 0, None, pat, None):
        out.keys // pat.n_concepts, out.keys % pat.n_concepts   # caption ids, concept ids
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from studylib.captions import compiled
from studylib.captions.matching import BatchMatches, match_words
from studylib.captions.patterns import Patterns
from studylib.captions.readers import split_long_line
from studylib.captions.specials import specials


def _translate_table() -> bytes:
    tab = bytearray(range(256))
    for b in range(128):
        c = chr(b)
        if "A" <= c <= "Z":
            tab[b] = b + 32
        elif not ("a" <= c <= "z" or "0" <= c <= "9" or c in "\n-"):
            tab[b] = 32  # every other ASCII byte separates words (a hyphen: unless it joins two, _hyphens)
    return bytes(tab)


_TABLE = _translate_table()  # bytes >= 0x80 stay: they are letters (or UTF-8 specials handled first)
_DELETE = b"'`"  # apostrophes are deleted ("dog's" -> "dogs")
_PAD = 24  # separator bytes after a block: 8-byte word windows stay in bounds
BLOCK_BYTES = 1 << 20  # bytes per block: the numpy arrays of one block stay in the CPU cache


# --- normalisation ---------------------------------------------------------------------------------------


def _utf8_valid(b: np.ndarray, pos: np.ndarray) -> bool:
    """Whether the non-ASCII bytes ``b`` at positions ``pos`` (all of them, ascending) form valid UTF-8."""
    if ((b >= 0xF5) | ((b & 0xFE) == 0xC0)).any():
        return False
    li = np.flatnonzero(b >= 0xC0)
    lead = b[li]
    n = 2 + (lead >= 0xE0).astype(np.int64) + (lead >= 0xF0)  # sequence lengths
    if int(n.sum()) != b.size:  # every continuation byte is claimed by a lead, none twice
        return False
    bp = np.concatenate([b, np.zeros(3, b.dtype)])
    pp = np.concatenate([pos, np.full(3, -9, pos.dtype)])
    for k in (1, 2, 3):
        sel = n > k
        if not sel.any():
            break
        i = li[sel]
        if not ((pp[i + k] == pos[i] + k) & ((bp[i + k] & 0xC0) == 0x80)).all():
            return False
    b1 = bp[li + 1]
    bad = (
        ((lead == 0xE0) & (b1 < 0xA0))
        | ((lead == 0xED) & (b1 > 0x9F))
        | ((lead == 0xF0) & (b1 < 0x90))
        | ((lead == 0xF4) & (b1 > 0x8F))
    )
    return not bad.any()


def _lower_utf8(data: bytes) -> bytes:
    """Arrow's ``utf8_lower`` of valid UTF-8 bytes (the matcher's lower-casing)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = pa.StringArray.from_buffers(1, pa.py_buffer(np.array([0, len(data)], np.int32)), pa.py_buffer(data))
    low = pc.utf8_lower(arr)
    off = np.frombuffer(low.buffers()[1], np.int32)[low.offset : low.offset + 2]
    return low.buffers()[2].to_pybytes()[off[0] : off[1]]


def _repair_utf8(data: bytes, probs: Counter) -> bytes:
    """Lines with invalid UTF-8 decoded with U+FFFD (each counted as ``bad_utf8``)."""
    lines = data.split(b"\n")
    for i, line in enumerate(lines):
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            probs["bad_utf8"] += 1
            lines[i] = line.decode("utf-8", "replace").encode("utf-8")
    return b"\n".join(lines)


def prepare(block: bytes, probs: Counter) -> tuple[bytes | bytearray, bytes]:
    """``block`` repaired (invalid UTF-8 lines decoded with U+FFFD), lower-cased where a non-ASCII
    letter needs it, and with its multi-byte separators and apostrophes rewritten in place to ``" "``
    and ``"'"`` (the same length: lines and their offsets unchanged); and ``block`` as repaired and
    lower-cased before that rewrite. ``block`` holds complete lines, each ending with ``\\n``."""
    if block.isascii():
        return block, block
    a = np.frombuffer(block, np.uint8)
    hi = np.flatnonzero(a >= 0x80)
    if not _utf8_valid(a[hi], hi):
        block = _repair_utf8(block, probs)
        a = np.frombuffer(block, np.uint8)
        hi = np.flatnonzero(a >= 0x80)
    if not specials(a, hi[a[hi] >= 0xC0], probe=True):  # the block ends with \n: lead + 2 is in it
        block = _lower_utf8(block)
        a = np.frombuffer(block, np.uint8)
        hi = np.flatnonzero(a >= 0x80)
    buf = bytearray(block)
    specials(np.frombuffer(buf, np.uint8), hi[a[hi] >= 0xC0], probe=False)
    return buf, block


def normalise(block: bytes, probs: Counter) -> tuple[bytes, bytes]:
    """``b"\\n" + block`` normalised (lower case, separators as spaces, apostrophes deleted, then
    :data:`_PAD` spaces) and ``block`` as repaired and lower-cased before that (the same lines).
    ``block`` holds complete lines, each ending with ``\\n``."""
    data, base = prepare(block, probs)
    text = (b"\n" + bytes(data) + b" " * _PAD).translate(_TABLE, _DELETE)
    if b"-" in text:
        buf = bytearray(text)
        hyphens(np.frombuffer(buf, np.uint8))
        text = bytes(buf)
    return text, base


def hyphens(buf: np.ndarray) -> None:
    """Blank, in place, every ``-`` of normalised text that does not join two word bytes (bytes above 32
    other than ``-``; ``buf`` starts and ends with a separator)."""
    h = np.flatnonzero(buf == 45)
    if h.size:
        prev, nxt = buf[h - 1], buf[h + 1]
        join = (prev > 32) & (prev != 45) & (nxt > 32) & (nxt != 45)
        buf[h[~join]] = 32


# --- matching ------------------------------------------------------------------------------------------


def match_block(block: bytes, pat: Patterns, negative_window: int | None) -> BatchMatches:
    """Matches of a block of complete lines (each ending with ``\\n``): the keys of
    :func:`studylib.captions.matching.match_batch` on the same lines. Runs the compiled pass
    (:mod:`studylib.captions.compiled`) where :func:`~studylib.captions.compiled.engine` turned it on, else the numpy path below."""
    probs = Counter()
    if compiled.active():
        data, _ = prepare(block, probs)
        bounds, empty = compiled.line_bounds(data)
        probs["empty"] += empty
        return BatchMatches(compiled.match(data, bounds, pat, negative_window), bounds.size - 1, probs)
    text, base = normalise(block, probs)
    buf = np.frombuffer(text, np.uint8)
    n = len(text) - _PAD
    bounds = _newlines(buf, n)
    n_caps = bounds.size - 1
    short = np.flatnonzero(np.diff(bounds) <= 2)  # lines of at most 1 byte: maybe "" or "\r"
    if short.size:
        probs["empty"] += _count_empty(base, bounds if n - 1 == len(base) else None, short)
    w = buf > 32
    edges = np.flatnonzero(w[1:] != w[:-1])
    edges += 1
    starts = edges[0::2]
    if not starts.size:
        return BatchMatches(np.zeros(0, np.int64), n_caps, probs)
    lens = edges[1::2] - starts
    u64 = np.ndarray((len(buf) - 7,), dtype="<u8", buffer=buf, strides=(1,))
    pos, wid = pat.lookup_words(u64, starts, lens)
    keys = match_words(starts, pos, wid, bounds, pat, negative_window) if pos.size else np.zeros(0, np.int64)
    return BatchMatches(keys, n_caps, probs)


def _newlines(buf: np.ndarray, n: int) -> np.ndarray:
    """Offsets of the ``\\n`` bytes in ``buf[:n]`` (sparse: scan 8-byte groups, then their bytes)."""
    m = n - n % 8
    nl = buf[:m] == 10
    groups = np.flatnonzero(nl.view(np.uint64))
    row, col = np.nonzero(nl.reshape(-1, 8)[groups])
    out = groups[row] * 8 + col
    if m < n:
        out = np.concatenate([out, m + np.flatnonzero(buf[m:n] == 10)])
    return out


def _count_empty(base: bytes, bounds: np.ndarray | None, short: np.ndarray) -> int:
    """Lines that are ``""`` or ``"\\r"`` among the lines ``short`` of ``base``; ``bounds``: the
    newline offsets in ``b"\\n" + base`` (None: find them there, as bytes were deleted)."""
    raw = np.frombuffer(b"\n" + base, np.uint8)
    if bounds is None:
        bounds = np.flatnonzero(raw == 10)
        short = np.flatnonzero(np.diff(bounds) <= 2)
    lo = bounds[short]
    d = bounds[short + 1] - lo
    return int(np.count_nonzero((d == 1) | ((d == 2) & (raw[lo + 1] == 13))))


# --- reading ---------------------------------------------------------------------------------------------


def line_ranges(path: str, parts: int, min_bytes: int = 1 << 22) -> list[tuple[int, int]]:
    """Split a text file into up to ``parts`` byte ranges that start and end at line starts
    (each at least ``min_bytes`` long, except a short file's single range)."""
    import os

    size = os.path.getsize(path)
    parts = max(1, min(parts, size // max(min_bytes, 1)))
    cuts = [0]
    with open(path, "rb") as f:
        for k in range(1, parts):
            f.seek(max(size * k // parts - 1, cuts[-1]))
            pos = f.tell()
            while True:
                piece = f.read(1 << 16)
                if not piece:
                    pos = size
                    break
                j = piece.find(b"\n")
                if j >= 0:
                    pos += j + 1
                    break
                pos += len(piece)
            if pos > cuts[-1] and pos < size:
                cuts.append(pos)
    cuts.append(size)
    return list(zip(cuts[:-1], cuts[1:]))


def iter_text_matches(
    path: str,
    start: int,
    end: int | None,
    pat: Patterns,
    negative_window: int | None,
    block_bytes: int = BLOCK_BYTES,
):
    """:class:`BatchMatches` of the lines of ``path`` in bytes ``[start, end)`` (``end=None``: to the
    end of the file), block by block; ``start`` and ``end`` must be line starts. Input problems
    (``empty``, ``bad_utf8``, ``long_line_piece``) are in each batch's ``problems``. At most about two blocks
    of the file are held at once, whatever its line lengths (:func:`split_long_line`)."""
    with open(path, "rb") as f:
        f.seek(start)
        left = None if end is None else end - start
        rest = b""
        while True:
            want = block_bytes if left is None else min(block_bytes, left)
            data = f.read(want) if want > 0 else b""
            if left is not None:
                left -= len(data)
            if not data:
                if rest:
                    yield match_block(rest + b"\n", pat, negative_window)
                return
            data = rest + data if rest else data
            cut = data.rfind(b"\n") + 1
            if cut == 0:
                if len(data) < block_bytes:
                    rest = data
                    continue
                piece, rest = split_long_line(data)  # memory stays bounded whatever the line lengths
                out = match_block(piece + b"\n", pat, negative_window)
                out.problems["long_line_piece"] += 1
                yield out
                continue
            rest = data[cut:]
            yield match_block(data[:cut] if rest else data, pat, negative_window)
