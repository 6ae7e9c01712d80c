"""Concept frequency: count, per concept, the captions that mention it.

Why: the paper's central variable is how often each class is *named* in the
pre-training captions. This module estimates that profile from any caption
corpus, fast enough for web-scale shards, and scores the estimate against
the concept world whose true labels are known.

Matching rules (the same in the fast matcher, :func:`match_reference` and the
pyahocorasick loop of ``bench/freq_throughput.py``):

* Text is lower-cased; apostrophes (``' ` ´ ‘ ’``) are deleted ("dog's" ->
  "dogs", "jack-o'-lantern" -> "jack o lantern"); every other character that
  is not a letter or digit separates words (ASCII punctuation, ``_``,
  U+0080-U+00BF, ``× ÷``, U+2000-U+2BFF, U+3000-U+303F, variation selectors,
  BOM, U+FFFD and everything above U+FFFF such as emoji). See :func:`tokenize`.
  (The fast path lower-cases with Arrow, the reference with ``str.lower``;
  they agree except for a few special cases such as "İ".)
* A synonym matches a run of whole words, so "ram" never matches "program",
  and "man-eater" matches "man eater", "man-eater" and "maneater".
* Inflections are generated once, when the patterns are built: plurals of the
  last word (s/es/ies/oes, irregulars such as mouse -> mice) and possessives,
  which apostrophe deletion turns into "puppys", "mices".
* Negative phrases per concept ("crane" near "construction") discard a
  mention when they occur within ``negative_window`` words of it (anywhere in
  the caption when ``None``).
* Multi-label by default: a caption counts once for every concept it names.
  ``single_label=True`` drops captions naming several concepts (LAIONet).

The fast path turns a batch of captions into one lower-cased byte buffer
(pyarrow ``utf8_lower``), finds word boundaries with numpy, looks every word
up in an open-addressing hash table of the synonym vocabulary (keyed by its
first 8 bytes, longer words verified chunk by chunk) and walks a word trie for
multi-word synonyms, all vectorised over the batch; (caption, concept) pairs
are deduplicated with a sort. Files run shard-parallel (a shard is a file or
a parquet row group) in forked processes, or on a Dask cluster.
``bench/freq_throughput.py`` checks it against a pyahocorasick loop.

Concept sets and compiled patterns live in :mod:`studylib.concept_patterns`,
the file readers in :mod:`studylib.caption_inputs`; this module re-exports
their public names, so ``from studylib.frequency import build_patterns`` etc.
keep working.

Run::

    python -m studylib freq count --concepts imagenet --input 'caps/*.parquet' \\
        --column TEXT --out freqs.tsv

    from studylib.frequency import build_patterns, count_captions
    res = count_captions(["a crane on a construction site", "two tench"],
                         build_patterns("imagenet"))
    res.to_frame().query("count > 0")
"""
from __future__ import annotations

import io
import itertools
import multiprocessing as mp
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from studylib.caption_inputs import _iter_shard, _Lines, expand_inputs, list_shards
from studylib.concept_patterns import _MASKS, _MULT, Patterns, _mix, build_patterns, tokenize
from studylib.io import atomic_write_bytes, atomic_write_text

# Re-exported so that ``from studylib.frequency import X`` keeps working.
from studylib.caption_inputs import detect_format  # noqa: F401
from studylib.concept_patterns import (_DELETE_RE, _SEP_RE, IMAGENET_NEGATIVES,  # noqa: F401
                                       ConceptSpec, imagenet_specs, inflections,  # noqa: F401
                                       load_concept_file, phrase_variants,  # noqa: F401
                                       plural_forms)  # noqa: F401

# ----------------------------------------------------------------------------
# The vectorised matcher


