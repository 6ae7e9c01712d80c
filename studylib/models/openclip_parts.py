"""Two self-contained files of open_clip, its BPE tokenizer and its contrastive loss, without the package.

Why: ``import open_clip.loss`` first runs the package's ``__init__``, which imports every model family,
torchvision and transformers: about 3 s of a chapter kernel's start on this machine (``bench/imports.py``),
paid by every chapter that trains a tiny CLIP, although such a run needs only ``open_clip/tokenizer.py``
and ``open_clip/loss.py``, which import nothing else of open_clip. :func:`part` loads one of them from
the installed package by path, once per process, under a private module name. The code that runs is
the installed open_clip's own, so its numbers are the package's. When open_clip is imported already, or
a file no longer loads on its own (a later open_clip), the regular module is returned.

    ClipLoss = part("loss").ClipLoss
    SimpleTokenizer = part("tokenizer").SimpleTokenizer
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path

PARTS = ("loss", "tokenizer")


def part(name: str):
    """The module ``open_clip.<name>`` (``loss`` or ``tokenizer``), loaded without the package when possible."""
    if name not in PARTS:
        raise ValueError(f"unknown open_clip part {name!r}: use one of {PARTS}")
    if "open_clip" in sys.modules:  # the whole package is loaded: use its module
        return importlib.import_module(f"open_clip.{name}")
    private = f"studylib._open_clip_{name}"
    if private in sys.modules:
        return sys.modules[private]
    spec = importlib.util.find_spec("open_clip")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("open_clip is not installed: pip install open_clip_torch (see the README)")
    path = Path(next(iter(spec.submodule_search_locations))) / f"{name}.py"
    file_spec = importlib.util.spec_from_file_location(private, path)
    module = importlib.util.module_from_spec(file_spec)
    sys.modules[private] = module
    try:
        file_spec.loader.exec_module(module)
    except ImportError:  # it imports the rest of open_clip now: load that
        del sys.modules[private]
        return importlib.import_module(f"open_clip.{name}")
    return module
