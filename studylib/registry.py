"""The run registry: a run is a pure function of its config, cached on disk.

A run's key is a hash of its canonical config (sorted-key JSON) and the
studylib version. Its folder ``<root>/<key>/`` holds ``config.json``,
``meta.json`` (chapter, label, preset: who asked first; not part of the key),
per-class tables as parquet, arrays as ``.npy`` and, last, ``metrics.json``.
Every file is written atomically and ``metrics.json`` is the commit marker:
a run without it does not exist, so a run killed mid-write is simply redone.
A training checkpoint may sit in the folder meanwhile; it is removed once the
run is complete unless asked to keep it.

    reg = Registry()                      # <results>/runs
    run = reg.load(reg.key(config))       # None on a miss, a Run in milliseconds on a hit
    reg.table()                           # one row per complete run
"""
from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from studylib import __version__
from studylib.io import atomic_write_bytes, atomic_write_json, results_dir

TABLE_COLUMNS = ["run_id", "chapter", "label", "objective", "preset", "seed", "top1",
                 "spearman_acc", "spearman_pred"]


def canonical_json(obj) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


@dataclass
class Run:
    key: str
    path: Path
    config: dict
    meta: dict
    metrics: dict

    def table(self, name: str = "per_class") -> pd.DataFrame:
        return pd.read_parquet(self.path / f"{name}.parquet")

    def array(self, name: str) -> np.ndarray:
        return np.load(self.path / f"{name}.npy")

    @cached_property
    def per_class(self) -> pd.DataFrame:
        return self.table("per_class")


class Registry:
    def __init__(self, root: str | Path | None = None):
        self.root = Path(root) if root is not None else results_dir() / "runs"

    @staticmethod
    def key(config: dict) -> str:
        payload = canonical_json({"config": config, "studylib": __version__})
        return hashlib.sha256(payload.encode()).hexdigest()[:16]

    def path(self, key: str) -> Path:
        return self.root / key

    def load(self, key: str) -> Run | None:
        path = self.path(key)
        try:
            metrics = json.loads((path / "metrics.json").read_text())
        except FileNotFoundError:
            return None
        config = json.loads((path / "config.json").read_text())
        meta = json.loads((path / "meta.json").read_text())
        return Run(key, path, config, meta, metrics)

    def save(self, key: str, config: dict, meta: dict, metrics: dict,
             tables: dict[str, pd.DataFrame] | None = None,
             arrays: dict[str, np.ndarray] | None = None) -> Run:
        """Write a complete run; ``metrics.json`` goes last and marks it done."""
        path = self.path(key)
        atomic_write_json(path / "config.json", config)
        for name, df in (tables or {}).items():
            buf = io.BytesIO()
            df.to_parquet(buf, index=False)
            atomic_write_bytes(path / f"{name}.parquet", buf.getvalue())
        for name, arr in (arrays or {}).items():
            buf = io.BytesIO()
            np.save(buf, np.asarray(arr))
            atomic_write_bytes(path / f"{name}.npy", buf.getvalue())
        atomic_write_json(path / "meta.json", {**meta, "studylib": __version__})
        atomic_write_json(path / "metrics.json", metrics)
        return Run(key, path, config, meta, metrics)

    def runs(self) -> list[Run]:
        if not self.root.exists():
            return []
        out = [self.load(p.name) for p in sorted(self.root.iterdir()) if p.is_dir()]
        return [r for r in out if r is not None]

    def table(self) -> pd.DataFrame:
        """One row per complete run: TABLE_COLUMNS first, then every scalar metric."""
        rows = []
        for r in self.runs():
            row = {"run_id": r.key, **{k: r.meta.get(k) for k in ("chapter", "label", "preset")},
                   "objective": r.config.get("train", {}).get("objective"),
                   "seed": r.config.get("train", {}).get("seed")}
            row.update({k: v for k, v in r.metrics.items() if isinstance(v, (int, float, str))})
            rows.append(row)
        df = pd.DataFrame(rows)
        if df.empty:
            return pd.DataFrame(columns=TABLE_COLUMNS)
        rest = [c for c in df.columns if c not in TABLE_COLUMNS]
        return df.reindex(columns=TABLE_COLUMNS + rest).sort_values(["chapter", "label", "seed"], na_position="last")
