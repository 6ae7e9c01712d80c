"""The study's results table, computed from the run registry: ``python -m studylib summary --markdown``.

Every chapter module with a ``summary(registry, preset)`` function contributes
rows (chapter, claim, result, verdict). ``make study`` writes the Markdown
table into the README between the ``summary`` markers, so the README's
verdicts are computed, never typed.
"""
from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from studylib.chapters import ch01, ch02
from studylib.io import atomic_write_text

CHAPTERS = (ch01, ch02)
START, END = "<!-- summary:start -->", "<!-- summary:end -->"


def table(registry, preset: str = "quick") -> pd.DataFrame:
    rows = [row for chapter in CHAPTERS for row in chapter.summary(registry, preset)]
    return pd.DataFrame(rows, columns=["chapter", "claim", "result", "verdict"])


def markdown(df: pd.DataFrame, preset: str = "quick") -> str:
    body = df.to_markdown(index=False)
    return (f"{body}\n\n*Preset `{preset}`, generated from the run registry by `python -m studylib summary "
            f"--markdown`; `make study` rewrites this table.*")


def write_into(path: str | Path, text: str) -> None:
    """Replace the block between the summary markers of ``path`` with ``text``."""
    path = Path(path)
    old = path.read_text(encoding="utf-8")
    if START not in old or END not in old:
        raise ValueError(f"{path} has no {START} ... {END} block to fill")
    new = re.sub(re.escape(START) + ".*?" + re.escape(END), lambda _: f"{START}\n{text}\n{END}", old, flags=re.S)
    atomic_write_text(path, new)
