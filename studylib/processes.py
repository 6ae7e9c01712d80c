"""The chapter processes of ``studylib run`` and their kernels: started in sessions of their own, found, stopped.

Each chapter runs in a child process (``studylib.execute.run_in_child``) whose papermill client starts a kernel;
jupyter_client starts every kernel in a session of its own with ``JPY_PARENT_PID`` set to the process that
launched it. A child started here has its own session too, so the terminal's Ctrl-C reaches the runner alone;
the runner then calls :func:`stop_children`, which interrupts each child (papermill shuts its kernel down),
kills what is left after a grace period, and waits, so nothing outlives the runner. SIGTERM (``kill``,
``timeout``, a batch scheduler cancelling the job) takes the same path while chapters run
(:func:`terminate_as_interrupt`); without it the runner died at once and its children, in sessions of their
own, went on training.

    child = start(cmd, env)
    _, stderr = communicate(child)      # raises KeyboardInterrupt once stop_children has run
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time

_CHILDREN: set = set()  # the chapter processes now running
_LOCK = threading.Lock()
_STOPPING = threading.Event()


class Terminated(KeyboardInterrupt):
    """SIGTERM while chapters run: handled as Ctrl-C is (the command line exits 143, not 130)."""


def _terminated(signum, frame):
    raise Terminated()


@contextlib.contextmanager
def terminate_as_interrupt():
    """While the block runs, SIGTERM raises :class:`Terminated` in the main thread (where Ctrl-C raises
    KeyboardInterrupt), so the runner stops its children as for Ctrl-C. Only around the runner's wait: a
    process forked inside (a multiprocessing pool) would inherit the handler, and a pool stops its workers
    with SIGTERM. Nothing changes outside the main thread, where Python cannot set signal handlers."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _terminated)
    try:
        yield
    finally:  # None: the previous handler was not set from Python (then the default is the best guess)
        signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)


def start(cmd: list, env: dict) -> subprocess.Popen:
    """Start ``cmd`` in a session of its own (stderr kept), unless :func:`stop_children` has run."""
    with _LOCK:
        if _STOPPING.is_set():
            raise KeyboardInterrupt
        child = subprocess.Popen(
            cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True
        )
        _CHILDREN.add(child)
    return child


def communicate(child: subprocess.Popen) -> tuple:
    """Wait for ``child``; KeyboardInterrupt when it was stopped by :func:`stop_children`."""
    try:
        out = child.communicate()
    finally:
        with _LOCK:
            _CHILDREN.discard(child)
    if _STOPPING.is_set():
        raise KeyboardInterrupt
    return out


def kernels_of(parents: set) -> list[int]:
    """Pids of the kernels the processes ``parents`` started (their ``JPY_PARENT_PID``)."""
    wanted = {f"JPY_PARENT_PID={p}".encode() for p in parents}
    found = []
    for d in os.listdir("/proc") if os.path.isdir("/proc") else ():
        if d.isdigit():
            try:
                with open(f"/proc/{d}/environ", "rb") as f:
                    if wanted & set(f.read().split(b"\0")):
                        found.append(int(d))
            except OSError:
                continue
    return found


def signal_group(pid: int, sig) -> None:
    """Send ``sig`` to the process group ``pid`` leads (nothing if it has ended)."""
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie has ended)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def allow_children() -> None:
    """Let chapter processes start again (a new ``studylib run`` in the same process after a Ctrl-C)."""
    _STOPPING.clear()


def stop_children(grace: float = 10.0) -> int:
    """Stop every running chapter process and its kernel, and wait for them: SIGINT to each child (papermill
    then shuts its kernel down), SIGKILL after ``grace`` seconds, then any kernel still alive. No new child
    starts afterwards. Returns the number of chapter processes stopped."""
    _STOPPING.set()
    with _LOCK:
        children = list(_CHILDREN)
    kernels = set(kernels_of({c.pid for c in children}))
    for c in children:
        signal_group(c.pid, signal.SIGINT)
    deadline = time.monotonic() + grace
    for c in children:
        try:
            c.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            signal_group(c.pid, signal.SIGKILL)
            c.wait()
    for pid in kernels:  # a kernel its child could not shut down (killed, or stuck in a cell)
        signal_group(pid, signal.SIGKILL)
    for pid in kernels:
        while alive(pid):
            time.sleep(0.05)
    return len(children)
