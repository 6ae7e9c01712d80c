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

from studylib.chapters import ch01, ch02, ch02b, ch02c, ch02d, ch02e, ch03a, ch03b
from studylib.io import atomic_write_text

CHAPTERS = (ch01, ch02, ch02b, ch02c, ch02d, ch02e, ch03a, ch03b)
START, END = "<!-- summary:start -->", "<!-- summary:end -->"


def table(registry, preset: str = "quick") -> pd.DataFrame:
    rows = [row for chapter in CHAPTERS for row in chapter.summary(registry, preset)]
    return pd.DataFrame(rows, columns=["chapter", "claim", "result", "verdict"])


def minutes_table(timings: dict) -> str:
    """Markdown: minutes per chapter of the last recorded execution (see :func:`studylib.execute.read_timings`)."""
    if not timings:
        return "*No recorded chapter timings yet (`make study` records them).*"
    rows = [{"chapter": name, "minutes": round(t["seconds"] / 60, 1), "runs trained": t["trained"],
             "executed (UTC)": t["when"][:16].replace("T", " ")} for name, t in sorted(timings.items())]
    total = sum(t["seconds"] for t in timings.values()) / 60
    rows.append({"chapter": "**all**", "minutes": round(total, 1),
                 "runs trained": sum(t["trained"] for t in timings.values()), "executed (UTC)": ""})
    return pd.DataFrame(rows).to_markdown(index=False)


def markdown(df: pd.DataFrame, preset: str = "quick", timings: dict | None = None) -> str:
    body = df.to_markdown(index=False)
    text = (f"{body}\n\n*Preset `{preset}`, generated from the run registry by `python -m studylib summary "
            f"--markdown`; `make study` rewrites this table.*")
    if timings is not None:
        text += (f"\n\nMinutes per chapter at `{preset}`, as last executed on this machine (a chapter whose runs "
                 f"were already in the registry trains nothing and takes far less):\n\n{minutes_table(timings)}")
    return text


def write_into(path: str | Path, text: str) -> None:
    """Replace the block between the summary markers of ``path`` with ``text``."""
    path = Path(path)
    old = path.read_text(encoding="utf-8")
    if START not in old or END not in old:
        raise ValueError(f"{path} has no {START} ... {END} block to fill")
    new = re.sub(re.escape(START) + ".*?" + re.escape(END), lambda _: f"{START}\n{text}\n{END}", old, flags=re.S)
    atomic_write_text(path, new)
