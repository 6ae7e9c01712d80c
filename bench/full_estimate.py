"""Estimate `make study-full`'s chapter-minutes before running it: train the runs of two seeds of each chapter
at preset `full` and extrapolate to the chapter's seed count.

Why: `full` must fit 90 minutes of wall time on this machine's 2 cores (issue: results at full), and a
chapter's cost at full is not quick's times a factor (more classes, more variants, MiniLM on more captions).
For each chapter given, seed 0's runs (which include the runs every seed shares: a baseline family, the
pretraining CLIP, MiniLM embeddings) and seed 1's (only what each further seed adds) are trained into a
temporary registry; the estimate is t(seed 0) + (seeds − 1) · t(seed 1). Runs a notebook trains beyond its
chapter's ``specs`` (chapter 1's sources and similarity study, chapter 2c's LAIONet profiles) and the analysis
are not counted: add quick's share of them. Writes ``bench/results/full_estimate_<name>.txt``.

    STUDYLIB_RESULTS=/tmp/fullprobe python bench/full_estimate.py 02 04 --name a
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import torch


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("chapters", nargs="+", help="chapter prefixes, e.g. 02 02b 03b")
    ap.add_argument("--name", default="all")
    args = ap.parse_args()
    if "STUDYLIB_RESULTS" not in os.environ:
        raise SystemExit("set STUDYLIB_RESULTS to a temporary folder: this trains runs at preset full")
    torch.set_num_threads(1)
    from studylib.chapters import modules
    from studylib.session import Session

    lines = [f"# full_estimate  {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}  one thread per process"]
    for m in modules():
        if not any(m.NAME.split("_")[0] == c for c in args.chapters):
            continue
        s = Session(m.NAME, "full", sizes=m.SIZES, seeds=m.SEEDS, progress=False)
        seeds = s.seeds()
        spent = []
        for k in seeds[:2]:
            t0 = time.perf_counter()
            s.run_all(m.specs(s, k))
            spent.append(time.perf_counter() - t0)
        est = spent[0] + (len(seeds) - 1) * spent[-1]
        lines.append(
            f"{m.NAME:30s} seeds {len(seeds):2d}  seed 0 {spent[0] / 60:5.1f} min, seed 1 {spent[-1] / 60:5.1f} min"
            f"  -> about {est / 60:5.1f} chapter-minutes of runs"
        )
        print(lines[-1], flush=True)
    out = Path(__file__).resolve().parent / "results" / f"full_estimate_{args.name}.txt"
    out.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
