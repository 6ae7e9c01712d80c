"""Benchmark: ``freq count`` as a whole process vs the plain pyahocorasick loop and a byte counter.

Why: issue 15 (item 4) measures the caption scan as a user sees it, start-up,
imports and file reading included, against the simplest fast code a user
would write: a pyahocorasick automaton of the ImageNet synonyms (lower-cased,
each padded " syn "), fed ``" " + line.lower() + " "`` caption by caption,
counting each concept at most once per caption. The read-only ceiling is a
trivial byte counter over the same file (``b"\\n"`` in 16 MB blocks).

In ONE run this writes (seeded, into a temporary folder, never into the repo)
two text files of N one-line captions: the captions of
``bench/freq_throughput.py`` (names, plurals, capitals, possessives, hyphens,
punctuation, non-ASCII quotes and dashes) and a variant *without punctuation*
(base-form names in lower, title or upper case among filler words, no negative
contexts) on which the plain loop and studylib must count the same. It then
times, as separate processes with the wall clock, each the best of ``--repeat`` rounds (default 3) that
interleave all the commands, because this machine's speed drifts by a third within minutes:

* (a) the plain loop (a standalone script, no studylib import; its synonyms
  are those of ``build_patterns("imagenet")``'s concepts);
* (b) ``python -m studylib freq count --input FILE --out OUT.tsv --workers W --kernel K`` for
  K = numpy and compiled (issue 30), each also on a one-line file: its start-up and loading cost,
  so that the rate once started can be read off;
* (c) the byte counter,

on both files, prints captions/s and the ratios (ours / plain loop, ours /
ceiling), compares the per-concept count files of (a) and (b) on the text
without punctuation, and writes the same lines to
``bench/results/freq_process.txt``.

Run::

    python bench/freq_process.py                 # 4,000,000 captions, 2 workers
    python bench/freq_process.py --n 200000      # quicker
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from freq_throughput import FILLER, make_captions  # noqa: E402

from studylib.captions.patterns import build_patterns, tokenize  # noqa: E402
from studylib.fileio import atomic_write_text  # noqa: E402

PLAIN_LOOP = r"""
import json, sys
import ahocorasick

synonyms = json.load(open(sys.argv[1], encoding="utf-8"))     # [[syn, ...] per concept]
A = ahocorasick.Automaton()
for cid, syns in enumerate(synonyms):
    for s in syns:
        key = " " + s.lower() + " "
        A.add_word(key, A.get(key, ()) + (cid,))
A.make_automaton()
counts = [0] * len(synonyms)
with open(sys.argv[2], encoding="utf-8") as f:
    for line in f:
        found = set()
        for _, cids in A.iter(" " + line.rstrip("\n").lower() + " "):
            found.update(cids)
        for c in found:
            counts[c] += 1
with open(sys.argv[3], "w", encoding="utf-8") as out:
    out.write("".join(f"{c}\n" for c in counts))
"""

BYTE_COUNTER = r"""
import sys
n = 0
with open(sys.argv[1], "rb") as f:
    while block := f.read(16 << 20):
        n += block.count(b"\n")
