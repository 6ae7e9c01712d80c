"""Start-up costs that every chapter pays, each timed in fresh processes against the way it was done before.

1. The chapter child (``python -m studylib.execute``) imports papermill, nbclient and jupytext. Through
   nbformat that imports jsonschema, which imports ``rfc3987_syntax`` when installed, and that module builds
   an IRI parser at import. The child now marks it absent (``studylib/execute.py``).
2. A chapter kernel's first CLIP run needs open_clip's ``ClipLoss`` and BPE tokenizer. ``import open_clip.loss``
   runs the package's ``__init__`` (every model family, torchvision, transformers);
   :mod:`studylib.models.openclip_parts` loads the two files alone. Timed after ``import torch``, which
   every chapter needs anyway.

Each variant runs ``--repeats`` times, alternating, on an idle machine; the median is reported.

    python bench/imports.py [--repeats 7]

Output also goes to ``bench/results/imports.txt``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys

from report import RESULTS, header, publish

TIMED = "import time, sys\n{setup}\nt0 = time.perf_counter()\n{body}\nprint(time.perf_counter() - t0)\n"
VARIANTS = {
    "child imports, as before": ("", "import papermill, nbclient, jupytext"),
    "child imports, rfc3987_syntax marked absent": (
        'sys.modules.setdefault("rfc3987_syntax", None)',
        "import papermill, nbclient, jupytext",
    ),
    "CLIP loss + tokenizer via open_clip": ("import torch", "import open_clip.loss, open_clip.tokenizer"),
    "CLIP loss + tokenizer via openclip_parts": (
        "import torch",
        "from studylib.models.openclip_parts import part\npart('loss'); part('tokenizer')",
    ),
}


def seconds(setup: str, body: str) -> float:
    out = subprocess.run(
        [sys.executable, "-c", TIMED.format(setup=setup, body=body)],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    return float(out.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--out", default=str(RESULTS / "imports.txt"))
    args = ap.parse_args()
    times = {name: [] for name in VARIANTS}
    for _ in range(args.repeats):
        for name, (setup, body) in VARIANTS.items():
            times[name].append(seconds(setup, body))
    med = {name: statistics.median(t) for name, t in times.items()}
    names = list(VARIANTS)
    lines = [header("imports", repeats=args.repeats)]
    lines += [
        f"{name:45s} {med[name]:6.2f} s  (runs: {', '.join(f'{t:.2f}' for t in times[name])})"
        for name in names
    ]
    lines += [
        f"chapter child start: {med[names[0]] / med[names[1]]:.2f}x faster, "
        f"{med[names[0]] - med[names[1]]:.2f} s saved per chapter",
        f"first CLIP run of a kernel: {med[names[2]] / med[names[3]]:.2f}x faster, "
        f"{med[names[2]] - med[names[3]]:.2f} s saved per kernel",
    ]
    publish(lines, args.out)


if __name__ == "__main__":
    main()
