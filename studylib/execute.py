"""Execute one chapter notebook (a jupytext ``py:percent`` file) with papermill.

* parameters: the chapters by name (:func:`chapters`), ``key=value`` overrides (:func:`parse_assignment`),
  checked against each chapter's ``parameters`` cell before any kernel starts (:func:`chapter_parameters`);
* papermill: each chapter is read with ``jupytext.read``, parameterised (``preset`` plus any overrides) and
  executed on the ``python3`` kernel with the notebook's own folder as working directory. The executed
  notebook is written to ``<results>/executed/<chapter>.ipynb`` only when it succeeds (a failed one is kept
  as ``<chapter>.failed.ipynb`` for reading the error);
* hangs: no cell is ever stopped for being slow; the known hang (a kernel done with a cell whose reply never
  comes, :class:`HangWatch`) gets the chapter executed again in a fresh kernel, printed and booked by the runner;
* a child process per chapter (:func:`run_in_child`, ``python -m studylib.execute``) with the environment
  of :func:`child_env` (one thread, where to write its profile and outputs).

Running a selection of chapters (freshness, scheduling, progress, timings) is :mod:`studylib.runner`'s job::

    python -m studylib run                       # every chapter, preset quick
    python -m studylib run 02 --preset smoke -p epochs=2
"""

from __future__ import annotations

import json
import os
import sys
import time
import uuid
from pathlib import Path

from studylib import processes
from studylib.cellwatch import HANG_GRACE, HangDetected, HangWatch, book_retry
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


def execute_chapter(
    path: Path,
    parameters: dict,
    out_dir: Path | None = None,
    progress: bool = True,
    retries: int = 1,
    grace: float = HANG_GRACE,
) -> Path:
    """Run one chapter; return the executed notebook's path or raise ChapterFailed. The executed notebook is a
    plain ``.ipynb`` (the source's jupytext pairing is dropped, so JupyterLab opens it as it is). A detected hang
    (:class:`HangWatch`) gets the chapter executed again in a fresh kernel, ``retries`` times at most; each
    retry is appended to ``<STUDYLIB_PROFILE>.retries.json`` for the runner to print and book."""
    t0 = time.time()
    try:
        return _execute_once(path, parameters, out_dir, progress, grace)
    except HangDetected as hang:
        lost = time.time() - t0
        if retries <= 0:
            raise ChapterFailed(f"{path.name}: {hang}; no retries left") from None
        book_retry({"cell": hang.cell, "seconds": round(lost, 1), "at": time.time()})
        print(
            f"{path.stem}: {hang}; executing the chapter again in a fresh kernel "
            f"(its finished runs are cached; {lost:.0f} s lost)",
            file=sys.stderr,
            flush=True,
        )
        return execute_chapter(path, parameters, out_dir, progress, retries - 1, grace)


def _execute_once(path: Path, parameters: dict, out_dir: Path | None, progress: bool, grace: float) -> Path:
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
    batch, cells_before = os.environ.get("STUDYLIB_BATCH"), os.environ.get("STUDYLIB_CELLS")
    os.environ["STUDYLIB_BATCH"] = "1"  # the kernel inherits it: explorers show a figure, build no widget
    cells = out_dir / f".{path.stem}.{os.getpid()}.{uuid.uuid4().hex[:8]}.cells.json"
    os.environ["STUDYLIB_CELLS"] = str(cells)  # the kernel's cell log (studylib.cellwatch)
    watch = HangWatch(cells, grace)
    try:
        with watch:
            pm.execute_notebook(
                nb,
                str(tmp),
                parameters=parameters,
                kernel_name="python3",
                cwd=str(path.parent),
                progress_bar=progress,
                log_output=False,
                execution_timeout=None,  # never a wall-clock limit: a slow cell only makes the study slower
                extra_arguments=["--ext=studylib.cellwatch"],
                on_cell_executed=watch.on_cell_executed,
            )
    except Exception as err:
        if watch.hung is not None:  # the kernel this process stopped on the known hang
            tmp.unlink(missing_ok=True)
            waited = watch.hung["detected_at"] - watch.hung["done_at"]
            raise HangDetected(
                f"the kernel finished cell {watch.hung['cell']} but its reply never came in {waited:.0f} s "
                f"({type(err).__name__})",
                watch.hung["cell"],
            ) from None
        if not isinstance(err, pm.PapermillExecutionError):
            tmp.unlink(missing_ok=True)
            raise
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
        for var, value in (("STUDYLIB_BATCH", batch), ("STUDYLIB_CELLS", cells_before)):
            if value is None:
                os.environ.pop(var, None)
            else:
                os.environ[var] = value
        cells.unlink(missing_ok=True)
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
    child = processes.start(cmd, env)  # in a session of its own (a Ctrl-C reaches the runner alone)
    _, stderr = processes.communicate(child)
    if child.returncode:
        tail = [line for line in (stderr or "").strip().splitlines() if not line.startswith("[IPKernelApp]")]
        raise ChapterFailed("\n".join(tail[-12:]) or f"{path.name} failed with exit code {child.returncode}")
    return out_dir / f"{path.stem}.ipynb"


def child_main(argv: list[str]) -> int:
    """``python -m studylib.execute CHAPTER PARAMS OUT_DIR PROGRESS``: one chapter; its error in one line on
    stderr (the runner shows it): 3 for the chapter's own error, 74 when a file could not be written (a full
    disk, a read-only folder), naming the file; the runs it finished are in the registry, so a rerun resumes."""
    path = Path(argv[0])
    try:
        execute_chapter(path, json.loads(argv[1]), Path(argv[2]), progress=argv[3] == "1")
    except ChapterFailed as err:
        print(err, file=sys.stderr)
        return 3
    except OSError as err:
        where = err.filename or f"into {argv[2]}"  # a failed write() names no file: name the folder
        print(
            f"{path.name}: could not write {where}: {err.strerror or err}; free space (or make the folder "
            "writable) and run again: the runs already trained are kept, so it resumes",
            file=sys.stderr,
        )
        return 74
    return 0


if __name__ == "__main__":  # one chapter in this process (run_in_child's child)
    # nbformat's jsonschema imports rfc3987_syntax when it is installed (JupyterLab's dependencies bring it),
    # and that module builds a parser for IRIs at import: 2-3 s of every chapter's start here
    # (bench/imports.py), for a format check nbformat never makes (it validates without a format checker).
    # Marked absent in this child only, which runs nothing but papermill; kernels are not touched.
    sys.modules.setdefault("rfc3987_syntax", None)
    sys.exit(child_main(sys.argv[1:]))
