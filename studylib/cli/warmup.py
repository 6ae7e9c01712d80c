"""Byte-compile what the study imports, once, at setup: ``PYTHONDONTWRITEBYTECODE= python -m studylib.cli.warmup``.

Why: ``make setup`` installs with ``pip --no-compile`` (pip would byte-compile every installed module, torch's CUDA
build and its 5 GB of dependencies included: 95 s of a 164 s install here). Python then compiles a module when it
is first imported, and caches the result, unless bytecode writing is off (``PYTHONDONTWRITEBYTECODE``, set on some
machines and CI runners): then every kernel of the study compiled its imports again, about 4 s per kernel start
(9.1 s against 4.9 s for torch, studylib and papermill). Importing every studylib module and the libraries a
chapter kernel and the runner use, with bytecode writing on, caches exactly those (23 s once here).
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
import time

LIBRARIES = (
    "papermill",
    "nbclient",
    "nbconvert",
    "jupytext",
    "ipykernel.kernelapp",
    "ipykernel.ipkernel",
    "ipywidgets",
    "sentence_transformers",
    "transformers",
    "open_clip",
    "plotly.graph_objects",
    "seaborn",
    "sklearn.linear_model",
    "scipy.stats",
    "pyarrow.parquet",
    "matplotlib.pyplot",
)


def main() -> int:
    sys.dont_write_bytecode = False
    t0 = time.perf_counter()
    import studylib

    names = [
        m.name
        for m in pkgutil.walk_packages(studylib.__path__, "studylib.")
        if not m.name.endswith("__main__")
    ]
    for name in [*names, *LIBRARIES]:
        importlib.import_module(name)
    print(f"byte-compiled the study's imports in {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
