"""The run registry: a run is a pure function of its config, cached on disk.

A run's key is a hash of its canonical config (sorted-key JSON, which holds
the content of the inputs a run reads: :mod:`studylib.fingerprint`), the
studylib version and the fingerprint of the training and evaluation code, so
editing that code or an input file makes new runs instead of reusing stale
ones. Its folder ``<root>/<key>/`` holds ``config.json``,
``meta.json`` (chapter, label, preset: who asked first; not part of the key),
per-class tables as parquet, arrays as ``.npy`` and, last, ``metrics.json``.
Every file is written atomically and ``metrics.json`` is the commit marker:
a run without it does not exist, so a run killed mid-write is simply redone.
A training checkpoint may sit in the folder meanwhile; it is removed once the
run is complete unless asked to keep it.

    reg = Registry()                      # <results>/runs
    run = reg.load(reg.key(config))       # None on a miss, a Run in milliseconds on a hit

The table of every run (one row each, ``current``: made by this code) is
:func:`studylib.cli.results.table`, behind ``studylib results``.

Training a key holds an inter-process lock (:mod:`studylib.locking`), so two
kernels asking for the same run train it once. A damaged folder (unreadable
JSON, or a table or array file missing or of another size than ``save`` wrote,
as ``meta.json`` records) is reported, skipped by :meth:`Registry.runs` and
trained again.
"""

from __future__ import annotations

import hashlib
import io
import json
import warnings
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from studylib import __version__
from studylib.fileio import atomic_write_bytes, atomic_write_json, atomic_write_npy, results_dir
from studylib.fingerprint import code_fingerprint


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


def _damage(path: Path, files: dict | None) -> str | None:
    """What is wrong with a run folder's table and array files against the sizes ``save`` recorded in
    ``meta.json`` (a file missing, or cut or grown: truncation by a full disk or a copy); None when intact."""
    for name, size in (files or {}).items():
        try:
            found = (path / name).stat().st_size
        except OSError:
            return f"{path / name} is missing"
        if found != size:
            return f"{path / name} holds {found} bytes, {size} were written"
    return None


class Registry:
    def __init__(self, root: str | Path | None = None):
        self.root = Path(root) if root is not None else results_dir() / "runs"

    @staticmethod
    def key(config: dict) -> str:
        payload = canonical_json({"config": config, "studylib": __version__, "code": code_fingerprint()})
        return hashlib.sha256(payload.encode()).hexdigest()[:16]

    def path(self, key: str) -> Path:
        return self.root / key

    def load(self, key: str) -> Run | None:
        """The complete run ``key``; None when absent, or damaged (a warning names the file: the run is
        then trained again, and :meth:`runs` skips it)."""
        path = self.path(key)
        if not (path / "metrics.json").is_file():
            return None
        parts = {}
        for part in ("metrics", "config", "meta"):
            try:
                parts[part] = json.loads((path / f"{part}.json").read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
                warnings.warn(f"damaged run folder, skipped: {path / f'{part}.json'}: {err}", stacklevel=2)
                return None
            if not isinstance(parts[part], dict):
                warnings.warn(
                    f"damaged run folder, skipped: {path / f'{part}.json'} does not hold an object",
                    stacklevel=2,
                )
                return None
        if damage := _damage(path, parts["meta"].get("files")):
            warnings.warn(f"damaged run folder, skipped: {damage}; the run is trained again", stacklevel=2)
            return None
        return Run(key, path, parts["config"], parts["meta"], parts["metrics"])

    def save(
        self,
        key: str,
        config: dict,
        meta: dict,
        metrics: dict,
        tables: dict[str, pd.DataFrame] | None = None,
        arrays: dict[str, np.ndarray] | None = None,
    ) -> Run:
        """Write a complete run; ``metrics.json`` goes last and marks it done."""
        path = self.path(key)
        atomic_write_json(path / "config.json", config)
        files = {}
        for name, df in (tables or {}).items():
            buf = io.BytesIO()
            df.to_parquet(buf, index=False)
            files[f"{name}.parquet"] = len(buf.getvalue())
            atomic_write_bytes(path / f"{name}.parquet", buf.getvalue())
        for name, arr in (arrays or {}).items():
            files[f"{name}.npy"] = atomic_write_npy(path / f"{name}.npy", arr)
        atomic_write_json(
            path / "meta.json", {**meta, "studylib": __version__, "code": code_fingerprint(), "files": files}
        )
        atomic_write_json(path / "metrics.json", metrics)
        return Run(key, path, config, meta, metrics)

    def runs(self) -> list[Run]:
        if not self.root.exists():
            return []
        out = [
            self.load(p.name)
            for p in sorted(self.root.iterdir())
            if p.is_dir() and not p.name.startswith(".")
        ]
        return [r for r in out if r is not None]

    def stale(self) -> list[Path]:
        """Folders nothing current refers to: runs made by other code (a current key never names them),
        damaged or unfinished folders, except those a process is training now (their lock is held)."""
        from studylib.locking import is_locked

        if not self.root.exists():
            return []
        code, out = code_fingerprint(), []
        for p in sorted(self.root.iterdir()):
            if not p.is_dir() or p.name.startswith("."):
                continue
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                run = self.load(p.name)
            if run is not None and run.meta.get("code") == code:
                continue
            if run is None and is_locked(self.root / ".locks" / f"{p.name}.lock"):
                continue  # being trained right now
            out.append(p)
        return out
