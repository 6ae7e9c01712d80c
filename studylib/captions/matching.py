"""The vectorised matcher: which concepts each caption of a batch names.

Why: frequency estimation must scale to billions of captions, so matching
runs on whole batches with numpy instead of caption by caption. This module
is that one unit (plus :func:`match_reference`, its slow plain-Python
specification); :mod:`studylib.captions.counting` feeds it batches and sums.

Matching rules (the same in :func:`match_batch`, :func:`match_reference` and
the pyahocorasick loop of ``bench/freq_throughput.py``):

* Text is lower-cased; apostrophes (``' ` ´ ‘ ’``) are deleted ("dog's" ->
  "dogs"); an ASCII hyphen between two letters or digits joins them into one
  word ("umbrella-like" names no umbrella, "jack-o'-lantern" -> "jack-o-lantern",
  and synonyms match spaced, hyphenated or joined: "sea lion", "sea-lion";
  "man eater", "man-eater", "maneater"); every other character that
  is not a letter or digit separates words (ASCII punctuation, ``_``,
  U+0080-U+00BF, ``× ÷``, U+2000-U+2BFF, U+3000-U+303F, variation selectors,
  BOM, U+FFFD and everything above U+FFFF such as emoji). See
  :func:`studylib.captions.patterns.tokenize`. (The fast path lower-cases
  with Arrow, the reference with ``str.lower``; they agree except for a few
  special cases such as "İ".)
* A synonym matches a run of whole words, so "ram" never matches "program".
* Inflections are generated once, when the patterns are built: plurals of the
  last word (s/es/ies/oes, irregulars such as mouse -> mice) and possessives,
  which apostrophe deletion turns into "puppys", "mices".
* Negative phrases per concept ("crane" near "construction") discard a
  mention when they occur within ``negative_window`` words of it (anywhere in
  the caption when ``None``).
* A *common* synonym (``ConceptSpec.common``: an ordinary word such as "ears",
  "spot") names its concept unless its words lie within a name mention of
  another concept ("a mountain bike" names no alp) or the caption names, by a
  synonym that is not common, another concept it may describe: one whose
  ``ConceptSpec.attributes`` (an ImageNet class's description) use a common
  synonym of the concept, or one without attributes (``None``: any word may
  describe it). "a beagle with long ears" names no ear of corn (a beagle's
  description speaks of its ears); "a cheetah and a plate" names the plate;
  "ripe lemons" the lemon. Negatives apply to it as to any synonym.
* Multi-label: a caption names every concept it matches (the counting module
  can drop captions naming several, ``single_label=True``).

The fast path turns a batch of captions into one lower-cased byte buffer
(pyarrow ``utf8_lower``), finds word boundaries with numpy, looks every word
up in the vocabulary hash index of the :class:`Patterns`
(:meth:`Patterns.lookup_words`) and walks its word trie for multi-word
synonyms (:func:`match_words`), all vectorised over the batch; (caption,
concept) pairs are deduplicated with a sort. Text files take
:mod:`studylib.captions.fastscan` up to the word lookup, then the same
:func:`match_words`. ``bench/freq_throughput.py`` checks the matcher against
a pyahocorasick loop, ``bench/freq_process.py`` times ``freq count`` as a
whole process.

Usage::

    from studylib.captions.matching import match_batch, match_reference
    from studylib.captions.patterns import build_patterns
    pat = build_patterns("imagenet")
    out = match_batch(["a crane on a construction site", "two tench"], pat, None)
    out.keys // pat.n_concepts, out.keys % pat.n_concepts   # caption ids, concept ids
    match_reference("two tench", pat)                       # {0}

Long because the vectorised matcher (word ids, trie walk, negatives, dedupe) is one pass over a
buffer.
"""

from __future__ import annotations

import sys
from collections import Counter
from dataclasses import dataclass

import numpy as np

from studylib.captions import compiled
from studylib.captions.patterns import COMMON, NEGATIVE, Patterns, tokenize
from studylib.captions.readers import CaptionLines
from studylib.captions.specials import rewrite_specials


def _resolve_specials(buf: np.ndarray, n: int) -> np.ndarray:
    """Blank multi-byte separators in place (:func:`~studylib.captions.specials.rewrite_specials`, which
    also turns multi-byte apostrophes into ``'`` bytes); return the sorted byte positions to delete: every
    ``'`` and ``` ` ``` byte."""
    rewrite_specials(buf, n)
    view = buf[:n]
    return np.flatnonzero((view == 39) | (view == 96))


