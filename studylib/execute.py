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
import shutil
import subprocess
import sys
import threading
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

from studylib.io import REPO_ROOT, atomic_write_json, results_dir
from studylib.export import export_html

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
            who = f"{paths[0].stem} has no parameter" if len(paths) == 1 else "no selected chapter has a parameter"
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
        ok = {"int": isinstance(value, int) and not isinstance(value, bool),
              "float": isinstance(value, (int, float)) and not isinstance(value, bool),
              "str": isinstance(value, str), "bool": isinstance(value, bool)}.get(want, True)
        if not ok:
            raise ValueError(f"{path.stem}: parameter {name!r} must be {want}, got {type(value).__name__} {value!r}")


# The longest a single cell may take before the runner gives up on it, per preset (None: no limit). No cell of
# these presets trains for more than a few minutes; the limit catches a reply lost between papermill's client and
# an idle kernel (an intermittent nbclient hang, seen once on this machine), and the chapter is then executed
# again once in a fresh kernel: its finished runs are in the registry, so the retry is short.
CELL_TIMEOUT = {"smoke": 600, "quick": 900}


def execute_chapter(path: Path, parameters: dict, out_dir: Path | None = None, progress: bool = True,
                    retries: int = 1) -> Path:
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
        print(f"{path.stem}: a cell ran past its {limit} s limit; executing the chapter again in a fresh kernel "
              "(its finished runs are cached)", file=sys.stderr, flush=True)
        return execute_chapter(path, parameters, out_dir, progress, retries - 1)


def _execute_once(path: Path, parameters: dict, out_dir: Path | None, progress: bool) -> Path:
    import jupytext
    import papermill as pm

    import keyword

    for name in parameters:           # papermill pastes names into code: only plain identifiers pass
        if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name):
            raise ValueError(f"{path.stem}: {name!r} is not a parameter name (letters, digits and '_' only)")
    out_dir = Path(out_dir) if out_dir else results_dir() / "executed"
    out_dir.mkdir(parents=True, exist_ok=True)
    nb = jupytext.read(path)
    nb.metadata.pop("jupytext", None)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    final = out_dir / f"{path.stem}.ipynb"
    tmp = out_dir / f".{path.stem}.{os.getpid()}.{uuid.uuid4().hex[:8]}.running.ipynb"   # unique per execution
    batch = os.environ.get("STUDYLIB_BATCH")
    os.environ["STUDYLIB_BATCH"] = "1"          # the kernel inherits it: explorers show a figure, build no widget
    try:
        pm.execute_notebook(nb, str(tmp), parameters=parameters, kernel_name="python3", cwd=str(path.parent),
                            progress_bar=progress, log_output=False,
                            execution_timeout=CELL_TIMEOUT.get(parameters.get("preset")))
    except pm.PapermillExecutionError as err:
        failed = out_dir / f"{path.stem}.failed.ipynb"
        os.replace(tmp, failed)
        raise ChapterFailed(f"{path.name} failed in cell {err.exec_count}: {err.ename}: {err.evalue}\n"
                            f"(executed notebook kept at {failed})") from None
    except BaseException:                       # interrupted: no half-executed notebook left behind
        tmp.unlink(missing_ok=True)
        raise
    finally:
        if batch is None:
            os.environ.pop("STUDYLIB_BATCH", None)
        else:
            os.environ["STUDYLIB_BATCH"] = batch
    os.replace(tmp, final)
    return final


def timings_path(preset: str) -> Path:
    return results_dir() / "executed" / f"timings-{preset}.json"


def read_timings(preset: str) -> dict:
    """chapter -> {"seconds", "trained", "when", "phases", "runs"} of the last execution of each chapter at
    ``preset`` (see :func:`split_time`), and ``"__wall__"`` -> {"seconds", "jobs", "when"} of the last whole
    study, of which ``"__prepare__"`` -> {"seconds", "what"} went to shared work before the kernels."""
    path = timings_path(preset)
    return json.loads(path.read_text()) if path.is_file() else {}


def record_summary_seconds(preset: str, seconds: float) -> None:
    """Keep how long ``studylib summary --write`` took (the last step of ``make study``) beside the timings."""
    timings = read_timings(preset)
    timings["__summary__"] = {"seconds": round(seconds, 1)}
    atomic_write_json(timings_path(preset), timings)


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


def output_folder(preset: str, overrides: dict) -> Path | None:
    """Where a non-canonical execution publishes figures and data cards: ``<results>/<preset>[-<hash of the
    overrides>]``; None for the canonical study (preset ``quick``, no overrides), which writes ``figures/`` and
    ``data_cards/``."""
    if preset == "quick" and not overrides:
        return None
    import hashlib

    tag = preset
    if overrides:
        tag += "-" + hashlib.sha256(json.dumps(overrides, sort_keys=True).encode()).hexdigest()[:8]
    return results_dir() / tag


