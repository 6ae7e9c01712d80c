"""The loops of the compiled caption pass, as plain Python that numba compiles on first use.

Why a module of their own: :mod:`studylib.captions.compiled` holds the API and the tables; this module
holds only the functions numba compiles (:func:`compile_all`), so that importing the caption code never
imports numba (0.3 s). The functions call each other through this module's globals, which
:func:`compile_all` replaces by their compiled versions before it compiles the callers. A block runs in
three passes (:func:`words`, :func:`mentions`, :func:`emit`), each once per block of about 1 MiB: one
loop per caption in a single function ran about 15% faster while the arrays still grew inside the loops,
and about 5% faster since (measured), but was 180 lines long. Arrays
are sized before the loops that fill them (a word id per two bytes at most; room for a caption's mentions
before each caption), never grown inside them: that made the whole pass 1.5x faster (measured on the
4M-caption file of ``bench/freq_process.py``, 94-98 against 144-150 MB/s per core).

Long because the pass is three loops and their inlined helpers (lookup, negatives, the common-word rules,
sorted insertion), which numba compiles together.

Usage::

    from studylib.captions import compiled   # not this module: compiled.match(...) calls it
"""

from __future__ import annotations

import numpy as np

FNV_OFFSET = np.uint64(0xCBF29CE484222325)
FNV_PRIME = np.uint64(0x100000001B3)
MULT = np.uint64(0x94D049BB133111EB)  # the multiplier of studylib.captions.hashindex


def compile_all(numba):
    """(line_bounds, match) compiled with ``numba`` (cached on disk), the helpers first."""
    jit = numba.njit(cache=True, nogil=True, boundscheck=False)
    inline = numba.njit(cache=True, nogil=True, boundscheck=False, inline="always")  # as fast as one body
    g = globals()
    g["grow"] = jit(grow)
    for name in ("lookup", "negated", "within_name", "described", "insert"):
        g[name] = inline(g[name])
    for name in ("words", "mentions", "emit"):
        g[name] = jit(g[name])
    return jit(line_bounds), jit(match)


def line_bounds(buf):
    """(start of every line and the end of the last, lines that are empty or ``\\r``) of ``buf``."""
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


def grow(a, n):
    """``a`` copied into an array of at least ``n`` (twice its size)."""
    b = np.empty(max(2 * a.size, n), a.dtype)
    b[: a.size] = a
    return b


def lookup(wb, wlen, packed, vocab):
    """The vocabulary id of the word of ``wlen`` bytes in ``wb`` (its first 8 ``packed``), or -1."""
    vh_keys, vh_id, vh_len, vh_shift, vocab_bytes, vocab_off, _ = vocab
    hh = packed
    if wlen > 8:  # hashed here, not byte by byte: most words have at most 8 bytes
        h = FNV_OFFSET
        for j in range(wlen):
            h = (h ^ np.uint64(wb[j])) * FNV_PRIME
        hh = h if h != 0 else np.uint64(1)
    vmask = vh_keys.size - 1
    s = np.int64((hh * MULT) >> vh_shift)
    while vh_keys[s] != 0:
        if vh_keys[s] == hh and vh_len[s] == wlen:
            cand = vh_id[s]
            if wlen <= 8:
                return cand
            o = vocab_off[cand]
            same = True
            for j in range(wlen):
                if vocab_bytes[o + j] != wb[j]:
                    same = False
                    break
            if same:
                return cand
        s = (s + 1) & vmask
    return -1