print(n)
"""


def make_plain_captions(n: int, pat, seed: int = 1) -> list[str]:
    """Seeded captions without punctuation: base-form synonyms (letters, digits, spaces only) in
    lower, title or upper case among the filler words. No word of a negative phrase occurs (so no
    negative context can form, even across two adjacent mentions), and no filler word belongs to
    a synonym with punctuation (the plain loop cannot match "four-poster" as "four poster")."""
    rng = np.random.default_rng(seed)
    single = {toks[0] for toks in pat.phrases if len(toks) == 1}
    negatives = {w for spec in pat.specs for neg in spec.negatives for w in neg.split()}
    shared = {s for spec in pat.specs for s in spec.synonyms}
    # words of synonyms with punctuation ("four-poster"): filler must not spell them without it
    punctuated = {
        w for s in shared if not s.replace(" ", "").isalnum() for w in tokenize(s.replace("-", " "))
    }
    filler = [w for w in dict.fromkeys(FILLER) if w not in single | negatives | punctuated]
    names = sorted(
        s
        for s in shared
        if s.replace(" ", "").isalnum() and s.isascii() and len(s) <= 40 and not negatives & set(s.split())
    )
    mentions = [m for s in names for m in (s, s, s.title(), s.upper())]
    nf = rng.integers(3, 16, n)
    nm = rng.choice(3, n, p=[0.4, 0.45, 0.15])
    fill = rng.integers(0, len(filler), (n, 16)).tolist()
    ment = rng.integers(0, len(mentions), (n, 2)).tolist()
    where = rng.random((n, 2))
    out = []
    for i in range(n):
        words = [filler[j] for j in fill[i][: nf[i]]]
        for k in range(nm[i]):
            words.insert(int(where[i, k] * (len(words) + 1)), mentions[ment[i][k]])
        out.append(" ".join(words))
    return out


def timed(cmd: list[str], env=None) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    return time.perf_counter() - t


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=4_000_000, help="captions (default 4M)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeat", type=int, default=3, help="rounds; each time is the best of them (default 3)")
    ap.add_argument("--note", default="", help="a line for the header (e.g. the machine's load)")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "freq_process.txt"))
    args = ap.parse_args(argv)
    lines = []

    def say(s=""):
        print(s, flush=True)
        lines.append(s)

    py = sys.executable
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    pat = build_patterns("imagenet")
    load0 = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    with tempfile.TemporaryDirectory(prefix="freq_process_") as tmp:
        tmp = Path(tmp)
        t = time.perf_counter()
        files = {"punctuated": tmp / "captions.txt", "no punctuation": tmp / "plain.txt"}
        files["punctuated"].write_text(
            "\n".join(make_captions(args.n, pat, args.seed)) + "\n", encoding="utf-8"
        )
        files["no punctuation"].write_text(
            "\n".join(make_plain_captions(args.n, pat, args.seed + 1)) + "\n", encoding="utf-8"
        )
        (tmp / "synonyms.json").write_text(
            json.dumps([list(s.synonyms) for s in pat.specs]), encoding="utf-8"
        )
        (tmp / "plain_loop.py").write_text(PLAIN_LOOP, encoding="utf-8")
        (tmp / "bytes.py").write_text(BYTE_COUNTER, encoding="utf-8")
        (tmp / "tiny.txt").write_text("a tench\n", encoding="utf-8")
        sizes = {k: p.stat().st_size for k, p in files.items()}
        say(
            f"freq_process: {args.n:,} one-line captions per file (seed {args.seed}; generated in "
            f"{time.perf_counter() - t:.0f}s), {os.cpu_count()} CPUs, --workers {args.workers}, "
            f"1-min load {load0:.2f} before generating; every time is the best of {args.repeat} interleaved rounds"
            + (f"; {args.note}" if args.note else "")
        )
        warm = ["-m", "studylib", "freq", "count", "--input", str(tmp / "tiny.txt"), "--kernel", "compiled"]
        first = timed([py, *warm, "--out", str(tmp / "warm.tsv")], env=env)  # fills numba's cache when cold
        say(
            f"a first --kernel compiled run on a one-line file took {first:.2f}s (it compiles the pass when numba's cache is cold)"
        )
        same = None
        for kind, path in files.items():
            plain_cmd = [py, str(tmp / "plain_loop.py"), str(tmp / "synonyms.json"), str(path)]
            t_bytes = t_plain = float("inf")
            t_ours, t_fixed = {}, {}
            for _ in range(args.repeat):  # rounds interleave every command: a slow spell hits them all alike
                t_bytes = min(t_bytes, timed([py, str(tmp / "bytes.py"), str(path)]))
                t_plain = min(t_plain, timed([*plain_cmd, str(tmp / "plain_counts.txt")]))
                for kernel in ("numpy", "compiled"):

                    def ours(src, out, kernel=kernel):
                        cmd = ["-m", "studylib", "freq", "count", "--input", str(src), "--out", str(out)]
                        return timed([py, *cmd, "--workers", str(args.workers), "--kernel", kernel], env=env)

                    fixed = ours(tmp / "tiny.txt", tmp / f"tiny-{kernel}.tsv")  # start-up, loading
                    t_fixed[kernel] = min(t_fixed.get(kernel, float("inf")), fixed)
                    t_ours[kernel] = min(
                        t_ours.get(kernel, float("inf")), ours(path, tmp / f"ours-{kernel}.tsv")
                    )
            agree = (tmp / "ours-numpy.tsv").read_bytes() == (tmp / "ours-compiled.tsv").read_bytes()
            (tmp / "ours.tsv").write_bytes((tmp / "ours-compiled.tsv").read_bytes())
            say(
                f"{kind} ({sizes[kind] / 1e6:,.0f} MB): (a) plain pyahocorasick loop {t_plain:.2f}s "
                f"{args.n / t_plain:,.0f} captions/s | (c) byte counter {t_bytes:.2f}s "
                f"{args.n / t_bytes:,.0f} captions/s"
            )
            for kernel, t in t_ours.items():
                steady = args.n / max(t - t_fixed[kernel], 1e-9)
                say(
                    f"  (b) studylib freq count --kernel {kernel}: {t:.2f}s {args.n / t:,.0f} captions/s "
                    f"(whole process); {t_fixed[kernel]:.2f}s of it is start-up (the same command on a "
                    f"one-line file), so {steady:,.0f} captions/s once started; ours/plain loop "
                    f"{t_plain / t:.2f}x, ours/ceiling {t_bytes / t:.2f}"
                )
            say(f"  the two kernels' count files are identical: {agree}")
            same = agree if same is None else same and agree
            if kind == "no punctuation":
                plain = [int(x) for x in (tmp / "plain_counts.txt").read_text().split()]
                ours = [
                    int(line.rsplit("\t", 1)[1])
                    for line in (tmp / "ours.tsv").read_text(encoding="utf-8").splitlines()
                ]
                same = same and plain == ours
                diff = [(pat.names[i], a, b) for i, (a, b) in enumerate(zip(plain, ours)) if a != b]
                say(
                    f"  per-concept counts identical to the plain loop on the text without "
                    f"punctuation: {same} ({sum(ours):,} counted mentions, "
                    f"{sum(1 for c in ours if c)} concepts)" + (f"; differ: {diff[:5]}" if diff else "")
                )
    if hasattr(os, "getloadavg"):
        say(
            f"1-min load after the runs: {os.getloadavg()[0]:.2f} (this benchmark keeps one core busy, two while "
            "--workers 2 count; more means other work ran alongside)"
        )
    atomic_write_text(args.out, "\n".join(lines) + "\n")
    if same is False:
        sys.exit(
            "MISMATCH: the kernels differ, or studylib and the plain loop differ on the text without punctuation"
        )


if __name__ == "__main__":
    main()
