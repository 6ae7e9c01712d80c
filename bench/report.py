"""What every benchmark does with its result: a header line naming the machine, then print and keep it.

from report import header, publish          # bench/ is the script's folder, so on sys.path
publish([header("pruning", threads=1), ...], args.out)
"""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path

from studylib.fileio import atomic_write_text

RESULTS = Path(__file__).resolve().parent / "results"


def header(name: str, **extra) -> str:
    """``# name  machine  cores=N  key=value ...  date``."""
    more = "".join(f"  {k}={v}" for k, v in extra.items())
    return (
        f"# {name}  {platform.processor() or platform.machine()}  cores={os.cpu_count()}{more}  "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
    )


def publish(lines: list[str], out: str | Path) -> str:
    """Print ``lines`` and write them to ``out`` (atomically); return the text."""
    text = "\n".join(lines) + "\n"
    print(text)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out, text)
    return text
