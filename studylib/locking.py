"""Inter-process locks on files (the ``filelock`` package): one trainer per run, one writer per index.

:func:`file_lock` holds a :class:`filelock.FileLock` on a lock file; the operating system releases
it when the holder exits, however it exits (``flock`` on Unix, ``msvcrt`` locking on Windows), so a
killed kernel never leaves a stale lock. While another process holds it, the caller waits (saying
so once, naming what it waits for) and then goes on: for a run, the waiter finds the finished run
in the registry and loads it instead of training it again.
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

from filelock import FileLock, Timeout


@contextlib.contextmanager
def file_lock(path: str | Path, what: str = ""):
    """Hold an exclusive lock on ``path`` (created if absent) for the ``with`` block."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(path)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        print(f"waiting for another process to finish {what or path.name} ...", file=sys.stderr, flush=True)
        from studylib.profiling import phase

        with phase("waiting"):  # a chapter waiting for a run another chapter trains is not analysing
            lock.acquire()
    try:
        yield
    finally:
        lock.release()


def is_locked(path: str | Path) -> bool:
    """Whether another process holds the lock on ``path`` now (False where there is no such file)."""
    if not Path(path).is_file():
        return False
    lock = FileLock(path)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        return True
    lock.release()
    return False
