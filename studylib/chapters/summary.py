"""The study's results table, computed from the run registry: ``python -m studylib summary --markdown``.

Every chapter module contributes its ``claims`` (chapter, claim, quantity, result, verdict), computed
from its runs as stored in the registry at the preset's default parameters. ``make study`` writes the
Markdown table into the README between the ``summary`` markers, so the README's verdicts are computed,
never typed.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd

from studylib import claims
from studylib.chapters import modules
from studylib.fileio import atomic_write_text

START, END = "<!-- summary:start -->", "<!-- summary:end -->"
# The minutes table has its own block: only `make publish` (`summary --write FILE --timings`) writes it, so a
# `make study` on another machine leaves the tracked README as it was when the numbers are the same.
MINUTES_START, MINUTES_END = "<!-- minutes:start -->", "<!-- minutes:end -->"


def chapter_rows(module, registry, preset: str = "quick") -> list[dict]:
    """One chapter's claim rows from its runs in ``registry`` (at its default parameters), or one row saying
    which runs are missing. Nothing is trained."""
    from studylib.chapters.stored import not_run, stored_by_seed
    from studylib.session import Session

    s = Session(module.NAME, preset, sizes=module.SIZES, seeds=module.SEEDS, progress=False)
    s.registry = registry
    runs_by_seed = stored_by_seed(registry, s, lambda k: module.specs(s, k))
    if missing := not_run(module.NAME, *runs_by_seed.values()):
        return missing
    path = _cache_path(registry, module.NAME, preset, runs_by_seed)
    if path.exists():
        return json.loads(path.read_text(encoding="utf-8"))
    rows = [{k: r.get(k, "") for k in claims.COLUMNS} for r in module.claims(s, runs_by_seed)]
    atomic_write_text(path, json.dumps(rows, ensure_ascii=False))
    return rows


def _cache_path(registry, chapter: str, preset: str, runs_by_seed: dict) -> Path:
    """Where a chapter's claim rows are kept, beside the registry (``<results>/summary/``): named by all of
    studylib's code and the keys of the runs they read, so a rerun with nothing changed reads them instead of
    recomputing every interval."""
    from studylib.fingerprint import analysis_fingerprint

    keys = sorted(f"{k}:{label}:{r.key}" for k, runs in runs_by_seed.items() for label, r in runs.items())
    h = hashlib.sha256("\n".join([analysis_fingerprint(), chapter, preset, *keys]).encode()).hexdigest()[:20]
    folder = Path(registry.root).parent / "summary"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{chapter}-{preset}-{h}.json"


def table(registry, preset: str = "quick") -> pd.DataFrame:
    return claims.table([row for module in modules() for row in chapter_rows(module, registry, preset)])


PHASE_COLUMNS = ("start-up", "world", "embeddings", "train", "evaluate", "figures", "analysis and other")


def minutes_table(timings: dict) -> str:
    """Markdown: minutes per chapter of the last recorded execution, split by phase where recorded (see
    :func:`studylib.execute.split_time`), and the share of the time spent outside training."""
    if not timings:
        return "*No recorded chapter timings yet (`make study` records them).*"
    wall, prepare, warm = timings.get("__wall__"), timings.get("__prepare__"), timings.get("__warm__")
    written = timings.get("__summary__")
    timings = {k: v for k, v in timings.items() if not k.startswith("__")}
    if not timings:
        return "*No recorded chapter timings yet (`make study` records them).*"
    rows = []
    for name, t in sorted(timings.items()):
        phases = t.get("phases", {})
        rows.append(
            {
                "chapter": name,
                "minutes": t["seconds"] / 60,
                **{k: phases.get(k, float("nan")) / 60 for k in PHASE_COLUMNS},
                "runs trained": t["trained"],
                "executed (UTC)": t["when"][:16].replace("T", " "),
            }
        )
    df = pd.DataFrame(rows)
    total = df.drop(columns=["chapter", "executed (UTC)"]).sum(min_count=1)
    df = pd.concat(
        [df, pd.DataFrame([{"chapter": "**all**", **total.to_dict(), "executed (UTC)": ""}])],
        ignore_index=True,
    )
    df["runs trained"] = df["runs trained"].astype(int)
    shown = df.round(1).astype(object)
    text = shown.where(shown.notna(), "–").to_markdown(index=False)
    if not np.isnan(total["train"]):
        text += (
            f"\n\nOutside training: {1 - total['train'] / total['minutes']:.0%} of the "
            f"{total['minutes']:.1f} chapter-minutes (`start-up` is kernel start and imports)."
        )
    if wall:
        text += (
            f" The whole study took **{wall['seconds'] / 60:.1f} minutes** of wall time with {wall['jobs']} "
            "chapter(s) at a time, each kernel on one thread (executed "
            f"{wall['when'][:16].replace('T', ' ')} UTC)."
        )
        if prepare and prepare.get("seconds"):
            text += (
                f" Of it, {prepare['seconds']:.0f} s went to embedding the 1000 concepts' descriptions once, "
                "with every thread, before the kernels started."
            )
    if warm:
        text += (
            f" Run again with nothing changed, `make study` found every chapter's executed notebook up to "
            f"date in {warm['seconds']:.0f} s ({warm['when'][:16].replace('T', ' ')} UTC)"
        )
        text += (
            f" and then rewrote this table, which last took {written['seconds']:.0f} s." if written else "."
        )
    return text


def markdown(df: pd.DataFrame, preset: str = "quick", timings: dict | None = None) -> str:
    body = df.to_markdown(index=False)
    text = (
        f"{body}\n\n*Preset `{preset}`, generated from the run registry by `python -m studylib summary "
        f"--markdown`; `make study` rewrites this table.*\n\n{claims.LEGEND}"
    )
    if timings is not None:
        text += "\n\n" + minutes_markdown(timings, preset)
    return text


def terminal(df: pd.DataFrame, width: int = 80) -> str:
    """The claims table for a terminal of ``width`` columns: per chapter, each claim's verdict and name, then
    its result wrapped beneath it, and the count of each verdict at the end."""
    import textwrap

    out = []
    for chapter, rows in df.groupby("chapter", sort=False):
        out.append(chapter)
        for r in rows.itertuples():
            out.append(
                textwrap.fill(
                    r.claim, width, initial_indent=f"  {r.verdict.upper():<12} ", subsequent_indent=" " * 15
                )
            )
            if r.result:
                out.append(
                    textwrap.fill(r.result, width, initial_indent=" " * 15, subsequent_indent=" " * 15)
                )
        out.append("")
    counts = df["verdict"].value_counts()
    out.append(", ".join(f"{n} {v}" for v, n in counts.items()) + f" ({len(df)} claims)")
    return "\n".join(out)


def minutes_markdown(timings: dict, preset: str = "quick") -> str:
    """The minutes per chapter, as recorded by the last cold execution on this machine."""
    return (
        f"Minutes per chapter at `{preset}`, as last executed on the maintainers' machine (`make publish` writes "
        "them; a chapter whose runs were already in the registry trains nothing and takes far less):\n\n"
        + minutes_table(timings)
    )


def write_into(path: str | Path, text: str, start: str = START, end: str = END) -> None:
    """Replace the block between the ``start`` and ``end`` markers of ``path`` (the summary's) with ``text``;
    a file whose block already holds ``text`` is left untouched."""
    path = Path(path)
    old = path.read_text(encoding="utf-8")
    if start not in old or end not in old:
        raise ValueError(f"{path} has no {start} ... {end} block to fill")
    new = re.sub(
        re.escape(start) + ".*?" + re.escape(end), lambda _: f"{start}\n{text}\n{end}", old, flags=re.S
    )
    if new != old:
        atomic_write_text(path, new)
