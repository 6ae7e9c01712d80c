"""Run a selection of chapters at a preset: what ``studylib run`` and ``make study`` do.

:func:`run_chapters` checks every chapter's parameters before any kernel starts, keeps a chapter whose
executed notebook is up to date (:func:`chapter_stamp`), and executes the others, each in a child process
of its own (:mod:`studylib.execute`), a few at a time in a dependency order (:mod:`studylib.scheduler`),
while :mod:`studylib.progress` says run by run what they do; each chapter's time, split by phase, goes to
the timings file of :mod:`studylib.profiling`. Every executed chapter is also exported as static HTML.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from studylib.execute import ChapterFailed, chapter_parameters, chapters, child_env, run_in_child
from studylib.export import export_html
from studylib.fileio import REPO_ROOT, atomic_write_json
from studylib.outputs import Folders, folders
from studylib.processes import allow_children, stop_children, terminate_as_interrupt
from studylib.profiling import chapter_timing, now_utc, read_timings, record_timing
from studylib.progress import Reporter, Watcher
from studylib.scheduler import run_graph


@dataclass
class Executed:
    """One chapter's outcome: its executed notebook, its seconds, and, when it was executed (not kept because
    up to date), the wall-clock time it started and its kernel's profile."""

    notebook: Path
    seconds: float = 0.0
    kept: bool = False
    started: float = 0.0
    profile: dict = field(default_factory=dict)


def expected_runs(timing: dict | None) -> int | None:
    """How many runs a chapter reported (trained and evaluated, evaluated only, or cached) in its last recorded
    execution, for the progress's "run n of ~N"; None when unknown."""
    runs = (timing or {}).get("runs") or []
    return sum(1 for r in runs if r.get("phase") in ("evaluate", "cached")) or None


def _preset_in_registry(preset: str) -> bool:
    """Whether the registry holds any finished run of ``preset`` made by this code (a cold execution of it has
    none; runs of other code are never reused, so they do not make an execution warm)."""
    from studylib.fingerprint import code_fingerprint
    from studylib.registry import Registry

    code = code_fingerprint()
    for meta in Registry().root.glob("*/meta.json"):
        try:
            found = json.loads(meta.read_text())
            if (
                found.get("preset") == preset
                and found.get("code") == code
                and meta.with_name("metrics.json").is_file()
            ):
                return True
        except (OSError, json.JSONDecodeError):
            continue
    return False


def chapter_stamp(path: Path, parameters: dict) -> dict:
    """What an executed chapter depends on: its source, its parameters, every studylib source file (analysis
    and plots included), the numeric packages and the shared data folder's manifest."""
    from studylib.fingerprint import PACKAGE, PACKAGES, file_digest, manifest, sources_digest

    shared = REPO_ROOT.parent / "shared" / "data"
    return {
        "notebook": file_digest(path),
        "parameters": json.loads(json.dumps(parameters, sort_keys=True)),
        "studylib": sources_digest(sorted(PACKAGE.rglob("*.py")), PACKAGES)[:16],
        "shared": manifest(str(shared)) if shared.is_dir() else "absent",
        # the data that ships with the package (its real-data copies and the concepts' MiniLM table)
        "resources": manifest(str(PACKAGE / "resources"), verify=True),
    }


def up_to_date(executed: Path, stamp_file: Path, stamp: dict) -> bool:
    """Whether ``executed`` exists and was made from what ``stamp`` describes (a make-like check)."""
    if not executed.is_file() or not stamp_file.is_file():
        return False
    try:
        return json.loads(stamp_file.read_text()) == stamp
    except (OSError, json.JSONDecodeError):
        return False


def prepare_shared() -> float | None:
    """Embed the 1000 concepts' semantic texts once, with every thread, before the single-threaded
    kernels start (each world needs them, and two kernels starting together would both embed them);
    return the seconds spent, or None when they were cached already."""
    from studylib.concepts import load_concepts, semantic_vectors

    t0 = time.perf_counter()
    semantic_vectors(load_concepts())
    dt = time.perf_counter() - t0
    if dt < 1:
        return None
    print(f"== shared MiniLM concept embeddings ready in {dt:.1f}s", flush=True)
    return dt


def _export(notebook: Path, html: Path) -> None:
    """The executed chapter as static HTML. A page that cannot be written (a full disk, a read-only folder, a
    notebook the exporter cannot read) fails the chapter, naming the file: a study that reports success must
    have written every output it names. Its stamp is not written, so the rerun executes it again."""
    try:
        export_html(notebook, html)
    except (ValueError, OSError) as err:
        raise ChapterFailed(
            f"{notebook.stem}: could not write {html} ({type(err).__name__}: {err}); fix the cause (free disk "
            f"space, folder permissions), then rerun `python -m studylib run {notebook.stem}`"
        ) from err