def _resolve_specials(buf: np.ndarray, n: int) -> np.ndarray:
    """Blank multi-byte separators in place; return byte positions to delete."""
    view = buf[:n]
    m = view == 39
    m |= view == 96
    m |= view >= 0xC2
    sp = np.flatnonzero(m)
    if not sp.size:
        return sp
    b0 = buf[sp]
    b1 = buf[sp + 1]
    b2 = buf[sp + 2]
    dele = [sp[b0 < 0x80]]                                       # ' and `
    c2 = b0 == 0xC2
    acute = c2 & (b1 == 0xB4)
    dele += [sp[acute], sp[acute] + 1]
    sep2 = (c2 & ~acute) | ((b0 == 0xC3) & ((b1 == 0x97) | (b1 == 0xB7)))
    quote = (b0 == 0xE2) & (b1 == 0x80) & ((b2 == 0x98) | (b2 == 0x99))
    dele += [sp[quote], sp[quote] + 1, sp[quote] + 2]
    sep3 = (((b0 == 0xE2) & (b1 <= 0xAF) & ~quote) | ((b0 == 0xE3) & (b1 == 0x80))
            | ((b0 == 0xEF) & (((b1 == 0xB8) & (b2 <= 0x8F)) | ((b1 == 0xBB) & (b2 == 0xBF))
                                | ((b1 == 0xBF) & (b2 == 0xBD)))))
    sep4 = b0 >= 0xF0
    for k, sel in ((2, sep2), (3, sep3), (4, sep4)):
        p = sp[sel]
        for j in range(k):             # valid UTF-8 and >= 16 pad bytes: in bounds
            buf[p + j] = 32
    dele = np.concatenate(dele)
    dele.sort()
    return dele


def _match_buffer(buf: np.ndarray, n: int, bounds: np.ndarray, pat: Patterns,
                  negative_window: int | None):
    """Mentions in a prepared buffer.

    ``buf[:n]`` holds lower-cased UTF-8 text with a separator byte at every
    position of ``bounds`` (``bounds[i]`` precedes caption ``i``, the last one
    ends the text) and at least 16 zero bytes after ``n``. Returns unique
    (caption, concept) pairs as int64 keys ``caption * n_concepts + concept``.
    """
    dele = _resolve_specials(buf, n)
    if dele.size:                           # compact: copy the runs between deletions
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
    edges = np.flatnonzero(w[1:] != w[:-1])
    edges += 1
    if edges.size % 2:                      # text ends inside a word
        edges = np.append(edges, n)
    starts = edges[0::2]
    lens = edges[1::2] - starts
    ntok = starts.size
    empty = np.zeros(0, dtype=np.int64)
    if ntok == 0:
        return empty
    # --- word ids: first-8-byte key -> hash table entry -> word id
    u64 = np.ndarray((len(buf) - 7,), dtype="<u8", buffer=buf, strides=(1,))
    keys = u64[starts]
    keys &= _MASKS[np.minimum(lens, 8)]
    with np.errstate(over="ignore"):
        slot = ((keys * _MULT) >> pat.tbl_shift).astype(np.int64)
    k = pat.tbl_keys[slot]
    hit = k == keys
    cand = np.flatnonzero(hit)
    entry = pat.tbl_vals[slot[cand]]
    pending = np.flatnonzero((k != 0) & ~hit)
    probe = 0
    extra_c, extra_e = [], []
    while pending.size and probe < pat.max_probe:
        probe += 1
        s2 = (slot[pending] + probe) & pat.tbl_mask
        k2 = pat.tbl_keys[s2]
        h2 = k2 == keys[pending]
        extra_c.append(pending[h2])
        extra_e.append(pat.tbl_vals[s2[h2]])
        pending = pending[(k2 != 0) & ~h2]
    if extra_c:
        cand = np.concatenate([cand] + extra_c)
        entry = np.concatenate([entry] + extra_e)
    ids = np.full(ntok + 1, -1, dtype=np.int32)   # trailing -1 stops trie walks
    clen = lens[cand]
    short = clen <= 8
    cid = np.full(cand.size, -1, dtype=np.int32)
    cid[short] = pat.entry_short[entry[short]]
    lng = np.flatnonzero((~short) & pat.entry_has_long[entry] & (clen <= pat.max_word_bytes))
    if lng.size:
        lc = cand[lng]
        ll = clen[lng]
        st = starts[lc]
        chunks = [keys[lc]]
        for j in range(1, pat.n_chunks):
            chunks.append(u64[st + 8 * j] & _MASKS[np.clip(ll - 8 * j, 0, 8)])
        h = _mix(chunks, ll)
        j = np.minimum(np.searchsorted(pat.long_hash, h), len(pat.long_hash) - 1)
        ok = pat.long_hash[j] == h
        wid = pat.long_id[j]
        ok &= pat.long_lens[wid] == ll
        for c in range(pat.n_chunks):
            ok &= pat.long_chunks[wid, c] == chunks[c]
        cid[lng[ok]] = wid[ok]
    ids[cand] = cid
    # --- trie walk over consecutive word ids
    sel = cid >= 0
    pos = cand[sel]
    node = pat.first_node[cid[sel]]
    sel = node >= 0
    pos, node = pos[sel], node[sel]
    m_start, m_len, m_node = [], [], []
    depth = 1
    V = pat.V
    while pos.size:
        t = pat.node_has_out[node]
        if t.any():
            m_start.append(pos[t])
            m_len.append(np.full(int(t.sum()), depth, dtype=np.int64))
            m_node.append(node[t])
        c = pat.node_has_child[node]
        pos, node = pos[c], node[c]
        if not pos.size:
            break
        nw = ids[pos + depth]
        c = nw >= 0
        pos, node, nw = pos[c], node[c], nw[c]
        key = node.astype(np.int64) * V + nw
        if not pat.edge_keys.size:
            break
        j = np.minimum(np.searchsorted(pat.edge_keys, key), len(pat.edge_keys) - 1)
        c = pat.edge_keys[j] == key
        pos, node = pos[c], pat.edge_child[j[c]]
        depth += 1
    if not m_start:
        return empty
    ms = np.concatenate(m_start)
    ml = np.concatenate(m_len)
    mn = np.concatenate(m_node)
    cap = np.searchsorted(bounds, starts[ms], side="right") - 1
    multi = ml > 1
    if multi.any():                          # a phrase must not span two captions
        cap_end = np.searchsorted(bounds, starts[ms[multi] + ml[multi] - 1], side="right") - 1
        keep = np.ones(ms.size, dtype=bool)
        keep[np.flatnonzero(multi)[cap_end != cap[multi]]] = False
        ms, ml, mn, cap = ms[keep], ml[keep], mn[keep], cap[keep]
    # expand node outputs to (concept, negative)
    cnt = pat.out_ptr[mn + 1] - pat.out_ptr[mn]
    rep = np.repeat(np.arange(mn.size), cnt)
    first = np.repeat(pat.out_ptr[mn] - np.cumsum(cnt) + cnt, cnt)
    oi = first + np.arange(rep.size)
    concept = pat.out_concept[oi].astype(np.int64)
    neg = pat.out_neg[oi]
    cap, ms, ml = cap[rep], ms[rep], ml[rep]
    C = pat.n_concepts
    pkey = cap[~neg] * C + concept[~neg]
    if neg.any():
        nkey = cap[neg] * C + concept[neg]
        if negative_window is None:
            pkey = pkey[~_isin_sorted(pkey, _unique(nkey))]
        else:
            pkey = pkey[~_near_negative(pkey, ms[~neg], ml[~neg], nkey, ms[neg], ml[neg],
                                        negative_window)]
    return _unique(pkey)


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
    # a concept survives if any of its mentions survives
    return ~_isin_sorted(pkey, _unique(pkey[~out]))


