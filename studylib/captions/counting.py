"""Count, per concept, the captions that mention it: in memory or over caption files.

Why: the paper's central variable is how often each class is *named* in the
pre-training captions. This module runs the vectorised matcher of
:mod:`studylib.captions.matching` over a caption collection batch by batch
and sums the matches into a :class:`~studylib.captions.results.FrequencyResult`:
in memory (:func:`count_captions`, split over forked processes) or over
files (:func:`count_files`, shard-parallel on processes or a Dask cluster; a
shard is a file, a parquet row group or, with several processes, a byte
range of whole lines of a text file; text shards take the fast path of
:mod:`studylib.captions.fastscan`, the others are read by
:mod:`studylib.captions.readers`). A caption counts once for every concept it
names; ``single_label=True`` drops captions naming several (LAIONet).

Run::

    python -m studylib freq count --concepts imagenet --input 'caps/*.parquet' \\
        --column TEXT --out freqs.tsv

    from studylib.captions.counting import count_captions
    from studylib.captions.patterns import build_patterns
    res = count_captions(["a crane on a construction site", "two tench"],
                         build_patterns("imagenet"))
    res.to_frame().query("count > 0")

Long because one count over files, processes or a Dask cluster, with one accumulator for all three.
"""

from __future__ import annotations

import itertools
import multiprocessing as mp
import os
import sys
from collections import Counter
from dataclasses import dataclass

import numpy as np

from studylib.captions import compiled
from studylib.captions.fastscan import iter_text_matches, line_ranges
from studylib.captions.matching import BatchMatches, match_batch
from studylib.captions.patterns import Patterns, build_patterns
from studylib.captions.readers import expand_inputs, iter_shard, list_shards
from studylib.captions.results import PROBLEM_LABELS, FrequencyResult


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

    def add(self, out: BatchMatches):
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
        cap = (
            np.concatenate(self.caps)
            if self.keep and self.caps
            else (np.zeros(0, np.int64) if self.keep else None)
        )
        con = (
            np.concatenate(self.cons)
            if self.keep and self.cons
            else (np.zeros(0, np.int32) if self.keep else None)
        )
        return _ShardOut(
            self.n, self.counts, self.matched, self.multi, self.problems, self.messages, cap, con
        )


def _batches(seq, size):
    if isinstance(seq, list):
        for s in range(0, len(seq), size):
            yield seq[s : s + size]
        return
    it = iter(seq)
    while chunk := list(itertools.islice(it, size)):
        yield chunk


_FORK_STATE: dict = {}


def _is_arrow(x) -> bool:
    """Whether ``x`` is an Arrow array (without importing pyarrow: if it is not imported, it is not)."""
    pa = sys.modules.get("pyarrow")
    return pa is not None and isinstance(x, (pa.Array, pa.ChunkedArray))


def _count_slice(args):
    lo, hi, opts = args
    seq, pat = _FORK_STATE["seq"], _FORK_STATE["pat"]
    acc = _Accumulator(pat, opts["single_label"], opts["keep_matches"])
    bs = opts["batch_size"]
    for s in range(lo, hi, bs):
        part = seq[s : min(s + bs, hi)]
        if not isinstance(part, list) and not _is_arrow(part):
            part = list(part)
        acc.add(match_batch(part, pat, opts["negative_window"]))
    return acc.result()


