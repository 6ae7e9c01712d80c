"""Where the study's CPU time goes, from a sampling profile of every process of a run (py-spy).

``bench/study_profile.py`` splits wall time by the phases studylib marks. This splits the CPU samples of
all processes (runner, chapter children, kernels) by what was on the stack, so that "analysis and other"
and "start-up" can be looked into: per category the seconds, and for the rest the functions (studylib
code and notebook cells) that were deepest on the stack. Threads that only wait (ipykernel's I/O,
heartbeat and parent pollers, zmq devices, tqdm's monitor) are left out: py-spy samples them as busy
while they block in C.

Record (py-spy is not a dependency: install it anywhere, e.g. ``pip install --target /tmp/pyspy py-spy``)::

    py-spy record --subprocesses --rate 40 --format raw -o /tmp/study.raw -- \\
        .venv/bin/python bench/study_profile.py --out /tmp/study_profile.txt
    python bench/cpu_profile.py /tmp/study.raw --rate 40

Output also goes to ``bench/results/cpu_profile.txt``.
"""

from __future__ import annotations

import argparse
import collections
import re

from report import RESULTS, header, publish

# first match wins, tested on the frames of one sample below its process
CATEGORIES = (
    ("train", "train (studylib/train.py"),
    ("evaluate", "evaluate_run (studylib/pipeline.py"),
    ("evaluate", "fit_probe ("),
    ("world", "load_or_make (studylib/world_store.py"),
    ("embeddings", "embed_texts (studylib/concepts.py"),
    ("import", "_find_and_load ("),
)
WAITING = (
    "_watch_pipe_fd",
    "ParentPollerUnix.run",
    "device (zmq",
    "GarbageCollectorThread.run",
    "Heartbeat.run",
    "TMonitor.run",
    "ShellChannelThread.run",
    "ControlThread.run",
    "IOPubThread",
)
IDLE_CALLS = {"select", "wait", "poll", "sleep", "acquire"}  # a sample whose innermost call blocks
FRAME = re.compile(r"(\S+) \((.*?):(\d+)\)")


def process_kind(frame: str) -> str:
    if "ipykernel_launcher" in frame:
        return "kernel"
    return "chapter child" if "studylib.execute" in frame else "runner"


def aggregate(lines, rate: float):
    """(seconds by (process kind, category), seconds of 'other' by deepest studylib or notebook frame)."""
    cats, other = collections.Counter(), collections.defaultdict(collections.Counter)
    for line in lines:
        stack, _, count = line.rstrip().rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = stack.split(";")
        proc = [i for i, f in enumerate(frames) if f.startswith("process ")]
        kind = process_kind(frames[proc[-1]]) if proc else "runner"
        rest = frames[proc[-1] + 1 :] if proc else frames
        joined = ";".join(rest)
        leaf = FRAME.match(rest[-1]) if rest else None
        if not leaf or leaf.group(1).rsplit(".", 1)[-1] in IDLE_CALLS or any(w in joined for w in WAITING):
            continue
        cat = next((name for name, mark in CATEGORIES if mark in joined), "other")
        cats[(kind, cat)] += int(count) / rate
        if cat == "other":
            ours = [f for f in rest if "studylib/" in f or re.search(r"\(\d+\.py:", f)]
            where = FRAME.match(ours[-1]) if ours else None
            other[kind][f"{where.group(1)} ({where.group(2)})" if where else "(library code only)"] += (
                int(count) / rate
            )
    return cats, other


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("raw", help="py-spy --format raw output")
    ap.add_argument("--rate", type=float, default=40, help="the sampling rate py-spy was given (per second)")
    ap.add_argument("--top", type=int, default=15)
    ap.add_argument("--title", default="", help="a line saying what was profiled")
    ap.add_argument("--out", default=str(RESULTS / "cpu_profile.txt"))
    args = ap.parse_args()
    with open(args.raw, encoding="utf-8", errors="replace") as f:
        cats, other = aggregate(f, args.rate)
    total = sum(cats.values())
    lines = [
        header("cpu_profile"),
        f"# {args.title}".rstrip(),
        f"# {total:.0f} CPU-seconds sampled (waiting threads left out)",
        "",
        f"{'process':14s} {'category':11s} {'seconds':>8s} {'share':>6s}",
    ]
    lines += [f"{k:14s} {c:11s} {v:8.1f} {100 * v / total:5.1f}%" for (k, c), v in cats.most_common()]
    train = sum(v for (k, c), v in cats.items() if c == "train")
    lines += ["", f"outside training: {100 * (1 - train / total):.1f}% of the CPU time"]
    for kind, counter in other.items():
        lines += ["", f"'other' in the {kind} processes, by deepest studylib or notebook frame:"]
        lines += [f"  {v:7.1f} s  {k}" for k, v in counter.most_common(args.top)]
    publish(lines, args.out)


if __name__ == "__main__":
    main()