def _pad(data, n: int) -> np.ndarray:
    buf = np.empty(n + 17, dtype=np.uint8)
    buf[0] = 10
    buf[1:n + 1] = data
    buf[n + 1:] = 0
    return buf


@dataclass
class _BatchOut:
    keys: np.ndarray          # unique caption * C + concept (local caption ids)
    n_captions: int
    problems: Counter


def _lower_bytes(data: bytes | np.ndarray) -> np.ndarray:
    arr = pa.StringArray.from_buffers(1, pa.py_buffer(np.array([0, len(data)], np.int32)),
                                      pa.py_buffer(data))
    low = pc.utf8_lower(arr)
    off = np.frombuffer(low.buffers()[1], np.int32)[low.offset: low.offset + 2]
    return np.frombuffer(low.buffers()[2], np.uint8)[off[0]:off[1]]


def _match_lines(data: bytes, pat: Patterns, negative_window, terminated: bool = True
                 ) -> _BatchOut:
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
    return _BatchOut(keys, bounds.size - 1, probs)


def _match_strings(captions: list, pat: Patterns, negative_window) -> _BatchOut:
    """Match a list of Python strings (None and non-strings count as problems)."""
    probs = Counter()
    n = len(captions)
    blanked = 0
    if n == 0:
        return _BatchOut(np.zeros(0, np.int64), 0, probs)
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
    except UnicodeEncodeError:             # lone surrogates
        captions = list(captions)
        for i, c in enumerate(captions):
            try:
                c.encode("utf-8")
            except UnicodeEncodeError:
                probs["bad_utf8"] += 1
                captions[i] = c.encode("utf-8", "replace").decode("utf-8")
        data = "\n".join(captions).encode("utf-8")
    out = _match_lines(data, pat, negative_window, terminated=False)
    if out.n_captions != n:                # newlines inside captions
        data = "\n".join(c.replace("\n", " ") for c in captions).encode("utf-8", "replace")
        out = _match_lines(data, pat, negative_window, terminated=False)
    out.problems["empty"] -= blanked                              # None etc. became ""
    out.problems.update(probs)
    return out


