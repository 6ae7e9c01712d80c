"""Where a chapter's wall time goes: named phases, timed where they happen, written for the runner.

``with phase("train"): ...`` adds the block's *own* seconds to that phase (time spent in a
nested phase counts there, not twice). Phases: ``world`` (generating a concept world),
``embeddings`` (MiniLM embeddings not yet in the cache), ``train`` (training loops, also per
run), ``evaluate`` (probe fitting and evaluation), ``figures`` (figure export), ``waiting`` (for a lock
another process holds: a run another chapter is training, :func:`studylib.locking.file_lock`). The first
:class:`~studylib.session.Session` of a process calls :func:`mark_start`, so the runner can
tell kernel start-up and imports from the rest.

When ``STUDYLIB_PROFILE`` names a file, the totals are written to it (atomically, after each
phase, and ``current``: the run being trained or evaluated now, with its step, total steps and
epoch at most once a second, :func:`step`), which is how :func:`studylib.runner.run_chapters`
learns what a notebook's kernel did and shows what it does; runs found in the registry are
listed as ``cached`` (:func:`cached`). Without it, phases cost two clock reads.

The runner's side: each chapter's wall time split by phase (:func:`split_time`), the runs it trained and the
whole study's wall time are kept in ``<results>/executed/timings-<preset>.json`` (:func:`record_timing`,
:func:`read_timings`), from which the README's minutes table is generated.
"""

from __future__ import annotations

import json
import os
import time
from collections import defaultdict
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

from studylib.fileio import atomic_write_json, results_dir

PHASES = ("world", "embeddings", "train", "evaluate", "figures", "waiting")
# What a phase outside any run is doing, for the runner's progress (it says so once the phase passes 5 s).
BACKGROUND = {
    "world": "a concept world (generated, or read from the cache)",
    "embeddings": "MiniLM embeddings",
}
_totals: dict = defaultdict(float)
_runs: list = []
_stack: list = []
_state: dict = {}


@contextmanager
def phase(name: str, run: str | None = None):
    """Time a block as phase ``name`` (``run``: also list its seconds under that label)."""
    if name not in PHASES:
        raise ValueError(f"unknown phase {name!r}: use one of {PHASES}")
    frame = [name, time.perf_counter(), 0.0]
    _stack.append(frame)
    # what the runner shows while the chapter works: the run, else a long phase outside any run (a world, MiniLM)
    shown = run is not None or (name in BACKGROUND and "current" not in _state)
    if shown:
        _state["current"] = {"run": run or BACKGROUND[name], "phase": name, "since": time.time()}
        _write()
    try:
        yield
    finally:
        _stack.pop()
        spent = time.perf_counter() - frame[1]
        _totals[name] += spent - frame[2]
        if _stack:
            _stack[-1][2] += spent
        if run is not None:
            _runs.append({"run": run, "phase": name, "seconds": round(spent, 2)})
        if shown:
            _state.pop("current", None)
        _write()


def step(done: int, total: int, epoch: int, epochs: int) -> None:
    """The training loop's progress in the current run: ``done`` of ``total`` steps, in epoch ``epoch``
    (0-based) of ``epochs`` (written at most once a second, and at the end)."""
    current = _state.get("current")
    if current is None:
        return
    current.update(step=done, total=total, epoch=epoch, epochs=epochs)
    now = time.perf_counter()
    if now - _state.get("step_written", 0.0) >= 1.0 or done >= total:
        _state["step_written"] = now
        _write()


def cached(run: str) -> None:
    """Note that run ``run`` came from the registry (no training)."""
    _runs.append({"run": run, "phase": "cached", "seconds": 0.0})
    _write()


def mark_start() -> None:
    """Note the wall-clock time the first session of this process begins (end of start-up and imports)."""
    if "first_session" not in _state:
        _state["first_session"] = time.time()
        _write()


def snapshot() -> dict:
    return {
        "first_session": _state.get("first_session"),
        "phases": {k: round(_totals[k], 2) for k in PHASES},
        "runs": list(_runs),
        "current": _state.get("current"),
    }


def _write() -> None:
    path = os.environ.get("STUDYLIB_PROFILE")
    if path:
        atomic_write_json(path, snapshot())


# ---------------------------------------------------------------- the runner's side: timings-<preset>.json
def timings_path(preset: str) -> Path:
    return results_dir() / "executed" / f"timings-{preset}.json"


def read_timings(preset: str) -> dict:
    """chapter -> {"seconds", "trained", "when", "phases", "runs"} of the last execution of each chapter at
    ``preset`` (see :func:`split_time`), and ``"__wall__"`` -> {"seconds", "jobs", "when"} of the last whole
    study, of which ``"__prepare__"`` -> {"seconds", "what"} went to shared work before the kernels."""
    path = timings_path(preset)
    return json.loads(path.read_text()) if path.is_file() else {}


def record_timing(preset: str, name: str, entry: dict) -> None:
    """Set ``name``'s entry of the timings at ``preset`` (one writer: the runner's main thread)."""
    timings = read_timings(preset)
    timings[name] = entry
    atomic_write_json(timings_path(preset), timings)


def record_summary_seconds(preset: str, seconds: float) -> None:
    """Keep how long ``studylib summary --write`` took (the last step of ``make study``) beside the timings."""
    record_timing(preset, "__summary__", {"seconds": round(seconds, 1)})


def now_utc() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def split_time(seconds: float, started: float, profile: dict) -> dict:
    """A chapter's wall time by phase: ``start-up`` (kernel start and imports: from the runner's start to the
    notebook's first session), the kernel's own phases (:data:`PHASES`), ``retry`` (an attempt lost to a
    detected hang, when there was one) and ``analysis and other`` (the rest: analysis code, statistics, reading
    runs back, kernel shutdown)."""
    phases = dict(profile.get("phases", {}))
    first = profile.get("first_session")
    retry = float(profile.get("retry_seconds", 0.0))  # a hang's lost attempt, before the fresh kernel started
    startup = max(0.0, first - started - retry) if first else 0.0
    out = {"start-up": round(startup, 1), **{k: round(v, 1) for k, v in phases.items()}}
    if retry:
        out["retry"] = round(retry, 1)
    out["analysis and other"] = round(max(0.0, seconds - startup - retry - sum(phases.values())), 1)
    return out


def chapter_timing(seconds: float, started: float, profile: dict) -> dict:
    """A chapter's entry in the timings: its seconds, when, its phases, its runs and how many it trained."""
    runs = profile.get("runs", [])
    return {
        "seconds": round(seconds, 1),
        "when": now_utc(),
        "phases": split_time(seconds, started, profile),
        "runs": runs,
        "trained": sum(1 for r in runs if r["phase"] == "train"),
    }
