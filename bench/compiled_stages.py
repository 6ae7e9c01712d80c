"""Where the compiled caption pass spends its time, stage by stage, in one process on one core.

Why: ``bench/freq_process.py`` times ``freq count`` as a whole process; this splits the compiled pass
(``studylib.captions.compiled``, ``studylib.captions.kernels``) over the same kind of captions into its
stages, each timed alone over the whole input (best of ``--repeats``): preparing the blocks (UTF-8 checks,
special characters), finding line bounds, then the three loops of one block (:func:`kernels.words`: normalise
and look every word up; :func:`kernels.mentions`: walk the word trie; :func:`kernels.emit`: negatives, the
common-word rules, dedupe), and the whole ``match`` for comparison. It says where a faster pass would have to
come from. Two bounds follow: a scan that only maps every byte through the normalisation table and counts
word ends (no packing, no lookup: any pass that reads every byte does at least this), and numba's import in a
fresh interpreter; from them, the most captions/s that ``freq count --workers 2`` could reach as a whole
process on ``bench/freq_process.py``'s 4M captions if the words stage ran at the scan's speed, every other
stage cost what it costs here and two workers halved the work, with no other cost.

Run::

    python bench/compiled_stages.py                 # 1M captions, writes bench/results/compiled_stages.txt
    python bench/compiled_stages.py --n 200000 --out /tmp/stages.txt
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from freq_throughput import make_captions  # noqa: E402
from report import RESULTS, header, publish  # noqa: E402

from studylib.captions import compiled, kernels  # noqa: E402
from studylib.captions.fastscan import BLOCK_BYTES, prepare  # noqa: E402
from studylib.captions.patterns import build_patterns  # noqa: E402


def blocks_of(raw: bytes, size: int = BLOCK_BYTES) -> list[bytes]:
    """``raw`` cut after a newline into blocks of at most about ``size`` bytes, as ``freq count`` reads it."""
    out, i = [], 0
    while i < len(raw):
        j = raw.rfind(b"\n", i, i + size) + 1
        j = j if j > i else len(raw)
        out.append(raw[i:j])
        i = j
    return out


def best(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def scan_bound(buf, bounds, table):
    """Words in the captions, counted by mapping every byte through ``table``: a lower bound on any pass's time."""
    n = 0
    for k in range(bounds.size - 1):
        inword = False
        for i in range(bounds[k], bounds[k + 1]):
            word = table[buf[i]] > 32
            n += inword and not word
            inword = word
        n += inword
    return n


def numba_import(repeats: int) -> float:
    """Best wall seconds of ``import numba`` in a fresh interpreter, less a bare interpreter's start."""
    run = [sys.executable, "-c"]
    return best(lambda: subprocess.run([*run, "import numba"], check=True), repeats) - best(
        lambda: subprocess.run([*run, "pass"], check=True), repeats
    )


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=1_000_000, help="captions (default 1M)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--out", default=str(RESULTS / "compiled_stages.txt"))
    args = ap.parse_args(argv)
    if not compiled.enabled():
        sys.exit("compiled_stages needs numba (and STUDYLIB_COMPILED unset or not 0)")
    pat = build_patterns("imagenet")
    raw = ("\n".join(make_captions(args.n, pat, args.seed)) + "\n").encode("utf-8")
    bounds_kernel, match_kernel = compiled._kernels()  # the loops, compiled (or loaded from numba's cache)
    vocab, trie, common = compiled.tables(pat).arguments()
    blocks = blocks_of(raw)
    views = [compiled._bytes_view(prepare(b, Counter())[0]) for b in blocks]
    bounds = [bounds_kernel(v)[0] for v in views]
    words = [kernels.words(v, b, compiled.TABLE, vocab) for v, b in zip(views, bounds)]
    ments = [kernels.mentions(ids, first, trie) for ids, first in words]
    stages = {
        "prepare": lambda: [prepare(b, Counter()) for b in blocks],
        "line bounds": lambda: [bounds_kernel(v) for v in views],
        "words": lambda: [kernels.words(v, b, compiled.TABLE, vocab) for v, b in zip(views, bounds)],
        "mentions": lambda: [kernels.mentions(ids, first, trie) for ids, first in words],
        "emit": lambda: [kernels.emit(m, mf, -1, common) for m, mf in ments],
        "match (words + mentions + emit)": lambda: [
            match_kernel(v, b, compiled.TABLE, vocab, trie, common, -1) for v, b in zip(views, bounds)
        ],
    }
    seconds = {name: best(fn, args.repeats) for name, fn in stages.items()}
    scan = compiled._numba().njit(nogil=True, boundscheck=False)(scan_bound)
    scan(views[0], bounds[0], compiled.TABLE)  # compiled before it is timed
    bound = best(lambda: [scan(v, b, compiled.TABLE) for v, b in zip(views, bounds)], args.repeats)
    imp = numba_import(args.repeats)
    n_words = sum(int(first[-1]) for _, first in words)
    hits = sum(int((ids[: first[-1]] >= 0).sum()) for ids, first in words)
    lines = [
        header("compiled_stages", threads=1),
        f"{args.n:,} captions (bench/freq_throughput.py's make_captions, seed {args.seed}), {len(raw) / 1e6:.0f} MB, "
        f"{len(blocks)} blocks; {n_words:,} words, {hits:,} of them in the vocabulary; "
        f"{sum(int(mf[-1]) for _, mf in ments):,} mentions; best of {args.repeats}, one thread",
    ]
    parts = sum(v for k, v in seconds.items() if not k.startswith("match"))
    for name, s in seconds.items():
        share = "" if name.startswith("match") else f"  {s / parts:5.1%} of the stages"
        lines.append(
            f"{name:32s} {s:6.3f} s  {len(raw) / s / 1e6:7.0f} MB/s  {args.n / s / 1e6:6.2f}M captions/s{share}"
        )
    lines.append(
        f"{'bound: scan only':32s} {bound:6.3f} s  {len(raw) / bound / 1e6:7.0f} MB/s  {args.n / bound / 1e6:6.2f}M "
        "captions/s  (every byte through the table, word ends counted: no packing, no lookup)"
    )
    lines.append(
        f"bound: import numba              {imp:6.3f} s  (a fresh interpreter, less a bare one's start)"
    )
    # every stage as measured, the words stage at the scan bound, per million captions
    rest = (parts - seconds["words"] + bound) * 1e6 / args.n
    # bench/freq_process.py's 4M captions, two workers halving the work, nothing else
    whole = imp + 4 * rest / 2
    lines.append(
        f"ceiling for freq count --workers 2 on 4M captions as a whole process, numba imported, the words stage "
        f"at the scan bound, two workers halving the work and no other cost (Python, reading): {imp:.2f} + 4 x "
        f"{rest:.3f} / 2 = {whole:.2f} s, {4 / whole:.2f}M captions/s"
    )
    publish(lines, args.out)


if __name__ == "__main__":
    main()
