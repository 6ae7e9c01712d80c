"""What the chapter runner says while it works: lines, a status line, and each chapter's runs as they go.

The runner's kernels write their phases and current run to profile files (:mod:`studylib.profiling`);
a :class:`Watcher` reads them every second and says, through one :class:`Reporter`, each run that
ended (trained and evaluated, or cached, with seconds), each run that started, and on a terminal the
running chapters' progress (epoch, step, seconds) in a status line kept below the other lines.

    out = Reporter()
    with Watcher(out) as watcher:
        watcher.add("02_imbalance", profile_file)
        ...                                     # the chapter runs
        watcher.finish("02_imbalance")
"""

from __future__ import annotations

import json
import shutil
import sys
import threading
import time
from pathlib import Path


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


VERBS = {"train": "training", "evaluate": "evaluating", "world": "building", "embeddings": "computing"}
SAY_AFTER = 5.0  # a phase outside any run (a world, MiniLM) is named once it has lasted this long


def count_note(done: int, expected: int | None, all_done: int, all_expected: int | None) -> str:
    """`` [run 12 of ~69 · 140 of ~346 in all]``: runs ended so far against the counts of the last execution
    (``~``: a rerun may train a few more or fewer); empty without them."""
    if not expected:
        return ""
    note = f" [run {done} of ~{expected}"
    return note + (f" · {all_done} of ~{all_expected} in all]" if all_expected else "]")


def progress_line(stem: str, current: dict, now: float) -> str:
    """The current run of a chapter: what it does, its epoch and step when training, and for how long."""
    verb = VERBS.get(current["phase"], current["phase"])
    where = ""
    if current["phase"] == "train" and current.get("total"):
        pct = 100 * current["step"] / current["total"]
        where = (
            f" · epoch {current['epoch'] + 1}/{current['epochs']} · step {current['step']}/{current['total']}"
            f" ({pct:.0f}%)"
        )
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


def report_profile(
    stem: str, profile_file, state: dict, out: Reporter, quiet_for: float = 30.0
) -> str | None:
    """Say what chapter ``stem`` did since ``state`` (its runs that ended, a run that started, and off a
    terminal its progress every ``quiet_for`` s); return its current run's progress line, if any."""
    try:
        profile = json.loads(Path(profile_file).read_text())
    except (OSError, ValueError):
        return None
    counter = state.setdefault("counter", {"done": 0})  # shared by every chapter of one study (Watcher)
    for line in run_lines(stem, profile, state.get("seen", 0)):
        state["done"] = state.get("done", 0) + 1
        counter["done"] += 1
        out.say(
            line + count_note(state["done"], state.get("expected"), counter["done"], counter.get("expected"))
        )
    state["seen"] = len(profile.get("runs", []))
    current = profile.get("current")
    if not current:
        return None
    if state.get("started") != (current["run"], current["since"]):
        state["started"] = (current["run"], current["since"])
        state["said"] = time.time()  # its first progress line after quiet_for seconds
        state["named"] = False
        if current["phase"] == "train":
            out.say(f"   {_short(stem)} ▸ {current['run']}: training")
    if current["phase"] in VERBS and current["phase"] not in ("train", "evaluate") and not state.get("named"):
        if time.time() - current["since"] >= SAY_AFTER:  # a long phase outside the runs says what it does
            state["named"] = True
            out.say(
                f"   {_short(stem)} ▸ {current['run']}: {VERBS[current['phase']]} (for {SAY_AFTER:.0f} s so far)"
            )
    text = progress_line(stem, current, time.time())
    if not out.tty and current["phase"] == "train" and time.time() - state.get("said", 0.0) >= quiet_for:
        state["said"] = time.time()
        out.say(text)
    return text


class Watcher:
    """Reports the runs of every running chapter from its profile file, every ``every`` seconds, on a thread of
    its own while it is entered (``with``); disabled, it says nothing."""

    def __init__(self, out: Reporter, every: float = 1.0, enabled: bool = True, expected: int | None = None):
        self.out, self.every, self.enabled = out, every, enabled
        self.counter = {"done": 0, "expected": expected}  # runs ended in the whole study, and ~how many
        self._running: dict[str, Path] = {}  # chapter -> its profile file
        self._states: dict[str, dict] = {}  # chapter -> what has been said of it
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def __enter__(self) -> Watcher:
        if self.enabled:
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self.enabled:
            self._thread.join()

    def add(self, stem: str, profile_file: Path, expected: int | None = None) -> None:
        """Chapter ``stem`` started; its kernel writes ``profile_file``; ``expected``: its number of runs in the
        last execution (for "run n of ~N")."""
        with self._lock:
            self._running[stem] = profile_file
            self._states.setdefault(stem, {"counter": self.counter})["expected"] = expected

    def finish(self, stem: str) -> None:
        """Chapter ``stem`` ended: say the runs that ended since the last look, and stop watching it."""
        with self._lock:
            profile_file = self._running.pop(stem, None)
            if self.enabled and profile_file is not None:
                report_profile(
                    stem, profile_file, self._states.setdefault(stem, {"counter": self.counter}), self.out
                )

    def _poll(self) -> None:
        while not self._stop.wait(self.every):
            with self._lock:
                live = [
                    report_profile(
                        stem, f, self._states.setdefault(stem, {"counter": self.counter}), self.out
                    )
                    for stem, f in self._running.items()
                ]
            self.out.show(fit_status([x.strip() for x in live if x], shutil.get_terminal_size().columns - 1))
        self.out.show("")


def fit_status(parts: list, width: int, sep: str = "  |  ") -> str:
    """The chapters' status parts on one line of at most ``width`` characters: each part gets an equal share,
    and a part too long for it loses its middle, so every chapter keeps its name and its step count."""
    line = sep.join(parts)
    if len(line) <= width or not parts:
        return line
    share = max(8, (width - len(sep) * (len(parts) - 1)) // len(parts))
    out = []
    for part in parts:
        if len(part) > share:
            head = (share - 1) // 2
            part = part[:head] + "…" + part[len(part) - (share - 1 - head) :]
        out.append(part)
    return sep.join(out)[:width]