def _match_buffer(buf: np.ndarray, n: int, bounds: np.ndarray, pat: Patterns, negative_window: int | None):
    """Mentions in a prepared buffer.

    ``buf[:n]`` holds lower-cased UTF-8 text with a separator byte at every
    position of ``bounds`` (``bounds[i]`` precedes caption ``i``, the last one
    ends the text) and at least 16 zero bytes after ``n``. Returns unique
    (caption, concept) pairs as int64 keys ``caption * n_concepts + concept``.
    Runs the compiled pass (:mod:`studylib.captions.compiled`) where :func:`~studylib.captions.compiled.engine` turned it on.
    """
    if compiled.active():
        rewrite_specials(buf, n)
        return compiled.match(buf, bounds, pat, negative_window)
    dele = _resolve_specials(buf, n)
    if dele.size:  # compact: copy the runs between deletions
        parts = np.split(buf, dele)
        buf = np.concatenate([parts[0]] + [p[1:] for p in parts[1:]])
        bounds = bounds - np.searchsorted(dele, bounds)
        n -= dele.size
    v = buf[:n]
    w = v >= 0x80
    t = v - np.uint8(97)
    w |= t < 26
    np.subtract(v, np.uint8(48), out=t)
    w |= t < 10
    hy = np.flatnonzero(v == 45)
    hy = hy[(hy > 0) & (hy + 1 < n)]
    if hy.size:  # a hyphen between two word characters joins them into one word
        w[hy] = w[hy - 1] & w[hy + 1]
    edges = np.flatnonzero(w[1:] != w[:-1])
    edges += 1
    if edges.size % 2:  # text ends inside a word
        edges = np.append(edges, n)
    starts = edges[0::2]
    lens = edges[1::2] - starts
    ntok = starts.size
    empty = np.zeros(0, dtype=np.int64)
    if ntok == 0:
        return empty
    # --- word ids: first-8-byte key -> hash table entry -> word id
    u64 = np.ndarray((len(buf) - 7,), dtype="<u8", buffer=buf, strides=(1,))
    pos, wid = pat.lookup_words(u64, starts, lens)
    return match_words(starts, pos, wid, bounds, pat, negative_window)


def match_words(
    starts: np.ndarray,
    pos: np.ndarray,
    wid: np.ndarray,
    bounds: np.ndarray,
    pat: Patterns,
    negative_window: int | None,
) -> np.ndarray:
    """Unique (caption, concept) keys of a tokenised buffer.

    ``starts``: byte offsets of all its words, in order; ``pos``/``wid``: the
    indices into ``starts`` of the words in the vocabulary (any order) and their
    word ids; ``bounds``: the separator offsets that delimit the captions
    (``bounds[i]`` precedes caption ``i``). Walks the word trie from every
    vocabulary word, expands phrase outputs to (concept, negative) and applies
    the negative contexts; returns sorted int64 keys ``caption * n_concepts +
    concept``.
    """
    ntok = starts.size
    ids = np.full(ntok + 1, -1, dtype=np.int32)  # trailing -1 stops trie walks
    ids[pos] = wid
    # --- trie walk over consecutive word ids (depth 1 read off per-word arrays)
    t = np.flatnonzero(pat.word_has_out[wid])
    m_start, m_len, m_node = [pos[t]], [np.ones(t.size, dtype=np.int64)], [pat.first_node[wid[t]]]
    nw = ids[pos + 1]
    c = np.flatnonzero(pat.word_has_child[wid] & (nw >= 0))
    pos, node, nw = pos[c], pat.first_node[wid[c]], nw[c]
    depth = 1
    V = np.uint64(pat.V)
    while pos.size:
        key = node.astype(np.uint64) * V + nw.astype(np.uint64)
        j, slot = pat.edge_index.find(key)
        pos, node = pos[j], pat.edge_child[pat.edge_index.slot_value[slot]]
        depth += 1
        t = np.flatnonzero(pat.node_has_out[node])
        if t.size:
            m_start.append(pos[t])
            m_len.append(np.full(t.size, depth, dtype=np.int64))
            m_node.append(node[t])
        nw = ids[pos + depth]
        c = np.flatnonzero(pat.node_has_child[node] & (nw >= 0))
        pos, node, nw = pos[c], node[c], nw[c]
    ms = np.concatenate(m_start)
    ml = np.concatenate(m_len)
    mn = np.concatenate(m_node)
    # caption of every word: bounds[i] precedes caption i
    tb = np.searchsorted(starts, bounds)
    cap_of = np.repeat(np.arange(bounds.size - 1), np.diff(tb))
    cap = cap_of[ms]
    multi = np.flatnonzero(ml > 1)
    if multi.size:  # a phrase must not span two captions
        split = multi[cap_of[ms[multi] + ml[multi] - 1] != cap[multi]]
        if split.size:
            keep = np.ones(ms.size, dtype=bool)
            keep[split] = False
            ms, ml, mn, cap = ms[keep], ml[keep], mn[keep], cap[keep]
    # expand node outputs to (concept, negative)
    if pat.all_single_out:
        oi = pat.out_ptr[mn]
    else:
        cnt = pat.out_ptr[mn + 1] - pat.out_ptr[mn]
        rep = np.repeat(np.arange(mn.size), cnt)
        first = np.repeat(pat.out_ptr[mn] - np.cumsum(cnt) + cnt, cnt)
        oi = first + np.arange(rep.size)
        cap, ms, ml = cap[rep], ms[rep], ml[rep]
    concept = pat.out_concept[oi].astype(np.int64)
    kind = pat.out_kind[oi]
    C = pat.n_concepts
    neg = kind == NEGATIVE
    if not neg.any():
        return _apply_common(cap * C + concept, kind, ms, ml, pat)
    # drop the mentions with a negative of their concept near (anywhere in the caption: window None)
    pkey = cap[~neg] * C + concept[~neg]
    nkey = cap[neg] * C + concept[neg]
    if negative_window is None:
        near = _isin_sorted(pkey, _unique(nkey))
    else:
        near = _near_negative(pkey, ms[~neg], ml[~neg], nkey, ms[neg], ml[neg], negative_window)
    pkey, kind = pkey[~near], kind[~neg][~near]
    return _apply_common(pkey, kind, ms[~neg][~near], ml[~neg][~near], pat)