def _match_arrow(arr: pa.Array, pat: Patterns, negative_window) -> _BatchOut:
    """Match an Arrow string/binary array (nulls count as ``null``)."""
    probs = Counter()
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks() if arr.num_chunks != 1 else arr.chunk(0)
    n = len(arr)
    if n == 0:
        return _BatchOut(np.zeros(0, np.int64), 0, probs)
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
    off = np.frombuffer(joined.buffers()[1], np.int32)[joined.offset: joined.offset + n + 1]
    o0 = int(off[0])
    m = int(off[-1]) - o0
    data = np.frombuffer(joined.buffers()[2], np.uint8)[o0: o0 + m]
    buf = _pad(data, m)
    bounds = np.empty(n + 1, dtype=np.int64)
    bounds[0] = 0
    bounds[1:] = off[1:] - o0
    keys = _match_buffer(buf, m + 1, bounds, pat, negative_window)
    return _BatchOut(keys, n, probs)


def _decode_binary(arr: pa.Array) -> tuple[pa.Array, int]:
    """Binary -> string; invalid UTF-8 values are decoded with U+FFFD and counted."""
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
            for cid, isneg in pat.phrases.get(tuple(toks[i:i + L]), ()):
                (neg if isneg else pos).append((cid, i, L))
    out = set()
    for cid, i, L in pos:
        if negative_window is None:
            blocked = any(c == cid for c, _, _ in neg)
        else:
            blocked = any(c == cid and j < i + L + negative_window and i < j + M + negative_window
                          for c, j, M in neg)
        if not blocked:
            out.add(cid)
    return out


# ----------------------------------------------------------------------------
# Results


_PROBLEMS = {"null": "missing (null) captions", "empty": "empty captions",
             "bad_utf8": "captions with invalid UTF-8 (decoded with U+FFFD)",
             "not_text": "non-text captions", "bad_json": "unreadable JSON members",
             "no_text": "tar samples without .txt/.json",
             "bad_row": "malformed table rows (skipped)",
             "missing_column": "inputs without the requested column (skipped)",
             "unreadable": "unreadable inputs (skipped)"}


@dataclass
class FrequencyResult:
    """Counts per concept plus input diagnostics and optional per-caption matches.

    ``match_caption``/``match_concept`` (when kept) list every counted
    (caption id, concept id) pair; caption ids run over all inputs in order,
    and ``sources``/``source_rows`` say which file each id range came from.
    """
    names: list[str]
    counts: np.ndarray
    n_captions: int = 0
    n_matched: int = 0
    n_multi: int = 0
    single_label: bool = False
    problems: Counter = field(default_factory=Counter)
    messages: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    source_rows: list[int] = field(default_factory=list)
    match_caption: np.ndarray | None = None
    match_concept: np.ndarray | None = None

    def to_frame(self) -> pd.DataFrame:
        """One row per concept: class index, class name, count."""
        return pd.DataFrame({"class_index": np.arange(len(self.names)),
                             "classname": self.names, "count": self.counts})

    def matches_by_caption(self) -> list[np.ndarray]:
        """Concept ids per caption id (needs ``keep_matches=True``)."""
        if self.match_caption is None:
            raise ValueError("matches were not kept; count with keep_matches=True")
        if self.n_captions == 0:
            return []
        split = np.searchsorted(self.match_caption, np.arange(1, self.n_captions))
        return np.split(self.match_concept, split)

    def summary(self) -> str:
        """A few human lines: totals, then every input problem with its count."""
        lines = [f"{self.n_captions:,} captions, {self.n_matched:,} name a concept, "
                 f"{self.n_multi:,} name several"
                 + (" (dropped: single-label)" if self.single_label else "")
                 + f"; {int(self.counts.sum()):,} counted mentions over "
                 f"{int(np.count_nonzero(self.counts))}/{len(self.names)} concepts"]
        for k, v in sorted(self.problems.items()):
            if v:
                lines.append(f"  {v:,} {_PROBLEMS.get(k, k)}")
        lines += [f"  {m}" for m in self.messages]
        return "\n".join(lines)


def write_counts_tsv(result: FrequencyResult, path: str | Path) -> None:
    """Counts as ``classname<TAB>count`` lines, no header, concept order."""
    lines = "".join(f"{n}\t{int(c)}\n" for n, c in zip(result.names, result.counts))
    atomic_write_text(path, lines)


