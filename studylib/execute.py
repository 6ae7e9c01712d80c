"""Execute one chapter notebook (a jupytext ``py:percent`` file) with papermill.

* parameters: the chapters by name (:func:`chapters`), ``key=value`` overrides (:func:`parse_assignment`),
  checked against each chapter's ``parameters`` cell before any kernel starts (:func:`chapter_parameters`);
* papermill: each chapter is read with ``jupytext.read``, parameterised (``preset`` plus any overrides) and
  executed on the ``python3`` kernel with the notebook's own folder as working directory. The executed
  notebook is written to ``<results>/executed/<chapter>.ipynb`` only when it succeeds (a failed one is kept
  as ``<chapter>.failed.ipynb`` for reading the error);
* retry: a cell that runs past :data:`CELL_TIMEOUT` gets the chapter executed again in a fresh kernel;
* a child process per chapter (:func:`run_in_child`, ``python -m studylib.execute``) with the environment
  of :func:`child_env` (one thread, where to write its profile and outputs).

Running a selection of chapters (freshness, scheduling, progress, timings) is :mod:`studylib.runner`'s job::

    python -m studylib run                       # every chapter, preset quick
    python -m studylib run 02 --preset smoke -p epochs=2
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

from studylib.fileio import REPO_ROOT, results_dir

NOTEBOOK_DIR = REPO_ROOT / "notebooks"


class ChapterFailed(RuntimeError):
    """A chapter raised; the message holds the notebook's own error."""


def chapters(selection=None, folder: Path = NOTEBOOK_DIR) -> list[Path]:
    """Chapter files in reading order (in ``selection``'s order when given). An item names a chapter by its
    number ("02" is chapter 2 alone, "02b" chapter 2b), its file name ("02_imbalance"), or a shell pattern
    ("02*": chapters 2 to 2e)."""
    from fnmatch import fnmatchcase

    found = sorted(p for p in Path(folder).glob("[0-9][0-9]*.py"))
    if not selection:
        return found
    picked = []
    for s in selection:
        hits = [
            p
            for p in found
            if s in (p.stem, p.stem.split("_", 1)[0])
            or (any(c in s for c in "*?[") and fnmatchcase(p.stem, s))
        ]
        if not hits:
            raise ValueError(f"no chapter matches {s!r}; chapters: {', '.join(p.stem for p in found)}")
        picked += [h for h in hits if h not in picked]
    return picked


def parse_assignment(text: str) -> tuple[str, object]:
    """``key=value`` with value parsed as JSON when it is JSON (3, 0.5, true, [1,2]), else a string."""
    if "=" not in text:
        raise ValueError(f"parameter {text!r} must look like key=value")
    key, raw = text.split("=", 1)
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    return key.strip(), value


def declared_parameters(path: Path) -> dict:
    """name -> declared type name of a chapter's ``parameters`` cell (papermill's own reading of it)."""
    import jupytext
    from papermill.translators import PythonTranslator

    cells = [c for c in jupytext.read(path).cells if "parameters" in c.metadata.get("tags", [])]
    if len(cells) != 1:
        raise ValueError(f"{path.name} needs exactly one cell tagged 'parameters', found {len(cells)}")
    return {p.name: p.inferred_type_name for p in PythonTranslator.inspect(cells[0])}


def chapter_parameters(paths: list, parameters: dict) -> dict:
    """path -> the parameters that chapter declares, checked before any kernel starts: a name no selected chapter
    declares, or a value of another type than the one declared (an int where a float is declared is fine), is
    refused with the close matches and the valid names. A name some chapters lack goes to those that declare it."""
    import difflib

    declared = {p: declared_parameters(p) for p in paths}
    valid = sorted({n for d in declared.values() for n in d})
    for name in parameters:
        if name not in valid:
            close = difflib.get_close_matches(name, valid, n=3)
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            who = (
                f"{paths[0].stem} has no parameter"
                if len(paths) == 1
                else "no selected chapter has a parameter"
            )
            raise ValueError(f"{who} {name!r}{hint}; parameters: {', '.join(valid)}")
    out = {}
    for p, d in declared.items():
        out[p] = {k: v for k, v in parameters.items() if k in d}
        _check_types(p, d, out[p])
        out[p] = {k: float(v) if d[k] == "float" else v for k, v in out[p].items()}
    return out


def _check_types(path: Path, declared: dict, parameters: dict) -> None:
    for name, value in parameters.items():
        want = declared[name]
        ok = {
            "int": isinstance(value, int) and not isinstance(value, bool),
            "float": isinstance(value, (int, float)) and not isinstance(value, bool),
            "str": isinstance(value, str),
            "bool": isinstance(value, bool),
        }.get(want, True)
        if not ok:
            raise ValueError(
                f"{path.stem}: parameter {name!r} must be {want}, got {type(value).__name__} {value!r}"
            )


# The longest a single cell may take before the runner gives up on it, per preset (None: no limit). No cell of
# these presets trains for more than a few minutes; the limit catches a reply lost between papermill's client and
# an idle kernel (an intermittent nbclient hang, seen once on this machine), and the chapter is then executed
# again once in a fresh kernel: its finished runs are in the registry, so the retry is short.
CELL_TIMEOUT = {"smoke": 600, "quick": 900}