def words(buf, bounds, table, vocab):
    """(ids, first): the vocabulary id (-1: none) of every word of the captions ``buf[bounds[k] :
    bounds[k + 1]]``, in order, and the index of each caption's first word in ``ids`` (one more entry:
    the end). ``table`` normalises (0: deleted; a hyphen joins two word bytes, else separates);
    ``vocab``: (vh_keys, vh_id, vh_len, vh_shift, vocab_bytes, vocab_off, max word bytes)."""
    vh_keys, vh_id, vh_len, vh_shift, vocab_bytes, vocab_off, max_wb = vocab
    wb = np.empty(max_wb + 1, np.uint8)
    # never grown: a caption of L bytes holds at most ceil(L / 2) words (each a byte and a separator after)
    ids = np.empty((bounds[-1] - bounds[0] + bounds.size) // 2 + 1, np.int32)
    first = np.empty(bounds.size, np.int64)
    nw = 0
    for k in range(bounds.size - 1):
        first[k] = nw
        hi = bounds[k + 1]
        wlen = 0
        packed = np.uint64(0)
        last = np.uint8(32)
        for i in range(bounds[k], hi):
            t = table[buf[i]]
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
            ids[nw] = lookup(wb, wlen, packed, vocab) if wlen <= max_wb else -1
            nw += 1
            wlen = 0
            packed = np.uint64(0)
        if wlen > 0:  # the caption's end ends its last word (the loop above stops before it: faster)
            ids[nw] = lookup(wb, wlen, packed, vocab) if wlen <= max_wb else -1
            nw += 1
    first[bounds.size - 1] = nw
    return ids, first


def mentions(ids, first, trie):
    """Walk the word trie from every vocabulary word of every caption (words ``ids[first[k] :
    first[k + 1]]``; a phrase never crosses captions): the mentions (concept, first word, words,
    kind: 0 name, 1 negative, 2 common), in caption order, and the index of each caption's first mention
    (one more: the end). ``trie``: (first_node, node_has_out, node_has_child, out_ptr, out_concept,
    out_kind, e_keys, e_shift, e_child, continues, n_vocab, the most outputs of one walk)."""
    (
        first_node,
        has_out,
        has_child,
        out_ptr,
        out_concept,
        out_kind,
        e_keys,
        e_shift,
        e_child,
        cont,
        nv,
        walk,
    ) = trie
    emask = e_keys.size - 1
    mc, ms, ml, mkind = (
        np.empty(256, np.int32),
        np.empty(256, np.int64),
        np.empty(256, np.int32),
        np.empty(256, np.uint8),
    )
    mfirst = np.empty(first.size, np.int64)
    nm = 0
    for k in range(first.size - 1):
        mfirst[k] = nm
        end = first[k + 1]
        need = nm + (end - first[k]) * walk  # the most mentions this caption can have
        if need > mc.size:  # grown here, never in the loops below: 1.3x faster (measured)
            mc, ms, ml, mkind = grow(mc, need), grow(ms, need), grow(ml, need), grow(mkind, need)
        for i in range(first[k], end):
            w = ids[i]
            node = first_node[w] if w >= 0 else -1
            d = 1
            while node > 0:
                if has_out[node]:
                    for o in range(out_ptr[node], out_ptr[node + 1]):
                        mc[nm], ms[nm], ml[nm], mkind[nm] = out_concept[o], i, d, out_kind[o]
                        nm += 1
                if has_child[node] == 0 or i + d >= end or ids[i + d] < 0 or cont[ids[i + d]] == 0:
                    break
                q = np.uint64(node) * np.uint64(nv) + np.uint64(ids[i + d])
                s = np.int64((q * MULT) >> e_shift)
                node = -1
                while e_keys[s] != 0:
                    if e_keys[s] == q:
                        node = e_child[s]
                        break
                    s = (s + 1) & emask
                d += 1
    mfirst[first.size - 1] = nm
    return (mc, ms, ml, mkind), mfirst


def negated(j, lo, hi, m, window):
    """Whether mention ``j`` of the caption's mentions ``lo:hi`` has a negative of its concept within
    ``window`` words (anywhere in the caption when ``window`` < 0)."""
    mc, ms, ml, mkind = m
    for q in range(lo, hi):
        if mkind[q] == 1 and mc[q] == mc[j]:
            if window < 0 or (ms[q] < ms[j] + ml[j] + window and ms[j] < ms[q] + ml[q] + window):
                return True
    return False


def within_name(j, lo, hi, m, ok):
    """Whether mention ``j`` lies within the words of a name mention (``ok``: not negated) of another
    concept among the caption's mentions ``lo:hi``."""
    mc, ms, ml, mkind = m
    for q in range(lo, hi):
        if ok[q] and mkind[q] == 0 and mc[q] != mc[j] and ms[q] <= ms[j] and ms[j] + ml[j] <= ms[q] + ml[q]:
            return True
    return False


def described(c, keys, lo, hi, base, common):
    """Whether a concept named in the caption (keys ``keys[lo:hi]``, less ``base``) may be what a common
    synonym of concept ``c`` describes: ``common`` = (describes_any, common_block, n_concepts)."""
    describes_any, block, n_concepts = common
    for b in range(lo, hi):
        d = keys[b] - base
        if describes_any[d]:
            return True
        want = d * n_concepts + c
        at = np.searchsorted(block, want)
        if at < block.size and block[at] == want:
            return True
    return False


def insert(keys, start, nk, key):
    """Insert ``key`` into the sorted ``keys[start:nk]`` (a caption names few concepts); return the new end."""
    b = nk - 1
    while b >= start and keys[b] > key:
        keys[b + 1] = keys[b]
        b -= 1
    keys[b + 1] = key
    return nk + 1


def emit(m, mfirst, window, common):
    """Sorted unique keys ``caption * n_concepts + concept``: per caption, the concepts of its name mentions
    with no negative mention of the same concept within ``window`` words (anywhere in the caption when
    ``window`` < 0), each once, then those of its common mentions that no negative blocks, that lie within
    no name mention of another concept and that no named concept may describe (``common``:
    (describes_any, common_block, n_concepts); :mod:`studylib.captions.matching`'s rules)."""
    mc, ms, ml, mkind = m
    n_concepts = common[2]
    keys = np.empty(max(16, mfirst[-1]), np.int64)
    stamp = np.full(n_concepts, -1, np.int64)
    ok = np.zeros(max(1, mfirst[-1]), np.uint8)  # per mention: a name or common mention no negative blocks
    nk = 0
    for k in range(mfirst.size - 1):
        lo, hi = mfirst[k], mfirst[k + 1]
        base = np.int64(k) * n_concepts
        anyneg = False
        for j in range(lo, hi):
            anyneg = anyneg or mkind[j] == 1
        start = nk
        anycommon = False
        for j in range(lo, hi):  # the name mentions first: they decide what the common ones may describe
            ok[j] = mkind[j] != 1 and not (anyneg and negated(j, lo, hi, m, window))
            if ok[j] == 0 or mkind[j] != 0:
                anycommon = anycommon or (ok[j] != 0 and mkind[j] == 2)
                continue
            c = mc[j]
            if stamp[c] != k:
                stamp[c] = k
                nk = insert(keys, start, nk, base + c)
        if anycommon:
            names = nk
            for j in range(lo, hi):
                c = mc[j]
                if ok[j] == 0 or mkind[j] != 2 or stamp[c] == k:  # named already, or counted
                    continue
                if within_name(j, lo, hi, m, ok) or described(c, keys, start, names, base, common):
                    continue
                stamp[c] = k
                keys[nk] = base + c  # after the names, which described() reads: sorted in below
                nk += 1
            for b in range(names, nk):
                insert(keys, start, b, keys[b])
    return keys[:nk].copy()


def match(buf, bounds, table, vocab, trie, common, window):
    """Sorted unique keys ``caption * n_concepts + concept`` of the captions ``buf[bounds[i] :
    bounds[i + 1]]``: :func:`words`, then :func:`mentions`, then :func:`emit`, each once per block
    (``common``: (describes_any, common_block, n_concepts))."""
    ids, first = words(buf, bounds, table, vocab)
    m, mfirst = mentions(ids, first, trie)
    return emit(m, mfirst, window, common)