def execute_or_keep(
    path: Path,
    params: dict,
    outputs: Folders,
    force: bool,
    out: Reporter,
    watcher: Watcher,
    position: str = "",
) -> Executed:
    """Chapter ``path`` with ``params``: kept when up to date (unless ``force``), else executed in a child
    process and exported as HTML; ``outputs``: where its notebook, figures and cards go (:mod:`studylib.outputs`)."""
    executed = outputs.executed
    executed.mkdir(parents=True, exist_ok=True)
    profile_file = (executed / f".profile-{path.stem}.json").resolve()
    profile_file.unlink(missing_ok=True)
    t0, wall0 = time.perf_counter(), time.time()
    env = child_env(profile_file, 1, outputs)
    out_dir = Path(env.get("STUDYLIB_EXECUTED", executed))
    notebook, html = out_dir / f"{path.stem}.ipynb", out_dir.parent / "html" / f"{path.stem}.html"
    stamp, stamp_file = chapter_stamp(path, params), out_dir / f".{path.stem}.stamp.json"
    if not force and up_to_date(notebook, stamp_file, stamp):
        out.say(
            f"== {path.stem} up to date (its source, parameters, studylib and the shared data are "
            "unchanged): kept; --force executes it again"
        )
        if not html.is_file():
            _export(notebook, html)
        return Executed(notebook, kept=True)
    out.say(f"== {path.stem} ({position + ', ' if position else ''}preset {params['preset']}) started")
    watcher.add(path.stem, profile_file, expected_runs(read_timings(params["preset"]).get(path.stem)))
    retries_file = Path(f"{profile_file}.retries.json")
    retries_file.unlink(missing_ok=True)
    try:
        notebook = run_in_child(path, params, env)
    finally:
        watcher.finish(path.stem)  # the runs that ended since the watcher last looked
        retries = json.loads(retries_file.read_text()) if retries_file.is_file() else []
        retries_file.unlink(missing_ok=True)
        for r in retries:  # a detected hang (studylib.execute.HangWatch): said here, booked as "retry"
            out.say(
                f"   {path.stem}: the kernel finished cell {r['cell']} but its reply never came; executed again "
                f"in a fresh kernel ({r['seconds']:.0f} s lost, booked as retry)"
            )
    _export(notebook, html)  # static, self-contained: for reading without a kernel
    atomic_write_json(stamp_file, stamp)
    dt = time.perf_counter() - t0
    profile = json.loads(profile_file.read_text()) if profile_file.is_file() else {}
    profile_file.unlink(missing_ok=True)
    if retries:
        profile["retry_seconds"] = sum(r["seconds"] for r in retries)
    out.say(f"   {path.stem} done in {dt:.1f}s -> {notebook} and {html}")
    return Executed(notebook, dt, started=wall0, profile=profile)


def eta(expected: dict, finished: list, jobs: int) -> str:
    """``"; about N min left ..."``: the recorded cold minutes of the chapters not finished, over ``jobs`` (an
    upper bound where their runs are cached); "" when a chapter left was never timed."""
    left = [expected[p] for p in expected if p not in finished]
    if not left or any(x is None for x in left):
        return ""
    minutes = sum(left) / max(1, jobs) / 60
    return f"; at most about {minutes:.0f} min left (the last cold run's minutes, {jobs} at a time)"


def start_order(paths: list, deps: dict, timings: dict) -> list:
    """The chapters in the order they start when several are ready: the longest chain of work still ahead of
    a chapter first (its own minutes plus its longest chain of dependents, from the last cold execution's
    ``timings``; a chapter never timed counts one minute), reading order on ties. The chapter others wait on
    starts first, so the kernels are not left idle at the end waiting for it."""
    cost = {p: float(timings.get(p.stem, {}).get("seconds", 60.0)) for p in paths}
    dependents = {p: [q for q in paths if p in deps[q]] for p in paths}
    chain: dict = {}

    def ahead(p) -> float:
        if p not in chain:
            chain[p] = cost[p] + max((ahead(q) for q in dependents[p]), default=0.0)
        return chain[p]

    return sorted(paths, key=lambda p: -ahead(p))  # sorted is stable: reading order on ties