def _child_env(profile_file: Path, threads: int, outputs: Path | None = None) -> dict:
    """The chapter kernel's environment: where to write its phases, its thread count and, for a non-canonical
    execution whose figure and card folders the caller has not set, where those go (:func:`output_folder`)."""
    env = dict(os.environ)
    env["STUDYLIB_PROFILE"] = str(profile_file)
    env.pop("STUDYLIB_EXECUTED", None)
    if outputs is not None:
        env.setdefault("STUDYLIB_FIGURES", str(outputs / "figures"))
        env.setdefault("STUDYLIB_CARDS", str(outputs / "data_cards"))
        env["STUDYLIB_EXECUTED"] = str(outputs / "executed")
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env[var] = str(threads)
    return env


def _run_one(path: Path, params: dict, env: dict) -> Path:
    """Execute one chapter in a child process with ``env`` (its kernel inherits it); the executed notebook's
    path, or ChapterFailed with the chapter's own error."""
    out_dir = Path(env.get("STUDYLIB_EXECUTED", results_dir() / "executed"))
    cmd = [sys.executable, "-m", "studylib.execute", str(path), json.dumps(params), str(out_dir), "0"]
    # no per-cell bar (the runner reports run by run); the child's error is kept for ChapterFailed
    res = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if res.returncode:
        tail = [line for line in (res.stderr or "").strip().splitlines() if not line.startswith("[IPKernelApp]")]
        raise ChapterFailed("\n".join(tail[-12:]) or f"{path.name} failed with exit code {res.returncode}")
    return out_dir / f"{path.stem}.ipynb"


def _export(notebook: Path, html: Path) -> None:
    """The executed chapter as static HTML; a failure is reported, never fatal (the notebook is what counts)."""
    try:
        export_html(notebook, html)
    except (ValueError, OSError) as err:
        print(f"warning: no HTML export of {notebook.name}: {err}", file=sys.stderr, flush=True)


