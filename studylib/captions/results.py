"""The result of a count: per-concept counts, input diagnostics, kept matches; writers.

Why: a count over a web corpus is only useful with its caveats attached (how
many captions were missing, empty, undecodable; which files were skipped)
and in the formats others use: ``classname<TAB>count`` lines (the format of
the paper's released files, read back by :mod:`studylib.captions.profiles`),
parquet, and per-caption matches for curation.

Usage::

    from studylib.captions.counting import count_captions
    from studylib.captions.results import write_counts_tsv, write_matches_parquet
    res = count_captions(["two tench", None], "imagenet", keep_matches=True)
    print(res.summary())                       # totals, then every input problem
    write_counts_tsv(res, "freqs.tsv")
    write_matches_parquet(res, "matches.parquet")
"""

from __future__ import annotations

import io
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from studylib.fileio import atomic_write_bytes, atomic_write_text

# Human wording of every problem key a reader or matcher can count.
PROBLEM_LABELS = {
    "null": "missing (null) captions",
    "empty": "empty captions",
    "bad_utf8": "captions with invalid UTF-8 (decoded with U+FFFD)",
    "not_text": "non-text captions",
    "bad_json": "unreadable JSON members",
    "no_text": "tar samples without .txt/.json",
    "bad_row": "malformed table rows (skipped)",
    "missing_column": "inputs without the requested column (skipped)",
    "unreadable": "unreadable inputs (skipped)",
    "long_line_piece": "pieces of lines longer than 1 MiB, each counted as a caption (cut at a space)",
}


@dataclass
class FrequencyResult:
    """Counts per concept plus input diagnostics and optional per-caption matches.

    ``match_caption``/``match_concept`` (when kept) list every counted
    (caption id, concept id) pair; caption ids run over all inputs in order,
    and ``sources``/``source_rows`` say which file each id range came from.
    """

    names: list[str]
    counts: np.ndarray
    n_captions: int = 0
    n_matched: int = 0
    n_multi: int = 0
    single_label: bool = False
    problems: Counter = field(default_factory=Counter)
    messages: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    source_rows: list[int] = field(default_factory=list)
    match_caption: np.ndarray | None = None
    match_concept: np.ndarray | None = None

    def to_frame(self):
        """One row per concept: class index, class name, count (a pandas DataFrame)."""
        import pandas as pd

        return pd.DataFrame(
            {"class_index": np.arange(len(self.names)), "classname": self.names, "count": self.counts}
        )

    def matches_by_caption(self) -> list[np.ndarray]:
        """Concept ids per caption id (needs ``keep_matches=True``)."""
        if self.match_caption is None:
            raise ValueError("matches were not kept; count with keep_matches=True")
        if self.n_captions == 0:
            return []
        split = np.searchsorted(self.match_caption, np.arange(1, self.n_captions))
        return np.split(self.match_concept, split)

    def summary(self) -> str:
        """A few human lines: totals, then every input problem with its count."""
        lines = [
            f"{self.n_captions:,} captions, {self.n_matched:,} name a concept, "
            f"{self.n_multi:,} name several"
            + (" (dropped: single-label)" if self.single_label else "")
            + f"; {int(self.counts.sum()):,} counted mentions over "
            f"{int(np.count_nonzero(self.counts))}/{len(self.names)} concepts"
        ]
        for k, v in sorted(self.problems.items()):
            if v:
                lines.append(f"  {v:,} {PROBLEM_LABELS.get(k, k)}")
        lines += [f"  {m}" for m in self.messages]
        return "\n".join(lines)


def write_counts_tsv(result: FrequencyResult, path: str | Path) -> None:
    """Counts as ``classname<TAB>count`` lines, no header, concept order."""
    lines = "".join(f"{n}\t{int(c)}\n" for n, c in zip(result.names, result.counts))
    atomic_write_text(path, lines)


def write_counts_parquet(result: FrequencyResult, path: str | Path) -> None:
    """Counts as parquet with columns class_index, classname, count."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    sink = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(result.to_frame(), preserve_index=False), sink)
    atomic_write_bytes(path, sink.getvalue())


def write_matches_parquet(result: FrequencyResult, path: str | Path) -> None:
    """Per-caption matches: caption_id, concept_id, source (file), row (in file)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if result.match_caption is None:
        raise ValueError("matches were not kept; count with keep_matches=True")
    starts = np.concatenate([[0], np.cumsum(result.source_rows)]).astype(np.int64)
    src = np.searchsorted(starts, result.match_caption, side="right") - 1
    src = np.clip(src, 0, max(len(result.sources) - 1, 0))
    table = pa.table(
        {
            "caption_id": result.match_caption.astype(np.int64),
            "concept_id": result.match_concept.astype(np.int32),
            "source": pa.DictionaryArray.from_arrays(
                pa.array(src.astype(np.int32)), pa.array(result.sources or ["<memory>"])
            ),
            "row": result.match_caption - starts[src],
        }
    )
    sink = io.BytesIO()
    pq.write_table(table, sink)
    atomic_write_bytes(path, sink.getvalue())
