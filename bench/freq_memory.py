"""Benchmark: ``freq count``'s peak memory on a 1 GB file of one line and on a 1 GB file of short lines.

Why: the reliability issue (bounded memory) found a 200 MB caption file on one line peaking at 4.7 GB (23x
the file), so a 1 GB file would exhaust a 24 GB machine. ``freq count`` now reads text by blocks of about
1 MiB whatever the line lengths (``studylib.captions.fastscan.split_long_line``). This measures, in ONE run,
as separate processes:

* (a) ``python -m studylib freq count --input FILE --out OUT.tsv --workers W`` on each file;
* (b) the baseline: a process that imports studylib's counting stack (numpy, pyarrow, the patterns) and
  reads the same file in 1 MiB blocks, counting newlines, so (a) minus (b) is what counting adds.

Peak memory is the largest sum of resident set sizes over the process group (the command and its worker
processes), sampled every 20 ms from /proc. Files are written (seeded) into a temporary folder, never
into the repository. Results go to ``bench/results/freq_memory.txt``.

    python bench/freq_memory.py                # 1 GB files, 2 workers
    python bench/freq_memory.py --mb 200       # quicker
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

OUT = Path(__file__).resolve().parent / "results" / "freq_memory.txt"
WORDS = (
    "a photo of the goldfish tench great white shark on a sunny beach with my dog puppy and a red "
    "umbrella near the mountain tomato soup recipe cheap hotel deals sale free shipping "
).split()
BASELINE = (
    "import sys\n"
    "import numpy, pyarrow\n"
    "from studylib.captions.patterns import build_patterns\n"
    "build_patterns('imagenet')\n"
    "n = 0\n"
    "with open(sys.argv[1], 'rb') as f:\n"
    "    while block := f.read(1 << 20):\n"
    "        n += block.count(b'\\n')\n"
    "print(n)\n"
)


def write_file(path: Path, size: int, one_line: bool, seed: int = 0) -> None:
    rnd = random.Random(seed)
    chunk = []
    for _ in range(20000):
        n = rnd.randint(4, 18)
        chunk.append(" ".join(rnd.choice(WORDS) for _ in range(n)))
    sep = " " if one_line else "\n"
    block = (sep.join(chunk) + sep).encode()
    with open(path, "wb") as f:
        written = 0
        while written < size:
            f.write(block)
            written += len(block)


def _group_rss(pgid: int) -> int:
    total = 0
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # field 5 of stat: the process group
            total += int(fields[21]) * os.sysconf("SC_PAGE_SIZE")  # field 24: rss in pages
    return total


def peak_of(cmd: list[str]) -> tuple[float, int, int]:
    """(seconds, peak bytes of the process group, exit code) of ``cmd``."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = 0
    while p.poll() is None:
        peak = max(peak, _group_rss(p.pid))
        time.sleep(0.02)
    err = p.stderr.read().decode(errors="replace")
    if p.returncode:
        print(err[-2000:], file=sys.stderr)
    return time.perf_counter() - t0, peak, p.returncode


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mb", type=int, default=1024, help="size of each file in MiB")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    size = args.mb << 20
    lines = [
        f"# freq_memory  {platform.machine()}  cores={os.cpu_count()}  files={args.mb} MiB  "
        f"workers={args.workers}  {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
    ]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        base = tmp / "baseline.py"
        base.write_text(BASELINE)
        for name, one_line in (("one line", True), ("short lines", False)):
            path = tmp / ("one_line.txt" if one_line else "lines.txt")
            write_file(path, size, one_line)
            mb = path.stat().st_size / 2**20
            b_sec, b_peak, b_rc = peak_of([sys.executable, str(base), str(path)])
            cmd = [sys.executable, "-m", "studylib", "freq", "count", "--input", str(path)]
            cmd += ["--out", str(tmp / "out.tsv"), "--workers", str(args.workers), "--no-progress"]
            sec, peak, rc = peak_of(cmd)
            lines.append(
                f"{name:12s} {mb:7.0f} MiB  freq count: peak {peak / 2**20:6.0f} MiB "
                f"({peak / path.stat().st_size:.2f}x the file), {sec:5.1f} s, exit {rc}  |  baseline reader: "
                f"peak {b_peak / 2**20:5.0f} MiB, {b_sec:5.1f} s, exit {b_rc}  |  "
                f"freq count - baseline: {(peak - b_peak) / 2**20:6.0f} MiB"
            )
            print(lines[-1], flush=True)
            path.unlink()
    OUT.write_text("\n".join(lines) + "\n")
    print(f"-> {OUT}")


if __name__ == "__main__":
    main()