def timing_entry(entry: dict, cold: bool) -> dict | None:
    """What the timings keep of a chapter's execution: all of it in a cold execution; in a resumed one (the
    registry held runs of the preset, e.g. after an interruption) only a chapter that trained runs, marked
    ``resumed`` (it may not hold all of the chapter's training); a rerun over cached runs, nothing."""
    if cold:
        return entry
    return {**entry, "resumed": True} if entry.get("trained") else None


def run_chapters(
    selection=None,
    preset: str = "quick",
    overrides: dict | None = None,
    progress: bool = True,
    jobs: int = 1,
    after: dict | None = None,
    force: bool = False,
) -> list[tuple[Path, float]]:
    """Execute the selected chapters; return (executed path, seconds) per chapter, in reading order.

    Each chapter runs in its own process and kernel with **one thread** (``OMP_NUM_THREADS=1``), so
    its numbers do not depend on the machine's cores or on ``jobs``: up to ``jobs`` chapters run at
    once (two single-threaded kernels use two cores better than one kernel with two threads uses
    them, for models this small), each only after the chapters named in ``after[name]``, whose
    runs it reuses. Each chapter's wall time, split by phase (:func:`studylib.profiling.split_time`), the
    seconds of each run it trained, and the number of runs it trained are recorded in
    ``<results>/executed/timings-<preset>.json`` (without overrides; when the registry held runs of the preset at
    the start, only chapters that trained, marked resumed: :func:`timing_entry`), with a cold execution's wall time under
    ``"__wall__"``; the README's minutes tables are generated from it.
    Figures, data cards and executed notebooks go where :func:`studylib.outputs.folders` says: ``quick`` and
    ``full`` at their own values publish ``figures/`` and ``figures/full/`` (and ``data_cards/``, ``data_cards/full/``);
    any other execution writes under ``<results>/<preset and changed parameters>/``.

    A chapter whose executed notebook was made from the same :func:`chapter_stamp` (source, parameters,
    studylib, packages, shared data) is kept, not executed again, unless ``force``; a whole study in which
    every chapter was kept records its wall time as ``"__warm__"``.
    """
    overrides = overrides or {}
    allow_children()
    paths = chapters(selection)
    per_chapter = chapter_parameters(paths, {"preset": preset, **overrides})  # before any kernel starts
    start = time.perf_counter()
    # timings describe a cold execution (nothing in the registry yet): a rerun over cached runs would
    # otherwise replace the README's measured minutes with the minutes of reading runs back
    timed = not overrides and not _preset_in_registry(preset)
    whole = not overrides and not selection
    prepared = prepare_shared()
    if timed and not selection:
        what = "MiniLM concept embeddings, all threads, before the kernels"
        record_timing(preset, "__prepare__", {"seconds": round(prepared or 0.0, 1), "what": what})

    expected = {p: read_timings(preset).get(p.stem, {}).get("seconds") for p in paths}
    finished: list = []

    def record(path: Path, result: Executed) -> None:
        if not overrides and not result.kept:
            entry = timing_entry(chapter_timing(result.seconds, result.started, result.profile), cold=timed)
            if entry is not None:
                record_timing(preset, path.stem, entry)
        finished.append(path)
        if len(finished) < len(paths):
            out.say(f"   {len(finished)} of {len(paths)} chapters done{eta(expected, finished, jobs)}")

    deps = {p: [q for q in paths if q.stem in (after or {}).get(p.stem, ())] for p in paths}
    order = start_order(paths, deps, read_timings(preset))
    out, outputs = Reporter(), folders(preset, overrides)
    before = [expected_runs(read_timings(preset).get(p.stem)) for p in paths]
    total = sum(before) if all(before) else None  # "~N in all" only when every chapter's count is known
    with Watcher(out, enabled=progress, expected=total) as watcher:  # run by run, from the kernels' profiles

        def work(path: Path) -> Executed:
            position = f"chapter {paths.index(path) + 1} of {len(paths)}"
            return execute_or_keep(path, per_chapter[path], outputs, force, out, watcher, position)

        with terminate_as_interrupt():  # SIGTERM stops the chapters as Ctrl-C does
            done = run_graph(order, deps, jobs, work, on_done=record, on_interrupt=stop_children)
    kept = sum(r.kept for r in done.values())
    if whole and ((timed and not kept) or kept == len(paths)):
        record_timing(
            preset,
            "__warm__" if kept else "__wall__",
            {"seconds": round(time.perf_counter() - start, 1), "jobs": jobs, "when": now_utc()},
        )
    return [(done[p].notebook, done[p].seconds) for p in paths]
