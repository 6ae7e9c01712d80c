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


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


FILE_MODE = 0o666 & ~_umask()  # what open() would give: the results folder can be shared
FOLDER_MODE = 0o777 & ~_umask()


def _fsync_folder(folder: Path) -> None:
    """Make a rename in ``folder`` durable (no-op where folders cannot be opened, as on Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the new one: a unique temporary name
    in the same folder, fsync, ``os.replace``, then fsync of the folder. The file's mode follows the umask."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            if hasattr(os, "fchmod"):
                os.fchmod(f.fileno(), FILE_MODE)
            os.fsync(f.fileno())
        os.replace(tmp, path)
        _fsync_folder(path.parent)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def atomic_write_npy(path: str | Path, arr) -> int:
    """``np.save`` of ``arr`` written with :func:`atomic_write_bytes`; returns the file's size in bytes."""
    import io

    import numpy as np

    buf = io.BytesIO()
    np.save(buf, np.asarray(arr))
    data = buf.getvalue()
    atomic_write_bytes(path, data)
    return len(data)


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


def tar_end_missing(path: str | Path, offset: int) -> bool:
    """Whether an uncompressed tar read up to ``offset`` (``TarFile.offset`` after the last member) lacks
    the two zero blocks that end every complete archive: a file cut at a header boundary otherwise reads
    as a shorter, valid one. Compressed archives are not checked here (their streams detect a cut)."""
    path = Path(path)
    with open(path, "rb") as f:
        magic = f.read(6)
        if (
            magic[:2] == b"\x1f\x8b"
            or magic[:3] == b"BZh"
            or magic == b"\xfd7zXZ\x00"
            or magic[:4] == b"\x28\xb5\x2f\xfd"
        ):
            return False
        f.seek(offset)
        tail = f.read(1024)
    return len(tail) < 1024 or any(tail)