def write_counts_parquet(result: FrequencyResult, path: str | Path) -> None:
    """Counts as parquet with columns class_index, classname, count."""
    import pyarrow.parquet as pq

    sink = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(result.to_frame(), preserve_index=False), sink)
    atomic_write_bytes(path, sink.getvalue())


def write_matches_parquet(result: FrequencyResult, path: str | Path) -> None:
    """Per-caption matches: caption_id, concept_id, source (file), row (in file)."""
    import pyarrow.parquet as pq

    if result.match_caption is None:
        raise ValueError("matches were not kept; count with keep_matches=True")
    starts = np.concatenate([[0], np.cumsum(result.source_rows)]).astype(np.int64)
    src = np.searchsorted(starts, result.match_caption, side="right") - 1
    src = np.clip(src, 0, max(len(result.sources) - 1, 0))
    table = pa.table({
        "caption_id": result.match_caption.astype(np.int64),
        "concept_id": result.match_concept.astype(np.int32),
        "source": pa.DictionaryArray.from_arrays(pa.array(src.astype(np.int32)),
                                                 pa.array(result.sources or ["<memory>"])),
        "row": result.match_caption - starts[src],
    })
    sink = io.BytesIO()
    pq.write_table(table, sink)
    atomic_write_bytes(path, sink.getvalue())


# ----------------------------------------------------------------------------
# Counting over batches, in-memory inputs and files


@dataclass
class _ShardOut:
    n_captions: int
    counts: np.ndarray
    n_matched: int
    n_multi: int
    problems: Counter
    messages: list
    caption: np.ndarray | None
    concept: np.ndarray | None


class _Accumulator:
    """Reduce batch outputs of one shard: counts, single-label, matches."""

    def __init__(self, pat: Patterns, single_label: bool, keep_matches: bool):
        self.C = pat.n_concepts
        self.single = single_label
        self.keep = keep_matches
        self.counts = np.zeros(self.C, dtype=np.int64)
        self.n = self.matched = self.multi = 0
        self.problems = Counter()
        self.messages: list[str] = []
        self.caps, self.cons = [], []

    def add(self, out: _BatchOut):
        cap = out.keys // self.C
        con = out.keys % self.C
        if cap.size:
            first = np.ones(cap.size, dtype=bool)
            first[1:] = cap[1:] != cap[:-1]
            per = np.diff(np.append(np.flatnonzero(first), cap.size))
            self.matched += per.size
            self.multi += int(np.count_nonzero(per > 1))
            if self.single:
                ok = np.repeat(per == 1, per)
                cap, con = cap[ok], con[ok]
        self.counts += np.bincount(con, minlength=self.C)
        if self.keep:
            self.caps.append(cap + self.n)
            self.cons.append(con.astype(np.int32))
        self.n += out.n_captions
        self.problems.update(out.problems)

    def result(self) -> _ShardOut:
        cap = np.concatenate(self.caps) if self.keep and self.caps else (
            np.zeros(0, np.int64) if self.keep else None)
        con = np.concatenate(self.cons) if self.keep and self.cons else (
            np.zeros(0, np.int32) if self.keep else None)
        return _ShardOut(self.n, self.counts, self.matched, self.multi, self.problems,
                         self.messages, cap, con)


def _batches(seq, size):
    if isinstance(seq, list):
        for s in range(0, len(seq), size):
            yield seq[s: s + size]
        return
    it = iter(seq)
    while chunk := list(itertools.islice(it, size)):
        yield chunk


def _process_batch(batch, pat, negative_window) -> _BatchOut:
    if isinstance(batch, _Lines):
        return _match_lines(batch, pat, negative_window)
    if isinstance(batch, (pa.Array, pa.ChunkedArray)):
        return _match_arrow(batch, pat, negative_window)
    return _match_strings(batch, pat, negative_window)


_FORK_STATE: dict = {}


def _count_slice(args):
    lo, hi, opts = args
    seq, pat = _FORK_STATE["seq"], _FORK_STATE["pat"]
    acc = _Accumulator(pat, opts["single_label"], opts["keep_matches"])
    bs = opts["batch_size"]
    for s in range(lo, hi, bs):
        part = seq[s: min(s + bs, hi)]
        if not isinstance(part, (list, pa.Array, pa.ChunkedArray)):
            part = list(part)
        acc.add(_process_batch(part, pat, opts["negative_window"]))
    return acc.result()


