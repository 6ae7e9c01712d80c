"""Where the study's wall time goes, chapter by chapter, at a preset (default ``quick``).

Runs every chapter the way ``make study`` does (``studylib.runner.run_chapters``: papermill,
one single-threaded kernel per notebook, as many chapters at a time as cores, at most 4)
against an empty run registry and cache in a temporary folder, as on a fresh clone, and
prints minutes per chapter split into start-up (kernel start and imports), world
generation, MiniLM embeddings, training, evaluation, figure export, and analysis and
other; the share outside training; and the slowest training runs. ``--warm``
then runs the whole study again on the same registry (nothing left to train) and reports
that total. ``--report`` prints the same table from the last ``make study`` instead
(``results/executed/timings-<preset>.json``), which is what the README's table shows.

    python bench/study_profile.py                 # cold run, minutes (benchmark on an idle machine)
    python bench/study_profile.py --warm          # then a warm rerun
    python bench/study_profile.py --report        # the last make study's record

Output also goes to ``bench/results/study_profile.txt``.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from report import RESULTS, header, publish

from studylib.chapters import after
from studylib.chapters.summary import minutes_table
from studylib.profiling import read_timings
from studylib.runner import run_chapters


def slowest_runs(timings: dict, k: int = 8) -> list[str]:
    runs = [
        (r["seconds"], chapter, r["run"])
        for chapter, t in timings.items()
        for r in t.get("runs", [])
        if r["phase"] == "train"
    ]
    return [f"  {s:6.1f} s  {chapter}: {run}" for s, chapter, run in sorted(runs, reverse=True)[:k]]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--preset", default="quick")
    ap.add_argument("--warm", action="store_true", help="also time a second, warm run of the whole study")
    ap.add_argument("--report", action="store_true", help="print the last make study's record; run nothing")
    ap.add_argument(
        "-j",
        "--jobs",
        type=int,
        default=min(4, os.cpu_count() or 1),
        help="chapters at a time (default as `make study`: the cores, at most 4)",
    )
    ap.add_argument("--out", default=str(RESULTS / "study_profile.txt"))
    args = ap.parse_args()
    head = [header("study_profile", preset=args.preset)]
    if args.report:
        timings = read_timings(args.preset)
        lines = head + ["# source: the last `make study` (results/executed)", "", minutes_table(timings)]
    else:
        with tempfile.TemporaryDirectory() as tmp:
            for var, sub in (
                ("STUDYLIB_RESULTS", "results"),
                ("STUDYLIB_CACHE", "results/cache"),
                ("STUDYLIB_FIGURES", "figures"),
                ("STUDYLIB_CARDS", "cards"),
            ):
                os.environ[var] = str(Path(tmp) / sub)
            t0 = time.perf_counter()
            run_chapters(preset=args.preset, progress=False, jobs=args.jobs, after=after())
            cold = time.perf_counter() - t0
            timings = read_timings(args.preset)
            lines = head + [
                f"# cold: empty registry and cache; {cold / 60:.1f} minutes in all",
                "",
                minutes_table(timings),
            ]
            if args.warm:
                t0 = time.perf_counter()
                run_chapters(preset=args.preset, progress=False, jobs=args.jobs, after=after())
                lines.append(f"\nwarm rerun (every run cached): {time.perf_counter() - t0:.0f} s")
    lines += ["", "slowest training runs:", *slowest_runs(timings)]
    publish(lines, args.out)


if __name__ == "__main__":
    main()