def execute_chapter(
    path: Path, parameters: dict, out_dir: Path | None = None, progress: bool = True, retries: int = 1
) -> Path:
    """Run one chapter; return the executed notebook's path or raise ChapterFailed. The executed notebook is a
    plain ``.ipynb`` (the source's jupytext pairing is dropped, so JupyterLab opens it as it is). A cell that
    exceeds :data:`CELL_TIMEOUT` for the preset gets the chapter executed again, ``retries`` times at most."""
    from nbclient.exceptions import CellTimeoutError

    limit = CELL_TIMEOUT.get(parameters.get("preset"))
    try:
        return _execute_once(path, parameters, out_dir, progress)
    except CellTimeoutError:
        if retries <= 0:
            raise ChapterFailed(f"{path.name}: a cell ran past {limit} s; no retries left") from None
        print(
            f"{path.stem}: a cell ran past its {limit} s limit; executing the chapter again in a fresh kernel "
            "(its finished runs are cached)",
            file=sys.stderr,
            flush=True,
        )
        return execute_chapter(path, parameters, out_dir, progress, retries - 1)


def _execute_once(path: Path, parameters: dict, out_dir: Path | None, progress: bool) -> Path:
    import keyword

    import jupytext
    import papermill as pm

    for name in parameters:  # papermill pastes names into code: only plain identifiers pass
        if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name):
            raise ValueError(f"{path.stem}: {name!r} is not a parameter name (letters, digits and '_' only)")
    out_dir = Path(out_dir) if out_dir else results_dir() / "executed"
    out_dir.mkdir(parents=True, exist_ok=True)
    nb = jupytext.read(path)
    nb.metadata.pop("jupytext", None)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    final = out_dir / f"{path.stem}.ipynb"
    tmp = out_dir / f".{path.stem}.{os.getpid()}.{uuid.uuid4().hex[:8]}.running.ipynb"  # unique per execution
    batch = os.environ.get("STUDYLIB_BATCH")
    os.environ["STUDYLIB_BATCH"] = "1"  # the kernel inherits it: explorers show a figure, build no widget
    try:
        pm.execute_notebook(
            nb,
            str(tmp),
            parameters=parameters,
            kernel_name="python3",
            cwd=str(path.parent),
            progress_bar=progress,
            log_output=False,
            execution_timeout=CELL_TIMEOUT.get(parameters.get("preset")),
        )
    except pm.PapermillExecutionError as err:
        failed = out_dir / f"{path.stem}.failed.ipynb"
        os.replace(tmp, failed)
        raise ChapterFailed(
            f"{path.name} failed in cell {err.exec_count}: {err.ename}: {err.evalue}\n"
            f"(executed notebook kept at {failed})"
        ) from None
    except BaseException:  # interrupted: no half-executed notebook left behind
        tmp.unlink(missing_ok=True)
        raise
    finally:
        if batch is None:
            os.environ.pop("STUDYLIB_BATCH", None)
        else:
            os.environ["STUDYLIB_BATCH"] = batch
    os.replace(tmp, final)
    return final


def child_env(profile_file: Path, threads: int, outputs=None) -> dict:
    """The chapter kernel's environment: where to write its phases, its thread count and where its executed
    notebook, figures and cards go (``outputs``, a :class:`studylib.outputs.Folders`; figure and card folders
    the caller set in the environment are kept)."""
    env = dict(os.environ)
    env["STUDYLIB_PROFILE"] = str(profile_file)
    env.pop("STUDYLIB_EXECUTED", None)
    if outputs is not None:
        env.setdefault("STUDYLIB_FIGURES", str(outputs.figures))
        env.setdefault("STUDYLIB_CARDS", str(outputs.cards))
        env["STUDYLIB_EXECUTED"] = str(outputs.executed)
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env[var] = str(threads)
    return env


def run_in_child(path: Path, params: dict, env: dict) -> Path:
    """Execute one chapter in a child process with ``env`` (its kernel inherits it); the executed notebook's
    path, or ChapterFailed with the chapter's own error."""
    out_dir = Path(env.get("STUDYLIB_EXECUTED", results_dir() / "executed"))
    cmd = [sys.executable, "-m", "studylib.execute", str(path), json.dumps(params), str(out_dir), "0"]
    # no per-cell bar (the runner reports run by run); the child's error is kept for ChapterFailed
    res = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if res.returncode:
        tail = [
            line for line in (res.stderr or "").strip().splitlines() if not line.startswith("[IPKernelApp]")
        ]
        raise ChapterFailed("\n".join(tail[-12:]) or f"{path.name} failed with exit code {res.returncode}")
    return out_dir / f"{path.stem}.ipynb"


if __name__ == "__main__":  # one chapter in this process (run_in_child's child)
    # nbformat's jsonschema imports rfc3987_syntax when it is installed (JupyterLab's dependencies bring it),
    # and that module builds a parser for IRIs at import: 2-3 s of every chapter's start here
    # (bench/imports.py), for a format check nbformat never makes (it validates without a format checker).
    # Marked absent in this child only, which runs nothing but papermill; kernels are not touched.
    sys.modules.setdefault("rfc3987_syntax", None)
    try:
        execute_chapter(
            Path(sys.argv[1]), json.loads(sys.argv[2]), Path(sys.argv[3]), progress=sys.argv[4] == "1"
        )
    except ChapterFailed as err:
        print(err, file=sys.stderr)
        sys.exit(3)
