"""Inter-process locks on files: one trainer per run, one writer per index.

:func:`file_lock` takes an exclusive ``fcntl.flock`` on a lock file; the operating system
releases it when the holder exits, however it exits, so a killed kernel never leaves a stale
lock. While another process holds it, the caller waits (saying so once, naming what it waits
for) and then goes on: for a run, the waiter finds the finished run in the registry and loads it
instead of training it again.

On platforms without ``fcntl`` (Windows) the lock is a no-op and says so once.
"""
from __future__ import annotations

import contextlib
import os
import sys
import warnings
from pathlib import Path

try:
    import fcntl
except ImportError:                                   # pragma: no cover - Windows
    fcntl = None


@contextlib.contextmanager
def file_lock(path: str | Path, what: str = ""):
    """Hold an exclusive lock on ``path`` (created if absent) for the ``with`` block."""
    path = Path(path)
    if fcntl is None:                                 # pragma: no cover
        warnings.warn("no fcntl on this platform: concurrent studylib processes are not locked", stacklevel=2)
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"waiting for another process to finish {what or path.name} ...", file=sys.stderr, flush=True)
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)                                  # closing releases the lock


def is_locked(path: str | Path) -> bool:
    """Whether another process holds the lock on ``path`` now (False where there is no such file)."""
    if fcntl is None or not Path(path).is_file():     # pragma: no cover - Windows
        return False
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False
