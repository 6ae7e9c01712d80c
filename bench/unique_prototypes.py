"""Benchmark: studylib.metrics.unique_prototypes at DINO's size, 65,536 prototypes of dimension 256.

Blocked: it never holds the 65,536² similarity matrix (16 GiB in float32), only one block of rows
against the rest. Prints seconds and the process's peak resident memory for two inputs: random
directions (nearly all unique) and 4,096 tight clusters of 16 (a heavily collapsed head, as the
paper finds). The baseline, measured in the same run, is the unavoidable part of the work: the
blocked matrix products alone (upper triangle), without thresholding or grouping. The ratio says
what the counting adds on top.

    .venv/bin/python bench/unique_prototypes.py            # writes bench/results/unique_prototypes.txt
"""

from __future__ import annotations

import platform
import resource
import sys
import time
from pathlib import Path

import numpy as np
import torch

from studylib.metrics import unique_prototypes

N, D, BLOCK = 65_536, 256, 2048


def matmuls_only(w: np.ndarray, block: int = BLOCK) -> None:
    x = torch.nn.functional.normalize(torch.from_numpy(w), dim=1)
    with torch.inference_mode():
        for start in range(0, len(x), block):
            (x[start : start + block] @ x[start:].T).max()


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(fn, *args, **kw):
    t = time.perf_counter()
    out = fn(*args, **kw)
    return out, time.perf_counter() - t


def main() -> None:
    rng = np.random.default_rng(0)
    random = rng.normal(size=(N, D)).astype(np.float32)
    centres = rng.normal(size=(N // 16, D)).astype(np.float32)
    clustered = np.repeat(centres, 16, axis=0) + rng.normal(0, 0.01, (N, D)).astype(np.float32)
    lines = [
        f"unique_prototypes at {N} x {D}, block {BLOCK}; torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads, {platform.processor() or platform.machine()}"
    ]
    _, base = timed(matmuls_only, random)
    lines.append(f"baseline (blocked products only): {base:.1f} s")
    for name, w, expected in (("random directions", random, N), ("4096 clusters of 16", clustered, N // 16)):
        count, secs = timed(unique_prototypes, w)
        lines.append(
            f"{name}: {count} unique (expected {expected}), {secs:.1f} s = {secs / base:.2f} x baseline"
        )
    lines.append(
        f"peak resident memory of the process: {peak_mib():.0f} MiB "
        f"(the inputs alone: {2 * random.nbytes / 2**20:.0f} MiB)"
    )
    text = "\n".join(lines)
    print(text)
    out = Path(__file__).parent / "results" / "unique_prototypes.txt"
    if "--no-write" not in sys.argv:
        out.write_text(text + "\n")


if __name__ == "__main__":
    main()
