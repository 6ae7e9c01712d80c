"""Two single-threaded training processes against one process with two threads, on this CPU.

Why `make study` runs two chapters at a time, each kernel on one thread: the tiny models'
convolutions and matmuls are too small to keep two threads busy, so two independent runs
(one thread each) train more samples per second in total than one run with both threads.
Each variant trains the quick-preset SL and CLIP models for a fixed number of steps on the
same random data (`bench/train_throughput.py`'s bare loop); samples/s are summed over the
processes of a variant; variants are measured in the same run, interleaved, median of 3.

    python bench/parallel_kernels.py

Output also goes to bench/results/parallel_kernels.txt.
"""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
from pathlib import Path

CHILD = """
import sys, torch
torch.set_num_threads(int(sys.argv[1]))
sys.path.insert(0, sys.argv[3])
from train_throughput import bare_loop, make_data
from studylib.config import train_config
from studylib.spec import resolve
p = resolve("quick", epochs=1, warmup_steps=5, checkpoint_every=0)
cfg = train_config(p, objective=sys.argv[2])
data = make_data(60 * cfg.batch_size, p["n_classes"], 3600, p["image_size"], p["context_length"])
bare_loop(p, cfg, make_data(4 * cfg.batch_size, p["n_classes"], 3600, p["image_size"], p["context_length"]),
          p["n_classes"], 3600)
print(bare_loop(p, cfg, data, p["n_classes"], 3600))
"""


def measure(objective: str, threads: int, processes: int) -> float:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    here = str(Path(__file__).parent)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, str(threads), objective, here],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        for _ in range(processes)
    ]
    return sum(float(p.communicate()[0].strip().splitlines()[-1]) for p in procs)


def main():
    lines = [f"# parallel_kernels  {platform.processor() or platform.machine()}  cores={os.cpu_count()}"]
    for objective in ("sl", "clip"):
        res = {"1 process x 2 threads": [], "2 processes x 1 thread": []}
        for _ in range(3):
            res["1 process x 2 threads"].append(measure(objective, 2, 1))
            res["2 processes x 1 thread"].append(measure(objective, 1, 2))
        med = {k: statistics.median(v) for k, v in res.items()}
        for k, v in med.items():
            lines.append(
                f"{objective:5s} {k:24s} {v:7.0f} samples/s in total  "
                f"(runs: {', '.join(f'{x:.0f}' for x in res[k])})"
            )
        lines.append(
            f"{objective:5s} ratio two single-threaded / one two-threaded: "
            f"{med['2 processes x 1 thread'] / med['1 process x 2 threads']:.2f}"
        )
    text = "\n".join(lines)
    print(text)
    out = Path(__file__).parent / "results" / "parallel_kernels.txt"
    out.write_text(text + "\n")


if __name__ == "__main__":
    main()
