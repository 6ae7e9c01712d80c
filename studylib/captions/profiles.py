"""Frequency profiles: the one reader of per-class count files, and their comparison.

Why: the paper's first finding is that concept frequencies of very different
corpora (LAION, CC, YFCC, MetaCLIP, ImageNet-Captions) are strongly
correlated and heavily long-tailed. This module reads such profiles
(``classname<TAB>count``, no header, one line per class in class order; the
format of the paper's released files and of ``freq count``), correlates them
(Spearman, Kendall tau-b), summarises their imbalance (max/median, Gini,
fitted Zipf exponent) and draws the ranked log-frequency figure (Fig. 1a).

:func:`read_profile` is the only reader of count files in studylib: ``freq
compare`` and the concept world's ``profile=<path>`` option
(:func:`studylib.world.counts_from_file`) both go through it, so a file is
accepted or rejected, with the same message, wherever it is used.

Run::

    python -m studylib freq compare --reference laion400m.txt cc12m.txt yfcc15m.txt --csv

    from studylib.captions.profiles import compare_profiles, read_profile
    ref = read_profile("laion400m.txt")
    compare_profiles(ref, [read_profile("cc12m.txt")])

Long because the one count-file reader, profile alignment and statistics, and the ranked-profile
figures.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

COLUMNS = [
    "name",
    "classes",
    "matched",
    "aligned_by",
    "total",
    "spearman",
    "kendall",
    "max_over_median",
    "gini",
    "zipf_alpha",
    "unmatched",
]


def split_spec(spec: str | Path) -> tuple[Path, str | None]:
    """``"FILE"`` or ``"FILE:column"`` (a column of a headed TSV) -> (path, column or None)."""
    text = str(spec)
    if Path(text).exists() or ":" not in text:
        return Path(text), None
    head, _, column = text.rpartition(":")
    return Path(head), column or None


def read_profile(path: str | Path, name: str | None = None, classes=None) -> pd.Series:
    """Read a count file into a Series (index: class name, values: int64 counts).

    Accepts ``classname<TAB>count`` text files (no header, blank lines
    skipped, a UTF-8 byte-order mark stripped), the parquet files written
    by ``freq count`` (columns ``classname``, ``count``), and ``FILE:column``:
    the column ``column`` of a headed TSV whose class names are in a ``name``
    (or ``classname``) column, e.g. Parashar et al.'s ``imagenet_1k__laion400m.tsv:relevant``;
    a name repeated there gets its line number appended. The Series name is
    ``name`` or the file stem (``stem:column`` for a column).

    Checks: every count is a whole number >= 0 (not NaN or infinite), every
    class name is non-empty and appears once, and, when ``classes`` (an
    iterable of names) is given, every name is one of them. A failed check
    raises ValueError naming the file and line (``path:line: ...``; parquet:
    ``path: row N: ...``).
    """
    path, column = split_spec(path)
    if not path.is_file():
        raise FileNotFoundError(f"count file {path} does not exist")
    if column is not None:
        rows = _headed_rows(path, column)
        name = name or f"{path.stem}:{column}"
    else:
        rows = _parquet_rows(path) if path.suffix.lower() in (".parquet", ".pq") else _text_rows(path)
    known = None if classes is None else set(classes)
    names, counts, seen = [], [], {}
    for where, cls, raw in rows:
        if not cls.strip():
            raise ValueError(f"{where}: empty class name")
        if cls in seen:
            raise ValueError(f"{where}: class {cls!r} appears twice (first at {seen[cls]})")
        if known is not None and cls not in known:
            raise ValueError(f"{where}: unknown class {cls!r} (not among the {len(known)} given classes)")
        seen[cls] = where
        names.append(cls)
        counts.append(_whole_count(raw, where))
    if not names:
        raise ValueError(f"count file {path} is empty")
    return pd.Series(
        np.asarray(counts, dtype=np.int64), index=pd.Index(names, name="classname"), name=name or path.stem
    )


def _text_rows(path: Path):
    """(where, class name, count text) per non-blank line of a text count file."""
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise ValueError(f"{path}:{line}: not UTF-8 text ({e.reason})") from None
    for ln, line in enumerate(text.replace("\r\n", "\n").replace("\r", "\n").split("\n"), 1):
        if not line.strip():
            continue
        cls, sep, cnt = line.rpartition("\t")
        if not sep:
            raise ValueError(f"{path}:{ln}: expected 'classname<TAB>count', got {line[:60]!r}")
        yield f"{path}:{ln}", cls, cnt


def _headed_rows(path: Path, column: str):
    """(where, class name, count text) per row of a headed TSV's ``column``."""
    import csv

    with open(path, encoding="utf-8-sig", newline="") as f:
        reader = csv.reader(f, delimiter="\t")
        header = next(reader, None)
        if not header:
            raise ValueError(f"{path}: empty file (a headed TSV needs a header line)")
        label = next((h for h in ("name", "classname") if h in header), None)
        if label is None or column not in header:
            raise ValueError(
                f"{path}: no column {column if label else 'name'!r}; columns: {', '.join(header)}"
            )
        li, ci = header.index(label), header.index(column)
        seen = set()
        for ln, row in enumerate(reader, 2):
            if not any(cell.strip() for cell in row):
                continue
            if len(row) <= max(li, ci):
                raise ValueError(f"{path}:{ln}: expected {len(header)} tab-separated fields, got {len(row)}")
            cls = row[li] if row[li] not in seen else f"{row[li]} (line {ln})"
            seen.add(cls)
            yield f"{path}:{ln} (column {column!r})", cls, row[ci]