def count_captions(captions, patterns: Patterns | str = "imagenet", *, single_label: bool = False,
                   negative_window: int | None = None, keep_matches: bool = False,
                   workers: int = 1, batch_size: int = 16384, progress: bool = False
                   ) -> FrequencyResult:
    """Count concept mentions in an in-memory caption collection.

    ``captions``: any iterable of str (None counts as a missing caption), or an
    Arrow string array. With ``workers > 1`` a list/tuple/Arrow array is split
    into contiguous slices counted in forked processes (where the OS can fork;
    otherwise, and for other iterables, one process). Caption ids of the kept
    matches are positions in ``captions``.
    """
    pat = build_patterns(patterns)
    opts = dict(single_label=single_label, negative_window=negative_window,
                keep_matches=keep_matches, batch_size=batch_size)
    sliceable = isinstance(captions, (list, tuple, pa.Array, pa.ChunkedArray))
    if workers > 1 and sliceable and len(captions) > batch_size and _can_fork():
        n = len(captions)
        step = -(-n // (workers * 4))
        step = -(-step // batch_size) * batch_size
        tasks = [(lo, min(lo + step, n), opts) for lo in range(0, n, step)]
        _FORK_STATE.update(seq=captions, pat=pat)
        try:
            with mp.get_context("fork").Pool(workers) as pool:
                outs = list(_progress(pool.imap(_count_slice, tasks), progress, len(tasks),
                                      "captions (slices)"))
        finally:
            _FORK_STATE.clear()
        return _combine(pat, outs, ["<memory>"] * len(outs), single_label, keep_matches)
    acc = _Accumulator(pat, single_label, keep_matches)
    if isinstance(captions, (pa.Array, pa.ChunkedArray)):
        batches = (captions.slice(s, batch_size) for s in range(0, len(captions), batch_size))
        total = -(-len(captions) // batch_size)
    else:
        batches = _batches(captions, batch_size)
        total = -(-len(captions) // batch_size) if hasattr(captions, "__len__") else None
    for b in _progress(batches, progress, total, "caption batches"):
        acc.add(_process_batch(b, pat, negative_window))
    return _combine(pat, [acc.result()], ["<memory>"], single_label, keep_matches)


def _can_fork() -> bool:
    return "fork" in mp.get_all_start_methods()


def _progress(it, on, total, desc):
    if not on:
        return it
    from tqdm.auto import tqdm

    return tqdm(it, total=total, desc=desc, unit="shard" if "shard" in desc else "it")


def _combine(pat, outs: list[_ShardOut], sources: list[str], single_label, keep_matches
             ) -> FrequencyResult:
    res = FrequencyResult(list(pat.names), np.zeros(pat.n_concepts, dtype=np.int64),
                          single_label=single_label)
    caps, cons = [], []
    for o, src in zip(outs, sources):
        res.counts += o.counts
        if keep_matches:
            caps.append(o.caption + res.n_captions)
            cons.append(o.concept)
        res.n_captions += o.n_captions
        res.n_matched += o.n_matched
        res.n_multi += o.n_multi
        res.problems.update(o.problems)
        res.messages += o.messages
        if res.sources and res.sources[-1] == src:
            res.source_rows[-1] += o.n_captions
        else:
            res.sources.append(src)
            res.source_rows.append(o.n_captions)
    if keep_matches:
        res.match_caption = np.concatenate(caps) if caps else np.zeros(0, np.int64)
        res.match_concept = np.concatenate(cons) if cons else np.zeros(0, np.int32)
    res.problems = Counter({k: v for k, v in res.problems.items() if v})
    return res


# --- file inputs (readers: studylib.caption_inputs) -------------------------


def _run_shard(shard, pat: Patterns, opts) -> _ShardOut:
    """Count one shard (module-level so processes and Dask workers can run it)."""
    acc = _Accumulator(pat, opts["single_label"], opts["keep_matches"])
    try:
        for batch in _iter_shard(shard, opts["batch_size"], acc.problems, acc.messages):
            acc.add(_process_batch(batch, pat, opts["negative_window"]))
    except Exception as e:              # noqa: BLE001 - a bad file must not stop the scan
        acc.problems["unreadable"] += 1
        acc.messages.append(f"{shard[0]}: failed while reading ({type(e).__name__}: {e})")
    return acc.result()


def _run_shard_forked(args):
    shard, opts = args
    return _run_shard(shard, _FORK_STATE["pat"], opts)


def count_files(inputs, patterns: Patterns | str = "imagenet", *, column: str | None = None,
                fmt: str | None = None, single_label: bool = False,
                negative_window: int | None = None, keep_matches: bool = False,
                workers: int = 1, engine: str = "processes", client=None,
                batch_size: int = 16384, progress: bool = True) -> FrequencyResult:
    """Count concept mentions in caption files.

    ``inputs``: paths or glob patterns of text (one caption a line), TSV/CSV
    (``column`` names the caption column), parquet (``column``; read row group
    by row group) or webdataset tars (``.txt`` members, else ``.json[column]``,
    default keys caption/text). Shards (row groups, files) run on ``workers``
    processes, or on a Dask cluster with ``engine="dask"`` (``client``: a
    ``dask.distributed.Client``; a local cluster is started when omitted).
    Bad input is counted in ``result.problems`` and explained in
    ``result.messages``; it never raises.
    """
    pat = build_patterns(patterns)
    paths = expand_inputs(inputs)
    shards, msgs = list_shards(paths, fmt, column)
    opts = dict(single_label=single_label, negative_window=negative_window,
                keep_matches=keep_matches, batch_size=batch_size)
    if engine == "dask":
        outs = _run_dask(shards, pat, opts, client, progress)
    elif engine != "processes":
        raise ValueError(f"engine must be 'processes' or 'dask', got {engine!r}")
    elif workers > 1 and len(shards) > 1 and _can_fork():
        _FORK_STATE.update(pat=pat)
        try:
            with mp.get_context("fork").Pool(min(workers, len(shards))) as pool:
                outs = list(_progress(pool.imap(_run_shard_forked, [(s, opts) for s in shards]),
                                      progress, len(shards), "shards"))
        finally:
            _FORK_STATE.clear()
    else:
        outs = [_run_shard(s, pat, opts)
                for s in _progress(shards, progress, len(shards), "shards")]
    res = _combine(pat, outs, [s[0] for s in shards], single_label, keep_matches)
    res.messages = msgs + res.messages + _file_notes(shards, outs)
    return res


def _file_notes(shards, outs, limit: int = 20) -> list[str]:
    """One line per file with bad captions: which problems, how many."""
    per_file: dict[str, Counter] = {}
    for s, o in zip(shards, outs):
        c = per_file.setdefault(s[0], Counter())
        c.update({k: v for k, v in o.problems.items()
                  if v and k not in ("missing_column", "unreadable")})
    notes = [f"{p}: " + ", ".join(f"{v:,} {_PROBLEMS.get(k, k)}" for k, v in sorted(c.items()))
             for p, c in per_file.items() if c]
    if len(notes) > limit:
        notes = notes[:limit] + [f"... and {len(notes) - limit} more files with problems"]
    return notes


def _run_dask(shards, pat, opts, client, progress):
    try:
        from dask.distributed import Client, LocalCluster, as_completed
    except ImportError:
        raise ImportError("engine='dask' needs the optional extra: "
                          "pip install 'dask[distributed]'") from None
    own = client is None
    if own:
        client = Client(LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                     dashboard_address=None))
    try:
        pat_f = client.scatter(pat, broadcast=True)
        futs = [client.submit(_run_shard, s, pat_f, opts, pure=False) for s in shards]
        index = {f.key: i for i, f in enumerate(futs)}
        outs = [None] * len(futs)
        for f in _progress(as_completed(futs), progress, len(futs), "shards (dask)"):
            outs[index[f.key]] = f.result()
        return outs
    finally:
        if own:
            cluster = client.cluster
            client.close()
            cluster.close()


# ----------------------------------------------------------------------------
# Scoring against the truth


def score_matches(matches, true_labels, n_concepts: int, groups=None) -> dict[str, pd.DataFrame]:
    """Precision and recall of predicted concept sets against known labels.

    ``matches``: per caption, an iterable of predicted concept ids (or a
    :class:`FrequencyResult` with kept matches). ``true_labels``: per caption,
    one concept id (-1 for none) or an iterable of ids. ``groups``: optional
    label per caption (e.g. descriptiveness level).

    A (caption, concept) pair is a true positive when predicted and true.
    Returns DataFrames: ``overall`` (one row), ``per_concept``, ``per_group``
    and ``per_group_concept`` (empty without groups). Each has tp, predicted,
    true, precision, recall, f1; ``overall`` and ``per_group`` add the
    Spearman correlation between estimated and true per-concept counts.
    """
    if isinstance(matches, FrequencyResult):
        if matches.match_caption is None:
            raise ValueError("the FrequencyResult has no matches; count with keep_matches=True")
        n = matches.n_captions
        pc_, pk = matches.match_caption.astype(np.int64), matches.match_concept.astype(np.int64)
    else:
        n = len(matches)
        pc_, pk = _pairs(matches, "matches")
    tc, tk = _pairs(true_labels, "true_labels")
    if len(true_labels) != n:
        raise ValueError(f"matches has {n} captions but true_labels has {len(true_labels)}")
    for name, k in (("matches", pk), ("true_labels", tk)):
        if k.size and (k.min() < 0 or k.max() >= n_concepts):
            raise ValueError(f"{name} holds concept ids outside [0, {n_concepts})")
    C = n_concepts
    pkey = np.unique(pc_ * C + pk)
    tkey = np.unique(tc * C + tk)
    tp_key = np.intersect1d(pkey, tkey, assume_unique=True)
    g = None if groups is None else np.asarray(groups)
    if g is not None and len(g) != n:
        raise ValueError(f"groups has {len(g)} entries for {n} captions")

    def table(keys_sel):
        p, t, tp = (np.bincount(k % C, minlength=C) for k in keys_sel)
        return p, t, tp

    def rows(p, t, tp):
        df = pd.DataFrame({"tp": tp, "predicted": p, "true": t})
        return _prf(df)

    p, t, tp = table((pkey, tkey, tp_key))
    per_concept = rows(p, t, tp)
    per_concept.insert(0, "concept", np.arange(C))
    overall = _prf(pd.DataFrame({"tp": [tp.sum()], "predicted": [p.sum()], "true": [t.sum()]}))
    overall["spearman"] = _spearman(p, t)
    overall.insert(0, "captions", n)
    per_group, per_gc = [], []
    if g is not None:
        for lvl in pd.unique(g):
            sel_caps = np.flatnonzero(g == lvl)
            ks = [k[np.isin(k // C, sel_caps)] for k in (pkey, tkey, tp_key)]
            gp, gt, gtp = table(ks)
            row = _prf(pd.DataFrame({"tp": [gtp.sum()], "predicted": [gp.sum()],
                                     "true": [gt.sum()]}))
            row.insert(0, "captions", sel_caps.size)
            row.insert(0, "group", [lvl])
            row["spearman"] = _spearman(gp, gt)
            per_group.append(row)
            df = rows(gp, gt, gtp)
            df.insert(0, "concept", np.arange(C))
            df.insert(0, "group", lvl)
            per_gc.append(df)
    cols = ["group", "captions", "tp", "predicted", "true", "precision", "recall", "f1", "spearman"]
    return {
        "overall": overall,
        "per_concept": per_concept,
        "per_group": (pd.concat(per_group, ignore_index=True) if per_group
                      else pd.DataFrame(columns=cols)),
        "per_group_concept": pd.concat(per_gc, ignore_index=True) if per_gc else pd.DataFrame(
            columns=["group", "concept", "tp", "predicted", "true", "precision", "recall", "f1"]),
    }


def _pairs(per_caption, what) -> tuple[np.ndarray, np.ndarray]:
    arr = None
    if isinstance(per_caption, np.ndarray) and per_caption.dtype.kind in "iu":
        arr = per_caption
    elif len(per_caption) and all(isinstance(x, (int, np.integer)) for x in per_caption[:100]):
        arr = np.asarray(per_caption, dtype=np.int64)
    if arr is not None:
        if arr.ndim != 1:
            raise ValueError(f"{what}: expected one label per caption")
        ok = arr >= 0
        return np.flatnonzero(ok).astype(np.int64), arr[ok].astype(np.int64)
    caps, cons = [], []
    for i, s in enumerate(per_caption):
        ids = [int(x) for x in (s if s is not None else ())]
        caps += [i] * len(ids)
        cons += ids
    cons = np.asarray(cons, dtype=np.int64)
    caps = np.asarray(caps, dtype=np.int64)
    ok = cons >= 0
    return caps[ok], cons[ok]


def _prf(df: pd.DataFrame) -> pd.DataFrame:
    with np.errstate(divide="ignore", invalid="ignore"):
        df["precision"] = np.where(df.predicted > 0, df.tp / df.predicted, np.nan)
        df["recall"] = np.where(df.true > 0, df.tp / df.true, np.nan)
        df["f1"] = 2 * df.precision * df.recall / (df.precision + df.recall)
    return df


def _spearman(a, b) -> float:
    from scipy.stats import spearmanr

    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return float(spearmanr(a, b).statistic)
