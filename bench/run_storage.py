"""Disk cost of a stored run at the ``quick`` preset: logits, features, classifier weights and tables.

Each run keeps, per test set, fp16 logits, labels, the confusion matrix and the
features of a fixed sample, plus the classifier weights, so that later analyses
never retrain. This prints what that costs per run, file by file, for chapter 2's
three models (the largest world of the study, trained here if not cached) and
for every other run in the registry, and checks the budget of 20 MB per run.

    python bench/run_storage.py             # uses (and fills) the default registry, results/runs
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from pathlib import Path

from studylib.chapters import ch02, worlds
from studylib.registry import Registry
from studylib.session import Session

BUDGET_MB = 20.0


def sizes(path: Path) -> dict[str, int]:
    return {p.name: p.stat().st_size for p in path.iterdir() if p.is_file()}


def kind(name: str) -> str:
    for prefix in ("logits_", "features_", "feature_index_", "labels_", "confusion_", "classifier_"):
        if name.startswith(prefix):
            return prefix.rstrip("_")
    return "tables and json"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "run_storage.txt"))
    args = ap.parse_args()
    session = Session(ch02.NAME, "quick", sizes=worlds.IMBALANCE)
    runs = session.run_all(worlds.imbalance_specs(session))
    lines = [f"# run_storage  preset quick  registry {session.registry.root}"]
    for label, run in runs.items():
        by_kind = defaultdict(int)
        for name, n in sizes(run.path).items():
            by_kind[kind(name)] += n
        total = sum(by_kind.values()) / 1e6
        lines.append(
            f"chapter 2 {label:16s} {total:6.2f} MB  ("
            + ", ".join(f"{k} {v / 1e6:.2f}" for k, v in sorted(by_kind.items()))
            + ")"
        )
    others = [
        (r, sum(sizes(r.path).values()) / 1e6) for r in Registry().runs() if r.meta.get("preset") == "quick"
    ]
    worst = max(others, key=lambda x: x[1]) if others else None
    if worst:
        lines.append(
            f"all {len(others)} quick runs in the registry: largest {worst[1]:.2f} MB "
            f"({worst[0].meta.get('chapter')}: {worst[0].meta.get('label')}), "
            f"total {sum(x[1] for x in others):.1f} MB"
        )
    largest = max([sum(sizes(r.path).values()) / 1e6 for r in runs.values()] + [w for _, w in others])
    lines.append(
        f"largest run {largest:.2f} MB; budget {BUDGET_MB:.0f} MB: {'within' if largest < BUDGET_MB else 'OVER'}"
    )
    text = "\n".join(lines)
    print(text)
    Path(args.out).write_text(text + "\n")
    return 0 if largest < BUDGET_MB else 1


if __name__ == "__main__":
    raise SystemExit(main())
