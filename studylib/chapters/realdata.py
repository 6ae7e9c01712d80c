"""The released real data the chapters read: the user's folder when it has it, else the copy that ships.

A chapter's ``shared_data`` parameter names a folder laid out as the study's shared data
(``frequencies/``, ``imagenet_testbed/``, ``neglected_tails/``). A fresh clone has no such folder, so the files
that may be redistributed ship as package data under ``studylib/resources/real/`` with their data cards
(``README.md`` there: source, licence, how they were made), and :func:`real_folder` falls back to them. The
same bytes either way, so the figures and numbers do not depend on which one was read. Parashar et al.'s counts
(``neglected_tails``) state no licence and do not ship: without the user's folder, :func:`real_folder` gives
None and the chapter says where to get them.

    freq = real_folder(shared_data, "frequencies")       # a Path, never None: the packaged copy at worst
    nt = real_folder(shared_data, "neglected_tails")     # None on a fresh clone
"""

from __future__ import annotations

from pathlib import Path

PACKAGED = Path(__file__).resolve().parents[1] / "resources" / "real"
SHIPPED = ("frequencies", "imagenet_testbed")
NOT_SHIPPED = {
    "neglected_tails": "Parashar et al.'s LAION counts do not ship (their repository states no licence); "
    "studylib/resources/real/README.md says how to make the folder and name it with `-p shared_data=...`"
}


def real_folder(shared_data: str | Path | None, name: str) -> Path | None:
    """``<shared_data>/<name>`` when that folder exists, else the packaged copy of ``name`` (None for data that
    does not ship)."""
    if name not in SHIPPED and name not in NOT_SHIPPED:
        raise ValueError(f"unknown real-data folder {name!r}; known: {', '.join([*SHIPPED, *NOT_SHIPPED])}")
    if shared_data:
        mine = Path(shared_data) / name
        if mine.is_dir():
            return mine
    packaged = PACKAGED / name
    return packaged if name in SHIPPED and packaged.is_dir() else None


def why_absent(name: str) -> str:
    """Why ``name`` has no folder here, in one sentence for the notebook."""
    return NOT_SHIPPED.get(name, f"the packaged copy of {name} is missing (a broken install?)")