def _parquet_rows(path: Path):
    """(where, class name, count text) per row of a parquet count file."""
    df = pd.read_parquet(path)
    missing = {"classname", "count"} - set(df.columns)
    if missing:
        raise ValueError(f"{path}: parquet count file lacks column(s) {sorted(missing)}")
    for i, (cls, cnt) in enumerate(zip(df["classname"].astype(str), df["count"]), 1):
        yield f"{path}: row {i}", cls, str(cnt)


def _whole_count(text: str, where: str) -> int:
    try:
        value = int(text)
    except ValueError:
        try:
            number = float(text)
        except ValueError:
            raise ValueError(f"{where}: count {text!r} is not a number") from None
        if not math.isfinite(number):
            raise ValueError(f"{where}: count {text!r} is not finite") from None
        if number != int(number):
            raise ValueError(f"{where}: count {text!r} is not a whole number") from None
        value = int(number)
    if value < 0:
        raise ValueError(f"{where}: count {text!r} is negative")
    return value


def normalised_name(name: str) -> str:
    """A class name with case, punctuation and spacing ignored ("Great-White  Shark" -> "great white shark")."""
    import re

    return " ".join(re.sub(r"[^\w]+", " ", str(name).lower()).replace("_", " ").split())


def auto_alignment(reference: pd.Series, other: pd.Series) -> dict:
    """How ``align="auto"`` pairs two profiles: by line order when both list the same number of classes and at
    least half their normalised names agree line by line (the same class list, some names spelled
    differently); else by normalised name, keeping the classes both have. Returns ``{"by", "ref", "other",
    "unmatched"}``: positions into each profile and the reference's classes left without a partner."""
    a = [normalised_name(n) for n in reference.index]
    b = [normalised_name(n) for n in other.index]
    if len(a) == len(b) and np.mean([x == y for x, y in zip(a, b)]) >= 0.5:
        idx = np.arange(len(a))
        return {"by": "order", "ref": idx, "other": idx, "unmatched": []}
    where = {}
    for i, n in enumerate(b):
        where.setdefault(n, i)
    pairs = [(i, where[n]) for i, n in enumerate(a) if n in where]
    unmatched = [str(reference.index[i]) for i, n in enumerate(a) if n not in where]
    ref_idx = np.array([p[0] for p in pairs], dtype=int)
    return {
        "by": "name",
        "ref": ref_idx,
        "other": np.array([p[1] for p in pairs], dtype=int),
        "unmatched": unmatched,
    }