def _apply_common(
    pkey: np.ndarray, kind: np.ndarray, ps: np.ndarray, pl: np.ndarray, pat: Patterns
) -> np.ndarray:
    """Sorted unique keys of the surviving mentions ``pkey`` (kinds NAME or COMMON; first word ``ps``, words
    ``pl``): a common mention counts unless it lies within a name mention of another concept or the caption
    names a concept that may describe it (:meth:`Patterns.describes`)."""
    if not pat.has_common:
        return _unique(pkey)
    com = kind == COMMON
    if not com.any():  # most batches of most corpora: one sort, as without the rule
        return _unique(pkey)
    C = pat.n_concepts
    nkey, ns, nl = pkey[~com], ps[~com], pl[~com]
    named = _unique(nkey)
    ckey, cs, cl = pkey[com], ps[com], pl[com]
    keep = ~_isin_sorted(ckey, named)  # named by a name too: counted as named
    keep &= ~_within_name(ckey % C, cs, cl, nkey % C, ns, nl, pat.max_words)
    ckey = _unique(ckey[keep])
    # the concepts named in the same caption (named is sorted, so a caption's keys are one range)
    lo = np.searchsorted(named, ckey - ckey % C)
    cnt = np.searchsorted(named, ckey - ckey % C + C) - lo
    ci = np.repeat(np.arange(ckey.size), cnt)
    d = named[np.repeat(lo - np.cumsum(cnt) + cnt, cnt) + np.arange(ci.size)] % C
    hit = pat.describes_any[d] | _isin_sorted(d * C + ckey[ci] % C, pat.common_block)
    described = np.zeros(ckey.size, dtype=bool)
    described[ci[hit]] = True
    return _unique(np.concatenate([named, ckey[~described]]))


def _within_name(cc, cs, cl, nc, ns, nl, longest: int) -> np.ndarray:
    """True where a mention (concept ``cc``, first word ``cs``, ``cl`` words) lies within the words of a
    mention of another concept (``nc``, ``ns``, ``nl``; word positions are unique across captions)."""
    out = np.zeros(cc.size, dtype=bool)
    if not ns.size:
        return out
    order = np.argsort(ns, kind="stable")
    ns, nl, nc = ns[order], nl[order], nc[order]
    for back in range(longest):  # a name mention starting ``back`` words before the mention
        lo = np.searchsorted(ns, cs - back, "left")
        cnt = np.searchsorted(ns, cs - back, "right") - lo
        if not cnt.any():
            continue
        ci = np.repeat(np.arange(cc.size), cnt)
        ni = np.repeat(lo - np.cumsum(cnt) + cnt, cnt) + np.arange(ci.size)
        inside = (nl[ni] >= back + cl[ci]) & (nc[ni] != cc[ci])
        out[ci[inside]] = True
    return out