def _schedule(paths: list, after: dict, jobs: int, work) -> None:
    """Call ``work(path)`` for every path, ``jobs`` at a time, in reading order, each only after the chapters
    it comes ``after`` (stems) have finished; the first failure stops new starts and is raised."""
    stems = {p.stem for p in paths}
    pending, done, failed = list(paths), set(), []
    cond = threading.Condition()

    def ready(p):
        return all(a in done or a not in stems for a in after.get(p.stem, ()))

    def worker():
        while True:
            with cond:
                while True:
                    if failed or not pending:
                        return
                    nxt = next((p for p in pending if ready(p)), None)
                    if nxt is not None:
                        pending.remove(nxt)
                        break
                    cond.wait()
            try:
                work(nxt)
            except BaseException as err:            # noqa: BLE001 (re-raised below, in the caller's thread)
                with cond:
                    failed.append(err)
                    cond.notify_all()
                return
            with cond:
                done.add(nxt.stem)
                cond.notify_all()

    threads = [threading.Thread(target=worker) for _ in range(max(1, jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if failed:
        raise failed[0]


def _prepare_shared() -> float | None:
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


def chapter_stamp(path: Path, parameters: dict) -> dict:
    """What an executed chapter depends on: its source, its parameters, every studylib source file (analysis
    and plots included), the numeric packages and the shared data folder's manifest."""
    from studylib.fingerprint import PACKAGE, PACKAGES, file_digest, manifest, sources_digest

    shared = REPO_ROOT.parent / "shared" / "data"
    return {"notebook": file_digest(path), "parameters": json.loads(json.dumps(parameters, sort_keys=True)),
            "studylib": sources_digest(sorted(PACKAGE.rglob("*.py")), PACKAGES)[:16],
            "shared": manifest(str(shared)) if shared.is_dir() else "absent"}


def up_to_date(executed: Path, stamp_file: Path, stamp: dict) -> bool:
    """Whether ``executed`` exists and was made from what ``stamp`` describes (a make-like check)."""
    if not executed.is_file() or not stamp_file.is_file():
        return False
    try:
        return json.loads(stamp_file.read_text()) == stamp
    except (OSError, json.JSONDecodeError):
        return False


def _short(stem: str) -> str:
    return stem.split("_")[0]


def run_lines(stem: str, profile: dict, seen: int) -> list[str]:
    """One line per run that ended since the first ``seen`` entries of ``profile["runs"]``: trained (with its
    evaluation), evaluated only (a probe) or taken from the registry."""
    out, runs = [], profile.get("runs", [])
    for i, r in enumerate(runs[seen:], start=seen):
        if r["phase"] == "cached":
            out.append(f"   {_short(stem)}   {r['run']}: cached")
        elif r["phase"] == "evaluate":
            before = runs[i - 1] if i > 0 else {}
            trained = before.get("run") == r["run"] and before.get("phase") == "train"
            head = f"trained in {before['seconds']:.1f} s, " if trained else ""
            out.append(f"   {_short(stem)}   {r['run']}: {head}evaluated in {r['seconds']:.1f} s")
    return out


def progress_line(stem: str, current: dict, now: float) -> str:
    """The current run of a chapter: what it does, its epoch and step when training, and for how long."""
    verb = {"train": "training", "evaluate": "evaluating"}.get(current["phase"], current["phase"])
    where = ""
    if current["phase"] == "train" and current.get("total"):
        pct = 100 * current["step"] / current["total"]
        where = (f" · epoch {current['epoch'] + 1}/{current['epochs']} · step {current['step']}/{current['total']}"
                 f" ({pct:.0f}%)")
    return f"   {_short(stem)} ▸ {current['run']}: {verb}{where} · {now - current['since']:.0f} s"


class Reporter:
    """The runner's terminal output: lines, and on a terminal one status line kept below them (rewritten in
    place); thread-safe. Every line of ``run_chapters`` goes through :meth:`say`."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stdout
        self.tty = self.stream.isatty()
        self.status = ""
        self.lock = threading.Lock()

    def _clear(self):
        if self.tty and self.status:
            self.stream.write("\r\033[K")

    def say(self, line: str) -> None:
        with self.lock:
            self._clear()
            self.stream.write(line + "\n")
            if self.tty and self.status:
                self.stream.write(self.status)
            self.stream.flush()

    def show(self, status: str) -> None:
        """Replace the status line (terminal only)."""
        if not self.tty:
            return
        with self.lock:
            self._clear()
            self.status = status[: shutil.get_terminal_size().columns - 1]
            self.stream.write(self.status)
            self.stream.flush()


def report_profile(stem: str, profile_file, state: dict, out: Reporter, quiet_for: float = 30.0) -> str | None:
    """Say what chapter ``stem`` did since ``state`` (its runs that ended, a run that started, and off a
    terminal its progress every ``quiet_for`` s); return its current run's progress line, if any."""
    try:
        profile = json.loads(Path(profile_file).read_text())
    except (OSError, ValueError):
        return None
    for line in run_lines(stem, profile, state.get("seen", 0)):
        out.say(line)
    state["seen"] = len(profile.get("runs", []))
    current = profile.get("current")
    if not current:
        return None
    if state.get("started") != (current["run"], current["since"]):
        state["started"] = (current["run"], current["since"])
        state["said"] = time.time()              # its first progress line after quiet_for seconds
        if current["phase"] == "train":
            out.say(f"   {_short(stem)} ▸ {current['run']}: training")
    text = progress_line(stem, current, time.time())
    if not out.tty and current["phase"] == "train" and time.time() - state.get("said", 0.0) >= quiet_for:
        state["said"] = time.time()
        out.say(text)
    return text


def _watch(running: dict, states: dict, lock, stop, out: Reporter, every: float = 1.0) -> None:
    """Report every running chapter's runs from its profile file (:mod:`studylib.profiling`) until ``stop``."""
    while not stop.wait(every):
        with lock:
            live = [report_profile(stem, f, states.setdefault(stem, {}), out) for stem, f in running.items()]
        out.show("  |  ".join(x.strip() for x in live if x))
    out.show("")


def run_chapters(selection=None, preset: str = "quick", overrides: dict | None = None,
                 progress: bool = True, jobs: int = 1, after: dict | None = None,
                 force: bool = False) -> list[tuple[Path, float]]:
    """Execute the selected chapters; return (executed path, seconds) per chapter, in reading order.

    Each chapter runs in its own process and kernel with **one thread** (``OMP_NUM_THREADS=1``), so
    its numbers do not depend on the machine's cores or on ``jobs``: up to ``jobs`` chapters run at
    once (two single-threaded kernels use two cores better than one kernel with two threads uses
    them, for models this small), each only after the chapters named in ``after[stem]``, whose
    runs it reuses. Each chapter's wall time, split by phase (:func:`split_time`), the seconds of
    each run it trained, and the number of runs it trained are recorded in
    ``<results>/executed/timings-<preset>.json`` (without overrides, and only when the registry was
    empty at the start: a cold execution), with the whole execution's wall time under ``"__wall__"``;
    the README's minutes table is generated from it.
    Only the canonical study (preset ``quick``, no overrides) publishes ``figures/`` and
    ``data_cards/``; any other execution writes them under :func:`output_folder`.

    A chapter whose executed notebook was made from the same :func:`chapter_stamp` (source, parameters,
    studylib, packages, shared data) is kept, not executed again, unless ``force``; a whole study in which
    every chapter was kept records its wall time as ``"__warm__"``.
    """
    params = {"preset": preset, **(overrides or {})}
    paths = chapters(selection)
    per_chapter = chapter_parameters(paths, params)      # checked before any kernel starts
    lock = threading.Lock()
    done = {}
    executed = results_dir() / "executed"
    executed.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    # timings describe a cold execution (nothing in the registry yet): a rerun over cached runs would
    # otherwise replace the README's measured minutes with the minutes of reading runs back
    from studylib.registry import Registry

    cold = not any(Registry().root.glob("*/metrics.json"))

    skipped, running, states = set(), {}, {}
    out = Reporter()

    def work(path):
        profile_file = (executed / f".profile-{path.stem}.json").resolve()
        profile_file.unlink(missing_ok=True)
        t0, wall0 = time.perf_counter(), time.time()
        env = _child_env(profile_file, 1, output_folder(preset, overrides or {}))
        out_dir = Path(env.get("STUDYLIB_EXECUTED", executed))
        stamp, stamp_file = chapter_stamp(path, per_chapter[path]), out_dir / f".{path.stem}.stamp.json"
        html = out_dir.parent / "html" / f"{path.stem}.html"
        if not force and up_to_date(out_dir / f"{path.stem}.ipynb", stamp_file, stamp):
            out.say(f"== {path.stem} up to date (its source, parameters, studylib and the shared data are "
                    "unchanged): kept; --force executes it again")
            if not html.is_file():
                _export(out_dir / f"{path.stem}.ipynb", html)
            with lock:
                skipped.add(path)
                done[path] = (out_dir / f"{path.stem}.ipynb", 0.0)
            return
        out.say(f"== {path.stem} (preset {preset}) started")
        with lock:
            running[path.stem] = profile_file
        try:
            executed_nb = _run_one(path, per_chapter[path], env)
        finally:
            with lock:
                running.pop(path.stem, None)
                if progress:                     # the runs that ended since the watcher last looked
                    report_profile(path.stem, profile_file, states.setdefault(path.stem, {}), out)
        _export(executed_nb, html)               # static, self-contained: for reading without a kernel
        atomic_write_json(stamp_file, stamp)
        dt = time.perf_counter() - t0
        profile = json.loads(profile_file.read_text()) if profile_file.is_file() else {}
        profile_file.unlink(missing_ok=True)
        out.say(f"   {path.stem} done in {dt:.1f}s -> {executed_nb} and {html}")
        with lock:
            done[path] = (executed_nb, dt)
            if not overrides and cold:
                timings = read_timings(preset)
                timings[path.stem] = {"seconds": round(dt, 1), "when": datetime.now(timezone.utc).isoformat(
                                      timespec="seconds"), "phases": split_time(dt, wall0, profile),
                                      "runs": profile.get("runs", []),
                                      "trained": sum(1 for r in profile.get("runs", []) if r["phase"] == "train")}
                atomic_write_json(timings_path(preset), timings)

    prepared = _prepare_shared()
    if not overrides and not selection and cold:
        timings = read_timings(preset)
        timings["__prepare__"] = {"seconds": round(prepared or 0.0, 1),
                                  "what": "MiniLM concept embeddings, all threads, before the kernels"}
        atomic_write_json(timings_path(preset), timings)
    stop = threading.Event()
    if progress:                            # run by run, from the kernels' profile files (no per-cell bar)
        watcher = threading.Thread(target=_watch, args=(running, states, lock, stop, out), daemon=True)
        watcher.start()
    try:
        _schedule(paths, after or {}, jobs, work)
    finally:
        stop.set()
        if progress:
            watcher.join()
    if not overrides and not selection and ((cold and not skipped) or len(skipped) == len(paths)):
        timings = read_timings(preset)
        timings["__warm__" if skipped else "__wall__"] = {
            "seconds": round(time.perf_counter() - start, 1), "jobs": jobs,
            "when": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        atomic_write_json(timings_path(preset), timings)
    return [done[p] for p in paths]


if __name__ == "__main__":              # one chapter in this process (run_chapters' child)
    # nbformat's jsonschema imports rfc3987_syntax when it is installed (JupyterLab's dependencies bring it),
    # and that module builds a parser for IRIs at import: 2-3 s of every chapter's start here
    # (bench/imports.py), for a format check nbformat never makes (it validates without a format checker).
    # Marked absent in this child only, which runs nothing but papermill; kernels are not touched.
    sys.modules.setdefault("rfc3987_syntax", None)
    try:
        execute_chapter(Path(sys.argv[1]), json.loads(sys.argv[2]), Path(sys.argv[3]), progress=sys.argv[4] == "1")
    except ChapterFailed as err:
        print(err, file=sys.stderr)
        sys.exit(3)
