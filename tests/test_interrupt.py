"""Ctrl-C (or SIGTERM: `kill`, a scheduler cancelling the job) during `studylib run`: the runner stops every
chapter process and its kernel first, then exits 130 (143) with one line (issue 28). Chapter processes run in sessions of their own, so the terminal's SIGINT reaches
the runner alone, which then stops them; kernels are found by the JPY_PARENT_PID jupyter_client gives them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from studylib.processes import alive as _alive
from studylib.processes import kernels_of as _kernels_of


def _children(pid: int) -> set[int]:
    out = set()
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        out.add(int(d))
            except OSError:
                continue
    return out


def _interruptible():
    """In the runner's process before it starts Python: SIGINT's default action. A shell without job control
    (a script's ``make test &``) starts background commands with SIGINT ignored; the runner would inherit
    that, Python then leaves SIGINT ignored, and the runner would finish its chapter as if never signalled
    (seen: exit 0, 16 s after the signal)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.parametrize(
    "sig, code, line", [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated")]
)
def test_ctrl_c_or_sigterm_stops_the_chapter_and_its_kernel_then_exits(sig, code, line):
    cmd = [sys.executable, "-m", "studylib", "run", "02", "--preset", "smoke", "--quiet"]
    runner = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=_interruptible,
    )
    try:
        deadline, kernels, children = time.monotonic() + 120, [], set()
        while time.monotonic() < deadline and not kernels and runner.poll() is None:
            time.sleep(0.2)
            children = _children(runner.pid)
            kernels = _kernels_of(children)
        assert kernels, "no chapter kernel started within 120 s"
        time.sleep(1.0)  # the kernel is now executing the chapter's cells
        sent = time.monotonic()
        # to the runner alone: Ctrl-C reaches its process group, `kill -INT` (or `kill`) only the runner
        os.kill(runner.pid, sig)
        out, err = runner.communicate(timeout=60)
        took = time.monotonic() - sent
    finally:
        if runner.poll() is None:
            os.killpg(runner.pid, signal.SIGKILL)
    assert runner.returncode == code, (
        f"exit {runner.returncode} {took:.1f} s after the signal, kernels {kernels}\n{out[-2000:]}\n{err[-2000:]}"
    )
    assert took < 20, f"the runner waited {took:.0f} s for its chapter instead of stopping it"
    assert err.strip().splitlines()[-1] == line and "Traceback" not in err
    assert not [p for p in children | set(kernels) if _alive(p)]  # none outlives the runner


def test_sigterm_raises_only_inside_the_runners_wait():
    from studylib.processes import Terminated, terminate_as_interrupt

    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(Terminated):
        with terminate_as_interrupt():
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)  # the handler raises as soon as the signal arrives
    assert signal.getsignal(signal.SIGTERM) == before  # restored: forked pool workers keep the default