def _unique(a: np.ndarray) -> np.ndarray:
    """Sorted unique values (sort based: faster than np.unique's hashing here)."""
    a = np.sort(a)
    if a.size:
        a = a[np.concatenate(([True], a[1:] != a[:-1]))]
    return a


def _isin_sorted(a: np.ndarray, sorted_b: np.ndarray) -> np.ndarray:
    if not sorted_b.size:
        return np.zeros(a.shape, dtype=bool)
    j = np.minimum(np.searchsorted(sorted_b, a), sorted_b.size - 1)
    return sorted_b[j] == a


def _near_negative(pkey, ps, pl, nkey, ns, nl, window):
    """True where a mention has a negative of its concept within ``window`` words."""
    order = np.argsort(nkey, kind="stable")
    nkey, ns, nl = nkey[order], ns[order], nl[order]
    lo = np.searchsorted(nkey, pkey, "left")
    hi = np.searchsorted(nkey, pkey, "right")
    cnt = hi - lo
    out = np.zeros(pkey.size, dtype=bool)
    if not cnt.any():
        return out
    pi = np.repeat(np.arange(pkey.size), cnt)
    ni = np.repeat(lo - np.cumsum(cnt) + cnt, cnt) + np.arange(pi.size)
    near = (ns[ni] < ps[pi] + pl[pi] + window) & (ps[pi] < ns[ni] + nl[ni] + window)
    out[pi[near]] = True
    return out


def _pad(data, n: int) -> np.ndarray:
    buf = np.empty(n + 17, dtype=np.uint8)
    buf[0] = 10
    buf[1 : n + 1] = data
    buf[n + 1 :] = 0
    return buf


@dataclass
class BatchMatches:
    """What one batch names: sorted unique keys ``caption * n_concepts + concept``
    (caption ids local to the batch), its size and its input problems."""

    keys: np.ndarray
    n_captions: int
    problems: Counter


def _lower_bytes(data: bytes | np.ndarray) -> np.ndarray:
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = pa.StringArray.from_buffers(1, pa.py_buffer(np.array([0, len(data)], np.int32)), pa.py_buffer(data))
    low = pc.utf8_lower(arr)
    off = np.frombuffer(low.buffers()[1], np.int32)[low.offset : low.offset + 2]
    return np.frombuffer(low.buffers()[2], np.uint8)[off[0] : off[1]]


def _match_lines(data: bytes, pat: Patterns, negative_window, terminated: bool = True) -> BatchMatches:
    """Match UTF-8 text holding one caption per line (``terminated``: the last
    line ends with a newline too)."""
    probs = Counter()
    low = _lower_bytes(data)
    m = low.size
    buf = _pad(low, m)
    if not terminated:
        buf[m + 1] = 10
        m += 1
    bounds = np.flatnonzero(buf[: m + 1] == 10)
    d = np.diff(bounds)
    probs["empty"] += int(np.count_nonzero((d == 1) | ((d == 2) & (buf[bounds[1:] - 1] == 13))))
    keys = _match_buffer(buf, m + 1, bounds, pat, negative_window)
    return BatchMatches(keys, bounds.size - 1, probs)


def _match_strings(captions: list, pat: Patterns, negative_window) -> BatchMatches:
    """Match a list of Python strings (None and non-strings count as problems)."""
    probs = Counter()
    n = len(captions)
    blanked = 0
    if n == 0:
        return BatchMatches(np.zeros(0, np.int64), 0, probs)
    try:
        text = "\n".join(captions)
    except TypeError:
        captions = list(captions)
        for i, c in enumerate(captions):
            if not isinstance(c, str):
                probs["null" if c is None else "not_text"] += 1
                captions[i] = c.decode("utf-8", "replace") if isinstance(c, bytes) else ""
                blanked += not isinstance(c, bytes)
        text = "\n".join(captions)
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates
        captions = list(captions)
        for i, c in enumerate(captions):
            try:
                c.encode("utf-8")
            except UnicodeEncodeError:
                probs["bad_utf8"] += 1
                captions[i] = c.encode("utf-8", "replace").decode("utf-8")
        data = "\n".join(captions).encode("utf-8")
    out = _match_lines(data, pat, negative_window, terminated=False)
    if out.n_captions != n:  # newlines inside captions
        data = "\n".join(c.replace("\n", " ") for c in captions).encode("utf-8", "replace")
        out = _match_lines(data, pat, negative_window, terminated=False)
    out.problems["empty"] -= blanked  # None etc. became ""
    out.problems.update(probs)
    return out


