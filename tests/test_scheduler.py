"""The dependency-graph scheduler (studylib.scheduler) behind run_chapters."""

import graphlib
import threading
import time

import pytest

from studylib.scheduler import run_graph


def test_results_come_back_and_dependencies_finish_first():
    log, lock = [], threading.Lock()

    def work(job):
        with lock:
            log.append(("start", job))
        time.sleep(0.15 if job == "a" else 0.02)
        with lock:
            log.append(("end", job))
        return job.upper()

    ended = []
    out = run_graph(
        ["a", "b", "c", "d"],
        {"d": ["a"], "c": ["not a job"]},
        2,
        work,
        on_done=lambda job, result: ended.append((job, result)),
    )
    assert out == {"a": "A", "b": "B", "c": "C", "d": "D"} and sorted(ended) == sorted(out.items())
    assert log.index(("start", "d")) > log.index(("end", "a"))
    assert log.index(("start", "b")) < log.index(("end", "a"))  # two at a time
    assert list(run_graph(["x", "y", "z"], {"x": ["z"]}, 1, str.upper)) == [
        "y",
        "z",
        "x",
    ]  # order among ready


def test_the_first_failure_stops_new_starts_and_is_raised():
    started = []

    def work(job):
        started.append(job)
        if job == "a":
            raise RuntimeError("boom")
        return job

    with pytest.raises(RuntimeError, match="boom"):
        run_graph(["a", "b", "c"], {}, 1, work)
    assert started == ["a"]
    with pytest.raises(graphlib.CycleError):
        run_graph(["a", "b"], {"a": ["b"], "b": ["a"]}, 2, work)


def test_chapters_start_longest_chain_first_and_in_reading_order_on_ties():
    """The chapter that others wait on starts first (its minutes plus its dependents'), so the kernels are not
    idle at the end; without recorded minutes every chapter counts one minute."""
    from pathlib import Path

    from studylib.runner import start_order

    a, b, c, d = (Path(f"{n}.py") for n in ("01_a", "02_b", "02c_c", "02d_d"))
    paths, deps = [a, b, c, d], {a: [], b: [], c: [], d: [c]}
    assert start_order(paths, deps, {}) == [c, a, b, d]  # c has a dependent: a chain of two
    timed = {
        "01_a": {"seconds": 300},
        "02_b": {"seconds": 100},
        "02c_c": {"seconds": 50},
        "02d_d": {"seconds": 40},
    }
    assert start_order(paths, deps, timed) == [a, b, c, d]
    assert start_order(paths, deps, {**timed, "02d_d": {"seconds": 400}}) == [c, d, a, b]