def count_captions(
    captions,
    patterns: Patterns | str = "imagenet",
    *,
    single_label: bool = False,
    negative_window: int | None = None,
    keep_matches: bool = False,
    workers: int = 1,
    batch_size: int = 16384,
    progress: bool = False,
) -> FrequencyResult:
    """Count concept mentions in an in-memory caption collection.

    ``captions``: any iterable of str (None counts as a missing caption), or an
    Arrow string array. With ``workers > 1`` a list/tuple/Arrow array is split
    into contiguous slices counted in forked processes (where the OS can fork;
    otherwise, and for other iterables, one process). Caption ids of the kept
    matches are positions in ``captions``.
    """
    pat = build_patterns(patterns)
    opts = dict(
        single_label=single_label,
        negative_window=negative_window,
        keep_matches=keep_matches,
        batch_size=batch_size,
    )
    sliceable = isinstance(captions, (list, tuple)) or _is_arrow(captions)
    if workers > 1 and sliceable and len(captions) > batch_size and _can_fork():
        n = len(captions)
        step = -(-n // (workers * 4))
        step = -(-step // batch_size) * batch_size
        tasks = [(lo, min(lo + step, n), opts) for lo in range(0, n, step)]
        _FORK_STATE.update(seq=captions, pat=pat)
        try:
            with mp.get_context("fork").Pool(workers) as pool:
                outs = list(
                    _progress(pool.imap(_count_slice, tasks), progress, len(tasks), "captions (slices)")
                )
        finally:
            _FORK_STATE.clear()
        return _combine(pat, outs, ["<memory>"] * len(outs), single_label, keep_matches)
    acc = _Accumulator(pat, single_label, keep_matches)
    if _is_arrow(captions):
        batches = (captions.slice(s, batch_size) for s in range(0, len(captions), batch_size))
        total = -(-len(captions) // batch_size)
    else:
        batches = _batches(captions, batch_size)
        total = -(-len(captions) // batch_size) if hasattr(captions, "__len__") else None
    for b in _progress(batches, progress, total, "caption batches"):
        acc.add(match_batch(b, pat, negative_window))
    return _combine(pat, [acc.result()], ["<memory>"], single_label, keep_matches)


def _can_fork() -> bool:
    return "fork" in mp.get_all_start_methods()


def _progress(it, on, total, desc):
    if not on:
        return it
    if "IPython" in sys.modules:  # maybe a notebook: let tqdm pick its widget
        from tqdm.auto import tqdm
    else:  # a terminal: the plain bar (tqdm.auto imports much more)
        from tqdm.std import tqdm

    return tqdm(it, total=total, desc=desc, unit="shard" if "shard" in desc else "it")


def _combine(pat, outs: list[_ShardOut], sources: list[str], single_label, keep_matches) -> FrequencyResult:
    res = FrequencyResult(
        list(pat.names), np.zeros(pat.n_concepts, dtype=np.int64), single_label=single_label
    )
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


# --- file inputs (readers: studylib.captions.readers) -----------------------


def _run_shard(shard, pat: Patterns, opts) -> _ShardOut:
    """Count one shard (module-level so processes and Dask workers can run it).

    Text shards (a file or a byte range of one) take the fast path of
    :mod:`studylib.captions.fastscan`; the others are read by
    :func:`~studylib.captions.readers.iter_shard` and matched by ``match_batch``.
    """
    acc = _Accumulator(pat, opts["single_label"], opts["keep_matches"])
    path, fmt, part, _ = shard
    try:
        if fmt == "text" and os.path.isfile(path):
            lo, hi = part if isinstance(part, tuple) else (0, None)
            batches = iter_text_matches(path, lo, hi, pat, opts["negative_window"])
        else:
            batches = (
                match_batch(b, pat, opts["negative_window"])
                for b in iter_shard(shard, opts["batch_size"], acc.problems, acc.messages)
            )
        for out in batches:
            acc.add(out)
    except Exception as e:  # noqa: BLE001 - a bad file must not stop the scan
        acc.problems["unreadable"] += 1
        acc.messages.append(f"{shard[0]}: failed while reading ({type(e).__name__}: {e})")
    return acc.result()


def _run_shard_forked(args):
    shard, opts = args
    return _run_shard(shard, _FORK_STATE["pat"], opts)


def count_files(
    inputs,
    patterns: Patterns | str = "imagenet",
    *,
    column: str | None = None,
    fmt: str | None = None,
    single_label: bool = False,
    negative_window: int | None = None,
    keep_matches: bool = False,
    workers: int = 1,
    engine: str = "processes",
    client=None,
    batch_size: int = 16384,
    progress: bool = True,
    kernel: str = "auto",
) -> FrequencyResult:
    """Count concept mentions in caption files.

    ``inputs``: paths or glob patterns of text (one caption a line), TSV/CSV
    (``column`` names the caption column), parquet (``column``; read row group
    by row group) or webdataset tars (``.txt`` members, else ``.json[column]``,
    default keys caption/text). Shards (row groups, files) run on ``workers``
    processes, or on a Dask cluster with ``engine="dask"`` (``client``: a
    ``dask.distributed.Client``; a local cluster is started when omitted).
    Bad input is counted in ``result.problems`` and explained in
    ``result.messages``; it never raises. ``kernel``: ``"compiled"``, ``"numpy"`` or ``"auto"`` (the
    compiled pass from :data:`studylib.captions.compiled.MIN_BYTES` of input on, on local processes;
    :func:`studylib.captions.compiled.engine`); the counts are the same.
    """
    pat = build_patterns(patterns)
    paths = expand_inputs(inputs)
    shards, msgs = list_shards(paths, fmt, column)
    total = sum(os.path.getsize(p) for p in dict.fromkeys(s[0] for s in shards) if os.path.isfile(p))
    opts = dict(
        single_label=single_label,
        negative_window=negative_window,
        keep_matches=keep_matches,
        batch_size=batch_size,
    )
    with compiled.engine(kernel, total if engine == "processes" else 0):
        outs, shards = _count_shards(pat, shards, workers, engine, client, progress, opts)
    res = _combine(pat, outs, [s[0] for s in shards], single_label, keep_matches)
    res.messages = msgs + res.messages + _file_notes(shards, outs)
    return res


def _count_shards(pat, shards, workers, engine, client, progress, opts) -> tuple[list, list]:
    """(per-shard results, the shards as run: a big text file split over ``workers`` processes)."""
    if workers > 1 and engine == "processes":  # a big text file runs on several processes
        shards = [s2 for s in shards for s2 in _split_text(s, workers)]
    if engine == "dask":
        outs = _run_dask(shards, pat, opts, client, progress)
    elif engine != "processes":
        raise ValueError(f"engine must be 'processes' or 'dask', got {engine!r}")
    elif workers > 1 and len(shards) > 1 and _can_fork():
        _FORK_STATE.update(pat=pat)
        try:
            with mp.get_context("fork").Pool(min(workers, len(shards))) as pool:
                outs = list(
                    _progress(
                        pool.imap(_run_shard_forked, [(s, opts) for s in shards]),
                        progress,
                        len(shards),
                        "shards",
                    )
                )
        finally:
            _FORK_STATE.clear()
    else:
        outs = [_run_shard(s, pat, opts) for s in _progress(shards, progress, len(shards), "shards")]
    return outs, shards


def _split_text(shard, workers: int) -> list[tuple]:
    """A text shard as up to ``workers`` shards of whole lines (byte ranges of at least 4 MB)."""
    path, fmt, _, column = shard
    if fmt != "text" or not os.path.isfile(path):
        return [shard]
    ranges = line_ranges(path, workers)
    return [shard] if len(ranges) < 2 else [(path, fmt, r, column) for r in ranges]


def _file_notes(shards, outs, limit: int = 20) -> list[str]:
    """One line per file with bad captions: which problems, how many."""
    per_file: dict[str, Counter] = {}
    for s, o in zip(shards, outs):
        c = per_file.setdefault(s[0], Counter())
        c.update({k: v for k, v in o.problems.items() if v and k not in ("missing_column", "unreadable")})
    notes = [
        f"{p}: " + ", ".join(f"{v:,} {PROBLEM_LABELS.get(k, k)}" for k, v in sorted(c.items()))
        for p, c in per_file.items()
        if c
    ]
    if len(notes) > limit:
        notes = notes[:limit] + [f"... and {len(notes) - limit} more files with problems"]
    return notes


def _run_dask(shards, pat, opts, client, progress):
    try:
        from dask.distributed import Client, LocalCluster, as_completed
    except ImportError:
        raise ImportError("engine='dask' needs the optional extra: pip install 'dask[distributed]'") from None
    own = client is None
    if own:
        client = Client(
            LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None)
        )
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
