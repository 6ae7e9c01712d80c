"""The one-word ImageNet synonyms that other classes' descriptions use as ordinary words (issue 30).

Why: :data:`studylib.captions.patterns.COMMON_MIN_CLASSES` makes a synonym *common* when at least that
many other classes' descriptions use it: it then names its class unless it lies within another class's
name or the caption names a class whose description uses it (``ConceptSpec``). This lists every one-word
synonym used by at least one other class, with that number, so the cut
and what it affects can be read.

Run::

    python bench/common_words.py        # writes bench/results/common_words.txt
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from studylib.captions.patterns import COMMON_MIN_CLASSES, _forms, tokenize  # noqa: E402
from studylib.concepts import load_concepts  # noqa: E402
from studylib.fileio import atomic_write_text  # noqa: E402


def main():
    concepts = load_concepts()
    docs = [set(tokenize(c.description)) for c in concepts]
    rows = []
    for c in concepts:
        for s in c.synonyms:
            toks = tokenize(s)
            if len(toks) == 1:
                users = sum(
                    1 for j, d in enumerate(docs) if j != c.index and not _forms(toks[0]).isdisjoint(d)
                )
                if users:
                    rows.append((users, c.index, c.name, s))
    rows.sort(key=lambda r: (-r[0], r[1]))
    lines = [
        f"one-word synonyms of ImageNet classes that other classes' descriptions use: {len(rows)}; "
        f"common, naming their class unless within another's name or beside a class whose description uses "
        f"them (used by >= "
        f"{COMMON_MIN_CLASSES} other classes): {sum(r[0] >= COMMON_MIN_CLASSES for r in rows)}",
        "other classes\tclass\tname\tsynonym\tcommon",
    ]
    lines += [f"{u}\t{i}\t{n}\t{s}\t{'yes' if u >= COMMON_MIN_CLASSES else 'no'}" for u, i, n, s in rows]
    out = ROOT / "bench" / "results" / "common_words.txt"
    atomic_write_text(out, "\n".join(lines) + "\n")
    print("\n".join(lines[:12]))


if __name__ == "__main__":
    main()
