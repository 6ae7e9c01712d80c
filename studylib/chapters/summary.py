"""The study's results table, computed from the run registry: ``python -m studylib summary --markdown``.

Every chapter module contributes its ``claims`` (chapter, claim, quantity, result, verdict), computed
from its runs as stored in the registry at the preset's default parameters. ``make study`` writes the
Markdown table into the README between the ``summary`` markers, so the README's verdicts are computed,
never typed.

Long because the README's four generated blocks (claims at quick, claims at full beside quick, minutes at each
preset) and the chapters' quick-versus-full cell read the same claim rows, and are kept in one place.
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
# `make study-full`'s blocks: the claims at `full` beside the `quick` verdicts, and full's minutes per chapter.
FULL_START, FULL_END = "<!-- full:start -->", "<!-- full:end -->"
FULL_MINUTES_START, FULL_MINUTES_END = "<!-- minutes-full:start -->", "<!-- minutes-full:end -->"
DIFFERS = "**differs**"


def chapter_rows(module, registry, preset: str = "quick") -> list[dict]:
    """One chapter's claim rows from its runs in ``registry`` (at its default parameters), or one row saying
    which runs are missing. Nothing is trained."""
    from studylib.chapters.stored import not_run, stored_by_seed
    from studylib.session import Session

    s = Session(module.NAME, preset, sizes=module.SIZES, seeds=module.SEEDS, progress=False, publish=False)
    s.registry = registry
    runs_by_seed = stored_by_seed(registry, s, lambda k: module.specs(s, k))
    if missing := not_run(module.NAME, *runs_by_seed.values()):
        return missing
    path = _cache_path(registry, module.NAME, preset, runs_by_seed)
    if path.exists():
        return json.loads(path.read_text(encoding="utf-8"))
    rows = [
        {**{k: r.get(k, "") for k in claims.COLUMNS}, "seeds": len(runs_by_seed)}
        for r in module.claims(s, runs_by_seed)
    ]
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


def table(registry, preset: str = "quick", seeds: bool = False) -> pd.DataFrame:
    """The claims of every chapter at ``preset`` (the README's columns; with ``seeds``, also the number of
    training seeds each chapter's claims were judged over)."""
    rows = [row for module in modules() for row in chapter_rows(module, registry, preset)]
    df = claims.table(rows)
    if seeds:
        df["seeds"] = [r.get("seeds", 0) for r in rows]
    return df


def read_block(path: str | Path, start: str = START, end: str = END) -> str:
    """The text between ``start`` and ``end`` in ``path`` ("" when the file or the block is missing)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError:
        return ""
    m = re.search(re.escape(start) + "(.*?)" + re.escape(end), text, flags=re.S)
    return m.group(1) if m else ""


def parse_table(block: str) -> pd.DataFrame:
    """The first Markdown pipe table of ``block`` as a DataFrame of strings (in a row with a ``|`` inside a
    cell, only the chapter, claim and last column, read from the ends of the row, are kept)."""
    lines = [ln.strip() for ln in block.splitlines() if ln.strip().startswith("|")]
    if len(lines) < 2:
        return pd.DataFrame(columns=claims.COLUMNS)
    head = [c.strip() for c in lines[0].strip("|").split("|")]
    rows = []
    for ln in lines[2:]:
        cells = [c.strip() for c in ln.strip("|").split("|")]
        if len(cells) == len(head):
            rows.append(dict(zip(head, cells)))
        elif len(cells) > len(head):  # a "|" inside a cell: the first two and the last column are still right
            rows.append(dict(zip(head[:2], cells[:2])) | {head[-1]: cells[-1]})
    return pd.DataFrame(rows)


def comparison(full: pd.DataFrame, quick: pd.DataFrame) -> pd.DataFrame:
    """The claims at ``full`` (verdict, result, seeds) beside the ``quick`` verdict of the same chapter and claim,
    with :data:`DIFFERS` where the two verdicts disagree ("–" where ``quick`` has no such claim)."""
    quick_verdict = {(r["chapter"], r["claim"]): r["verdict"] for _, r in quick.iterrows()}
    rows = []
    for _, r in full.iterrows():
        q = quick_verdict.get((r["chapter"], r["claim"]), "–")
        rows.append(
            {
                "chapter": r["chapter"],
                "claim": r["claim"],
                "result at full": r["result"],
                "seeds": int(r.get("seeds", 0) or 0),
                "verdict at full": r["verdict"],
                "verdict at quick": q,
                "quick agrees": "yes" if q == r["verdict"] else ("–" if q == "–" else DIFFERS),
            }
        )
    return pd.DataFrame(rows)


def markdown_full(cmp: pd.DataFrame) -> str:
    n = int((cmp["quick agrees"] == DIFFERS).sum()) if len(cmp) else 0
    seeds = sorted(set(cmp["seeds"])) if len(cmp) else []
    return (
        f"{cmp.to_markdown(index=False)}\n\n*Preset `full`, generated from the run registry `make study-full` made "
        "(`python -m studylib summary --preset full --write README.md`); the `quick` column is the table under "
        f'"Results at a glance". Seeds per chapter: {", ".join(map(str, seeds)) or "–"}. {n} claim(s) marked '
        f"{DIFFERS}: their chapter says which preset to believe and why.*"
    )


OTHER_PRESET = {"quick": "full", "full": "quick"}


def _power(module, preset: str, seeds: int) -> tuple:
    sizes = getattr(module, "SIZES", {}).get(preset, {})
    return (seeds, sizes.get("n_train", 0), sizes.get("n_classes", 0))


def _why(module, preset: str, seeds: int) -> str:
    sizes = getattr(module, "SIZES", {}).get(preset, {})
    world = f", {sizes['n_classes']} classes and {sizes['n_train']:,} pairs" if "n_train" in sizes else ""
    return f"{seeds} seed(s){world}"


def presets_compared(session, module, rows: list[dict]) -> str:
    """Markdown for a chapter's last cell: its claims (``rows``, at the session's preset) beside the same claims
    at the other published preset (quick and full) as the registry holds them, and where the two verdicts
    differ, which to believe and why: the preset whose claims rest on more seeds (then: more pairs, more
    classes), unless its answer is untestable (a failed manipulation check: it did not test the claim), when the
    other preset's tested answer is the one to believe. Nothing is trained; a preset not yet run says so."""
    here = session.preset
    other = OTHER_PRESET.get(here)
    if other is None:
        return (
            f"*Preset `{here}` is neither `quick` nor `full`: there is no published preset to compare with.*"
        )
    there_rows = chapter_rows(module, session.registry, other)
    if [r["claim"] for r in there_rows] == ["all claims"]:
        make = "make study-full" if other == "full" else "make study"
        return f"*`{other}` is not in this registry ({there_rows[0]['result']}); `{make}` makes it.*"
    seeds_here = len(session.seeds())
    by_preset = {here: {r["claim"]: r for r in rows}, other: {r["claim"]: r for r in there_rows}}
    seeds = {here: seeds_here, other: max((int(r.get("seeds", 0) or 0) for r in there_rows), default=0)}
    out = []
    for claim in dict.fromkeys([*by_preset["quick"], *by_preset["full"]]):
        q, f = by_preset["quick"].get(claim), by_preset["full"].get(claim)
        row = {"claim": claim, "quick": q["verdict"] if q else "–", "full": f["verdict"] if f else "–"}
        if not (q and f):
            row["believe"], row["why"] = "–", "only one preset asks it"
        elif q["verdict"] == f["verdict"]:
            row["believe"], row["why"] = "either", "the two agree"
        else:
            pq, pf = _power(module, "quick", seeds["quick"]), _power(module, "full", seeds["full"])
            best = "full" if pf > pq else "quick" if pq > pf else None
            row["believe"] = best or "neither"
            row["why"] = "the two are equally powered"
            if best:
                worse = OTHER_PRESET[best]
                row["why"] = f"{_why(module, best, seeds[best])}, against {_why(module, worse, seeds[worse])}"
            answer = by_preset[best][claim]["verdict"] if best else ""
            other_answer = by_preset[OTHER_PRESET[best]][claim]["verdict"] if best else ""
            if answer == "untestable" and other_answer not in ("untestable", "not run"):
                # a failed manipulation check means the claim was not tested there: the other preset's answer,
                # whose checks passed, is the only test of it
                row["believe"] = OTHER_PRESET[best]
                row["why"] = (
                    f"{best} failed a manipulation check (its row names it), so only {OTHER_PRESET[best]} tested "
                    f"the claim, over {_why(module, OTHER_PRESET[best], seeds[OTHER_PRESET[best]])}"
                )
            elif answer in ("untestable", "inconclusive", "not run"):
                row["why"] += f"; its answer is {answer}: the claim stays open"
        out.append(row)
    n = sum(r["believe"] not in ("either", "–") for r in out)
    head = f"*This chapter at `quick` and at `full`, from the run registry: {n} of {len(out)} claim(s) differ.*\n\n"
    return head + pd.DataFrame(out).to_markdown(index=False)