def align_profiles(
    reference: pd.Series, other: pd.Series, align: str = "name"
) -> tuple[np.ndarray, np.ndarray]:
    """Counts of two profiles, class by class.

    ``align="name"``: match class names (the sets must be equal, each name
    unique); ``align="order"``: pair lines in order (same number of classes),
    for files that use different spellings of the same class list;
    ``align="auto"``: see :func:`auto_alignment` (classes without a partner are left out).
    """
    if align == "auto":
        m = auto_alignment(reference, other)
        return reference.to_numpy(dtype=float)[m["ref"]], other.to_numpy(dtype=float)[m["other"]]
    if align == "order":
        if len(reference) != len(other):
            raise ValueError(
                f"cannot align {other.name!r} ({len(other)} classes) with "
                f"{reference.name!r} ({len(reference)} classes) by order"
            )
        return reference.to_numpy(dtype=float), other.to_numpy(dtype=float)
    if align != "name":
        raise ValueError(f"align must be 'name', 'order' or 'auto', got {align!r}")
    for s in (reference, other):
        dup = s.index[s.index.duplicated()].unique().tolist()
        if dup:
            raise ValueError(
                f"profile {s.name!r} repeats class names {dup[:5]}; use align='order' (--align order)"
            )
    a, b = set(reference.index), set(other.index)
    if a != b:
        only_ref, only_other = sorted(a - b), sorted(b - a)
        raise ValueError(
            f"class names of {other.name!r} differ from the reference {reference.name!r}: "
            f"{len(only_ref)} only in the reference (e.g. {only_ref[:5]}), "
            f"{len(only_other)} only in {other.name!r} (e.g. {only_other[:5]}); "
            "fix the names or use align='order' (--align order) for files in the same class order"
        )
    return reference.to_numpy(dtype=float), other.reindex(reference.index).to_numpy(dtype=float)


def gini(counts) -> float:
    """Gini coefficient of non-negative counts (0 = balanced, -> 1 = all in one class)."""
    x = np.sort(np.asarray(counts, dtype=float))
    n = x.size
    if n == 0 or x.sum() == 0:
        return float("nan")
    return float((2 * np.arange(1, n + 1) - n - 1) @ x / (n * x.sum()))


def zipf_alpha(counts) -> float:
    """Fitted Zipf exponent alpha of a profile.

    Method: sort the nonzero counts in decreasing order, give them ranks
    1..k, and fit ``log(count) = c - alpha * log(rank)`` by ordinary least
    squares; alpha is minus the slope. NaN with fewer than two nonzero counts.
    """
    x = np.sort(np.asarray(counts, dtype=float))[::-1]
    x = x[x > 0]
    if x.size < 2:
        return float("nan")
    slope = np.polyfit(np.log(np.arange(1, x.size + 1)), np.log(x), 1)[0]
    return float(-slope)


def imbalance_stats(counts) -> dict:
    """classes, total, max/median (inf when the median is 0), Gini, Zipf alpha."""
    x = np.asarray(counts, dtype=float)
    med = float(np.median(x)) if x.size else float("nan")
    mx = float(x.max()) if x.size else float("nan")
    return {
        "classes": int(x.size),
        "total": float(x.sum()),
        "max_over_median": (mx / med) if med > 0 else (float("inf") if mx > 0 else float("nan")),
        "gini": gini(x),
        "zipf_alpha": zipf_alpha(x),
    }


def correlations(a, b) -> dict:
    """Spearman rho and Kendall tau-b (ties handled) between two count vectors."""
    from scipy.stats import kendalltau, spearmanr

    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.size < 2 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return {"spearman": float("nan"), "kendall": float("nan")}
    return {"spearman": float(spearmanr(a, b).statistic), "kendall": float(kendalltau(a, b).statistic)}