def _match_arrow(arr, pat: Patterns, negative_window) -> BatchMatches:
    """Match an Arrow string/binary array (nulls count as ``null``)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    probs = Counter()
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks() if arr.num_chunks != 1 else arr.chunk(0)
    n = len(arr)
    if n == 0:
        return BatchMatches(np.zeros(0, np.int64), 0, probs)
    if pa.types.is_binary(arr.type) or pa.types.is_large_binary(arr.type):
        arr, bad = _decode_binary(arr)
        probs["bad_utf8"] += bad
    if pa.types.is_large_string(arr.type):
        arr = arr.cast(pa.string())
    probs["null"] += arr.null_count
    lens = pc.binary_length(arr)
    probs["empty"] += int(pc.sum(pc.equal(lens, 0)).as_py() or 0)
    low = pc.utf8_lower(arr)
    joined = pc.binary_join_element_wise(low, "", "\n", null_handling="replace")
    off = np.frombuffer(joined.buffers()[1], np.int32)[joined.offset : joined.offset + n + 1]
    o0 = int(off[0])
    m = int(off[-1]) - o0
    data = np.frombuffer(joined.buffers()[2], np.uint8)[o0 : o0 + m]
    buf = _pad(data, m)
    bounds = np.empty(n + 1, dtype=np.int64)
    bounds[0] = 0
    bounds[1:] = off[1:] - o0
    keys = _match_buffer(buf, m + 1, bounds, pat, negative_window)
    return BatchMatches(keys, n, probs)


def _decode_binary(arr):
    """Binary -> (string array, count of values with invalid UTF-8, decoded with U+FFFD)."""
    import pyarrow as pa

    try:
        return arr.cast(pa.string()), 0
    except (pa.ArrowInvalid, UnicodeDecodeError):
        bad = 0
        out = []
        for b in arr.to_pylist():
            if b is None:
                out.append(None)
                continue
            try:
                out.append(b.decode("utf-8"))
            except UnicodeDecodeError:
                bad += 1
                out.append(b.decode("utf-8", "replace"))
        return pa.array(out, pa.string()), bad


def match_reference(caption: str, pat: Patterns, negative_window: int | None = None) -> set[int]:
    """Concept ids one caption names, by the plain-Python definition of the rules.

    Slow; it exists to specify and test the vectorised matcher.
    """
    toks = tokenize(caption)
    pos, neg = [], []
    for i in range(len(toks)):
        for L in range(1, min(pat.max_words, len(toks) - i) + 1):
            for cid, kind in pat.phrases.get(tuple(toks[i : i + L]), ()):
                (neg if kind == NEGATIVE else pos).append((cid, i, L, kind))
    names, common = [], []
    for cid, i, L, kind in pos:
        if negative_window is None:
            blocked = any(c == cid for c, _, _, _ in neg)
        else:
            blocked = any(
                c == cid and j < i + L + negative_window and i < j + M + negative_window for c, j, M, _ in neg
            )
        if not blocked:
            (common if kind == COMMON else names).append((cid, i, L))
    named = {cid for cid, _, _ in names}
    kept = set()
    for cid, i, L in common:
        within = any(d != cid and j <= i and i + L <= j + M for d, j, M in names)
        if not within and not any(pat.describes(d, cid) for d in named):
            kept.add(cid)
    return named | kept


def match_batch(batch, pat: Patterns, negative_window: int | None) -> BatchMatches:
    """Unique (caption, concept) pairs of one batch.

    ``batch``: a :class:`~studylib.captions.readers.CaptionLines` block, an
    Arrow string/binary array, or a list of str (None and non-strings count
    as problems). Caption ids are positions in the batch.
    """
    if isinstance(batch, CaptionLines):
        return _match_lines(batch, pat, negative_window)
    pa = sys.modules.get("pyarrow")  # not imported: the batch is no Arrow array
    if pa is not None and isinstance(batch, (pa.Array, pa.ChunkedArray)):
        return _match_arrow(batch, pat, negative_window)
    return _match_strings(batch, pat, negative_window)