PHASE_COLUMNS = (
    "start-up",
    "world",
    "embeddings",
    "train",
    "evaluate",
    "figures",
    "waiting",
    "retry",
    "analysis and other",
)


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
                "chapter": f"{name} (resumed)" if t.get("resumed") else name,
                "minutes": t["seconds"] / 60,
                **{
                    k: phases.get(k, 0.0 if k == "retry" and phases else float("nan")) / 60
                    for k in PHASE_COLUMNS
                },
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
        waiting = 0.0 if np.isnan(total["waiting"]) else float(total["waiting"])
        working = total["minutes"] - waiting
        text += (
            f"\n\nOutside training: {1 - total['train'] / working:.0%} of the "
            f"{working:.1f} chapter-minutes (`start-up` is kernel start and imports)"
        )
        text += (
            f", leaving out {waiting:.1f} minutes a chapter waited for a run that another chapter was training "
            "(that training counts in the chapter that did it)."
            if round(waiting, 1)
            else "."
        )
        embedded = 0.0 if np.isnan(total["embeddings"]) else float(total["embeddings"])
        if round(embedded, 1):  # a first run on a machine: caption embeddings are cached for later runs
            text += (
                f" Of them, {embedded:.1f} went to MiniLM embeddings of captions that were not yet in this "
                "machine's cache (`results/cache/embeddings`, which later runs read); without them, "
                f"{1 - total['train'] / (working - embedded):.0%} is outside training."
            )
    if any(t.get("resumed") for t in timings.values()):
        text += (
            " A chapter marked (resumed) was timed in an execution that found some of its runs already in the "
            "registry (after an interruption), so its minutes may not hold all of its training."
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


def write_full(path: str | Path, full: pd.DataFrame) -> None:
    """Write the claims at ``full`` beside the ``quick`` verdicts of ``path``'s own results table."""
    quick = parse_table(read_block(path))
    write_into(path, markdown_full(comparison(full, quick)), FULL_START, FULL_END)


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
