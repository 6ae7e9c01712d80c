"""Hang detection: a chapter kernel's cell log (an IPython extension) and the watcher that reads it.

``studylib.execute`` starts every chapter kernel with ``--ext=studylib.cellwatch`` and ``STUDYLIB_CELLS`` naming
a file; before and after each cell the kernel writes there ``{"count", "state": "running" | "done", "at"}``.
The executing process compares it with the replies it has received: a kernel that says a cell is done while no
reply has come for :data:`HANG_GRACE` seconds is the known hang (a reply lost between papermill's
client and an idle kernel), and the chapter is executed again in a fresh kernel. A cell that works, however
slowly, is still "running" and is never stopped. Without ``STUDYLIB_CELLS`` the extension does nothing.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

from studylib.fileio import atomic_write_json
from studylib.processes import kernels_of, signal_group

_count = [0]


def _write(state: str) -> None:
    path = os.environ.get("STUDYLIB_CELLS")
    if not path:
        return
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump({"count": _count[0], "state": state, "at": time.time()}, f)
        os.replace(tmp, path)
    except OSError:  # a log that cannot be written must not fail the chapter: hangs go undetected, no more
        pass


def _started(*_args) -> None:
    _count[0] += 1
    _write("running")


def _done(*_args) -> None:
    _write("done")


def load_ipython_extension(ip) -> None:
    ip.events.register("pre_run_cell", _started)
    ip.events.register("post_run_cell", _done)


def read(path) -> dict | None:
    """The kernel's last record, or None (no file yet, or caught mid-write)."""
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


# Hang detection, not a wall-clock limit: no cell is ever stopped for being slow. The known hang is a reply lost
# between papermill's client and an idle kernel (seen once on this machine): the kernel's cell log
# (studylib.cellwatch) says the cell is done, yet no reply has come. After HANG_GRACE seconds of that, the
# kernel is stopped and the chapter executed again in a fresh kernel (its finished runs are in the registry, so
# the retry is short); the retry is printed by the runner and its time booked as "retry".
HANG_GRACE = 60.0


class HangDetected(RuntimeError):
    """The kernel finished cell ``cell`` whose reply never reached the client (see :data:`HANG_GRACE`)."""

    def __init__(self, message: str, cell: int | None):
        super().__init__(message)
        self.cell = cell


class HangWatch:
    """Watches a kernel's cell log (``cells``) against the replies the client received (:meth:`on_cell_executed`,
    nbclient's hook); on the known hang it records when and stops the kernels this process started."""

    def __init__(self, cells: Path, grace: float = HANG_GRACE, every: float = 0.5):
        self.cells, self.grace, self.every = cells, grace, every
        self.replied_at = time.time()
        self.hung: dict | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def on_cell_executed(self, **_kw) -> None:
        self.replied_at = time.time()

    def __enter__(self) -> HangWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _loop(self) -> None:
        while not self._stop.wait(self.every):
            log = read(self.cells)
            if not log or log.get("state") != "done" or log["at"] <= self.replied_at:
                continue  # running, or its reply came
            if time.time() - log["at"] >= self.grace:
                self.hung = {"cell": log.get("count"), "done_at": log["at"], "detected_at": time.time()}
                for pid in kernels_of({os.getpid()}):
                    signal_group(pid, 9)  # SIGKILL: nbclient sees the kernel die within a second
                return


def book_retry(entry: dict) -> None:
    """Append a retry to ``<STUDYLIB_PROFILE>.retries.json``, which the runner prints and books."""
    profile = os.environ.get("STUDYLIB_PROFILE")
    if not profile:
        return
    path = Path(f"{profile}.retries.json")
    try:
        done = json.loads(path.read_text()) if path.is_file() else []
    except (OSError, ValueError):
        done = []
    atomic_write_json(path, [*done, entry])
