"""Where an execution writes its figures, data cards and executed notebooks: one rule for ``studylib run``,
papermill and JupyterLab alike.

* The study's two publications, at a preset's own values (no overrides):
  ``quick`` writes ``figures/`` and ``data_cards/`` (``make study``); ``full`` writes ``figures/full/`` and
  ``data_cards/full/`` (``make study-full``), so the two never mix.
* Anything else (another preset, or any parameter changed) writes under ``<results>/<tag>/``, where the tag
  names the preset and every changed parameter: ``smoke``, ``quick-zipf_alpha=1.5``.

``studylib run`` sets the folders in each kernel's environment (``STUDYLIB_FIGURES``, ``STUDYLIB_CARDS``,
``STUDYLIB_EXECUTED``). A notebook run by hand (JupyterLab, papermill) has no runner: its
:class:`studylib.session.Session` calls :func:`apply` with its preset and the parameters that differ from the
preset's, so setting ``preset = "smoke"`` in a chapter's parameters cell writes ``results/smoke/figures``, never
``figures/``. A folder named in the environment by anyone else (a test, a user) is always kept.

    folders("quick", {})                  # Folders(figures=<repo>/figures, cards=<repo>/data_cards, ...)
    folders("smoke", {"zipf_alpha": 1.5}) # <results>/smoke-zipf_alpha=1.5/figures, ...
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from studylib.fileio import REPO_ROOT, results_dir

PUBLISHED = {"quick": "", "full": "full"}  # preset -> its subfolder of figures/ and data_cards/
ENV = {"figures": "STUDYLIB_FIGURES", "cards": "STUDYLIB_CARDS", "executed": "STUDYLIB_EXECUTED"}
_MAX_TAG = 80
_set_here: dict = {}  # variable -> the value apply() set in this process (so the next apply may replace it)


@dataclass(frozen=True)
class Folders:
    figures: Path
    cards: Path
    executed: Path  # executed notebooks and their stamps; the HTML pages go beside it, in ../html
    published: bool


def published(preset: str, overrides: dict) -> bool:
    return preset in PUBLISHED and not overrides


def tag(preset: str, overrides: dict) -> str:
    """The folder name of a non-published execution: the preset and each changed parameter (``name=value``,
    sorted), cut with a hash when it would be longer than 80 characters."""
    parts = [str(preset)] + [f"{k}={_plain(v)}" for k, v in sorted(overrides.items())]
    name = re.sub(r"[^A-Za-z0-9_.=,+-]", "_", "-".join(parts))
    if len(name) > _MAX_TAG:
        digest = hashlib.sha256(json.dumps(overrides, sort_keys=True, default=str).encode()).hexdigest()[:8]
        name = f"{name[: _MAX_TAG - 9]}-{digest}"
    return name


def _plain(value) -> str:
    if isinstance(value, (list, tuple)):
        return ",".join(_plain(v) for v in value)
    return Path(value).name if isinstance(value, str) and os.sep in value else str(value)


def folders(preset: str, overrides: dict) -> Folders:
    if published(preset, overrides):
        sub = PUBLISHED[preset]
        executed = results_dir() / "executed" if not sub else results_dir() / sub / "executed"
        return Folders(REPO_ROOT / "figures" / sub, REPO_ROOT / "data_cards" / sub, executed, True)
    root = results_dir() / tag(preset, overrides)
    return Folders(root / "figures", root / "data_cards", root / "executed", False)


def apply(preset: str, overrides: dict) -> Folders:
    """Point this process's figure and card folders at :func:`folders` of ``preset`` and ``overrides``, unless
    the environment already names them (set by ``studylib run``, a test or the user); returns the folders."""
    out = folders(preset, overrides)
    for key in ("figures", "cards"):
        var = ENV[key]
        if os.environ.get(var) in (None, _set_here.get(var)):
            os.environ[var] = _set_here[var] = str(getattr(out, key))
    return out
