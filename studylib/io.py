"""Small file helpers shared by every module: atomic writes and folders.

Every result studylib writes goes through :func:`atomic_write_bytes` (write to
a temporary name in the same folder, fsync, then ``os.replace``), so a run
killed mid-write never leaves a half-written file behind.

Folders: ``STUDYLIB_RESULTS`` (default ``<repo>/results``) holds runs and
executed notebooks; ``STUDYLIB_CACHE`` (default ``<results>/cache``) holds
derived, recomputable data such as sentence embeddings.
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def results_dir() -> Path:
    return Path(os.environ.get("STUDYLIB_RESULTS", REPO_ROOT / "results"))


def cache_dir(sub: str = "") -> Path:
    root = Path(os.environ.get("STUDYLIB_CACHE", results_dir() / "cache"))
    path = root / sub if sub else root
    path.mkdir(parents=True, exist_ok=True)
    return path


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the new one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | Path, obj) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=_jsonable) + "\n")


def _jsonable(o):
    import numpy as np

    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")