def compare_profiles(reference: pd.Series, others, align: str = "name") -> pd.DataFrame:
    """One row per profile (the reference first): correlation with the reference
    and imbalance statistics, columns :data:`COLUMNS`."""
    rows = []
    for p in [reference] + [o for o in others if o is not reference]:
        ref, cur = align_profiles(reference, p, align)
        unmatched = auto_alignment(reference, p)["unmatched"] if align == "auto" else []
        by = auto_alignment(reference, p)["by"] if align == "auto" else align
        st = imbalance_stats(p.to_numpy(dtype=float))
        total = st["total"]
        rows.append(
            {
                "name": str(p.name),
                "classes": st["classes"],
                "matched": len(ref),
                "aligned_by": by,
                "total": int(total) if float(total).is_integer() else total,
                **correlations(ref, cur),
                "max_over_median": st["max_over_median"],
                "gini": st["gini"],
                "zipf_alpha": st["zipf_alpha"],
                "unmatched": "; ".join(unmatched),
            }
        )
    return pd.DataFrame(rows, columns=COLUMNS)


def plot_ranked_frequencies(
    profiles, reference=None, align: str = "name", smooth: int = 15, ax=None, title: str | None = None
):
    """Figure like the paper's Fig. 1a: log10 frequency of every class, classes
    ranked by the reference corpus, lightly smoothed.

    ``profiles``: list of Series (or dict name -> Series); ``reference``: one of
    them or its name (default: the first). ``smooth``: centred moving-average
    window in classes over log10(count + 1) (1 = raw). Returns the Figure.
    """
    import matplotlib.pyplot as plt

    if isinstance(profiles, dict):
        profiles = [s.rename(k) for k, s in profiles.items()]
    profiles = list(profiles)
    if not profiles:
        raise ValueError("plot_ranked_frequencies needs at least one profile")
    if reference is None:
        ref = profiles[0]
    elif isinstance(reference, pd.Series):
        ref = reference
    else:
        match = [p for p in profiles if p.name == reference]
        if not match:
            raise ValueError(f"reference {reference!r} is not among {[p.name for p in profiles]}")
        ref = match[0]
    order = np.argsort(-ref.to_numpy(dtype=float), kind="stable")
    if ax is None:
        fig, ax = plt.subplots(figsize=(7, 4))
    else:
        fig = ax.figure
    for p in profiles:
        _, cur = align_profiles(ref, p, align)
        y = np.log10(cur[order] + 1)
        if smooth > 1:
            y = pd.Series(y).rolling(smooth, center=True, min_periods=1).mean().to_numpy()
        ax.plot(np.arange(1, y.size + 1), y, lw=1.2, label=str(p.name), zorder=3 if p is ref else 2)
    ax.set_xlabel(f"class, ranked by frequency in {ref.name}")
    ax.set_ylabel("log10(frequency + 1)")
    ax.set_title(title or "Concept frequency across corpora", fontsize=10)
    # below the panel, outside the curves (each panel of plot_ranked_panels has its own set of lines)
    ax.legend(fontsize=8, frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=3)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_ranked_panels(panels: dict, reference, align: str = "name", smooth: int = 15):
    """Side-by-side :func:`plot_ranked_frequencies` panels sharing one class order: ``panels`` maps a panel
    title to a dict of name -> profile; ``reference`` (a Series) sets the order in every panel and is drawn
    in each. Returns the Figure."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(panels), figsize=(6.2 * len(panels), 4), squeeze=False, sharey=True)
    for ax, (title, profiles) in zip(axes[0], panels.items()):
        shown = {reference.name: reference, **{k: v for k, v in profiles.items() if k != reference.name}}
        plot_ranked_frequencies(shown, reference=reference, align=align, smooth=smooth, ax=ax, title=title)
    fig.tight_layout()
    return fig
