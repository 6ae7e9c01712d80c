"""Execute the chapter notebooks (jupytext ``py:percent`` files) with papermill.

Each chapter is read with ``jupytext.read``, parameterised (``preset`` plus
any overrides) and executed by papermill on the ``python3`` kernel with the
notebook's own folder as working directory. The executed notebook is written
to ``<results>/executed/<chapter>.ipynb`` only when it succeeds (a failed one
is kept as ``<chapter>.failed.ipynb`` for reading the error).

    python -m studylib run                       # every chapter, preset quick
    python -m studylib run 02 --preset smoke -p epochs=2
"""
from __future__ import annotations

import json
import os
import time
from datetime import datetime, timezone
from pathlib import Path

from studylib.io import REPO_ROOT, atomic_write_json, results_dir

NOTEBOOK_DIR = REPO_ROOT / "notebooks"


class ChapterFailed(RuntimeError):
    """A chapter raised; the message holds the notebook's own error."""


def chapters(selection=None, folder: Path = NOTEBOOK_DIR) -> list[Path]:
    """Chapter files in reading order; ``selection`` items match by prefix ("02", "02_imbalance")."""
    found = sorted(p for p in Path(folder).glob("[0-9][0-9]*.py"))
    if not selection:
        return found
    picked = []
    for s in selection:
        hits = [p for p in found if p.stem == s or p.stem.startswith(s)]
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


def execute_chapter(path: Path, parameters: dict, out_dir: Path | None = None, progress: bool = True) -> Path:
    """Run one chapter; return the executed notebook's path or raise ChapterFailed."""
    import jupytext
    import papermill as pm

    out_dir = Path(out_dir) if out_dir else results_dir() / "executed"
    out_dir.mkdir(parents=True, exist_ok=True)
    nb = jupytext.read(path)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    final = out_dir / f"{path.stem}.ipynb"
    tmp = out_dir / f".{path.stem}.running.ipynb"
    try:
        pm.execute_notebook(nb, str(tmp), parameters=parameters, kernel_name="python3", cwd=str(path.parent),
                            progress_bar=progress, log_output=False)
    except pm.PapermillExecutionError as err:
        failed = out_dir / f"{path.stem}.failed.ipynb"
        os.replace(tmp, failed)
        raise ChapterFailed(f"{path.name} failed in cell {err.exec_count}: {err.ename}: {err.evalue}\n"
                            f"(executed notebook kept at {failed})") from None
    os.replace(tmp, final)
    return final


def _trained_runs() -> int:
    root = results_dir() / "runs"
    return sum(1 for _ in root.glob("*/metrics.json")) if root.is_dir() else 0


def timings_path(preset: str) -> Path:
    return results_dir() / "executed" / f"timings-{preset}.json"


def read_timings(preset: str) -> dict:
    """chapter -> {"seconds", "trained", "when", "phases", "runs"} of the last execution of each chapter at
    ``preset`` (see :func:`split_time`)."""
    path = timings_path(preset)
    return json.loads(path.read_text()) if path.is_file() else {}


def split_time(seconds: float, started: float, profile: dict) -> dict:
    """A chapter's wall time by phase: ``start-up`` (kernel start and imports: from the runner's start to the
    notebook's first session), the kernel's own phases (:mod:`studylib.profiling`), and ``analysis and other``
    (the rest: analysis code, statistics, reading runs back, kernel shutdown)."""
    phases = dict(profile.get("phases", {}))
    first = profile.get("first_session")
    startup = max(0.0, first - started) if first else 0.0
    out = {"start-up": round(startup, 1), **{k: round(v, 1) for k, v in phases.items()}}
    out["analysis and other"] = round(max(0.0, seconds - startup - sum(phases.values())), 1)
    return out


def run_chapters(selection=None, preset: str = "quick", overrides: dict | None = None,
                 progress: bool = True) -> list[tuple[Path, float]]:
    """Execute the selected chapters in order; return (executed path, seconds) per chapter.

    Each chapter's wall time, split by phase (:func:`split_time`), the seconds of each run it
    trained, and the number of runs it trained (not found in the registry) are recorded in
    ``<results>/executed/timings-<preset>.json`` (without overrides only), from which the
    README's minutes-per-chapter table is generated.
    """
    params = {"preset": preset, **(overrides or {})}
    done = []
    profile_file = (results_dir() / "executed" / ".profile.json").resolve()
    for path in chapters(selection):
        t0, wall0, before = time.perf_counter(), time.time(), _trained_runs()
        print(f"== {path.stem} (preset {preset})", flush=True)
        profile_file.unlink(missing_ok=True)
        previous = os.environ.get("STUDYLIB_PROFILE")
        os.environ["STUDYLIB_PROFILE"] = str(profile_file)        # the kernel inherits it
        try:
            out = execute_chapter(path, params, progress=progress)
        finally:
            if previous is None:
                os.environ.pop("STUDYLIB_PROFILE", None)
            else:
                os.environ["STUDYLIB_PROFILE"] = previous
        dt = time.perf_counter() - t0
        profile = json.loads(profile_file.read_text()) if profile_file.is_file() else {}
        print(f"   done in {dt:.1f}s -> {out}", flush=True)
        done.append((out, dt))
        if not overrides:
            timings = read_timings(preset)
            timings[path.stem] = {"seconds": round(dt, 1), "trained": _trained_runs() - before,
                                  "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                                  "phases": split_time(dt, wall0, profile), "runs": profile.get("runs", [])}
            atomic_write_json(timings_path(preset), timings)
    return done
