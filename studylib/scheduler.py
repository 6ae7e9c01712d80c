"""Run jobs as a dependency graph: each after the jobs it depends on, a few at a time, in a given order.

:func:`run_graph` orders the jobs with the standard library's :class:`graphlib.TopologicalSorter` and runs
them on a thread pool; among the jobs ready to start it takes them in the order given (for chapters:
reading order). It returns every job's result instead of leaving them in shared state; ``on_done`` sees
each result as its job ends, in the calling thread. The first failure stops new starts, lets the
running jobs end, and is raised.

    results = run_graph(paths, {paths[3]: [paths[0]]}, jobs=2, work=execute_one)
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from graphlib import TopologicalSorter


def run_graph(
    jobs_in_order: list[Hashable],
    after: Mapping[Hashable, Iterable[Hashable]],
    jobs: int,
    work: Callable,
    on_done: Callable | None = None,
    on_interrupt: Callable | None = None,
) -> dict:
    """``{job: work(job)}`` for every job, ``jobs`` at a time, each started only after the jobs ``after[job]``
    names have finished (names that are not jobs are ignored); ``on_done(job, result)`` as each ends.
    ``on_interrupt()`` runs when the waiting thread is interrupted (Ctrl-C), before the pool waits for the
    running jobs: it must make them end (the runner stops its chapter processes)."""
    known = set(jobs_in_order)
    graph = TopologicalSorter({job: [a for a in after.get(job, ()) if a in known] for job in jobs_in_order})
    graph.prepare()  # raises CycleError on a cycle
    rank = {job: i for i, job in enumerate(jobs_in_order)}
    results: dict = {}
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        try:
            failure = _loop(graph, rank, pool, jobs, work, results, on_done)
        except KeyboardInterrupt:
            pool.shutdown(wait=False, cancel_futures=True)
            if on_interrupt is not None:
                on_interrupt()
            raise
    if failure is not None:
        raise failure
    return results


def _loop(graph, rank, pool, jobs, work, results, on_done) -> BaseException | None:
    """Start the ready jobs, ``jobs`` at a time, in ``rank`` order, and collect them as they end; the first
    failure stops new starts and is returned once the running jobs have ended (None: all went well)."""
    ready, running, failure = [], {}, None
    while graph.is_active():
        if failure is None:
            ready = sorted([*ready, *graph.get_ready()], key=rank.__getitem__)
            while ready and len(running) < max(1, jobs):
                job = ready.pop(0)
                running[pool.submit(work, job)] = job
        if not running:
            break
        finished, _ = wait(running, return_when=FIRST_COMPLETED)
        for future in sorted(finished, key=lambda f: rank[running[f]]):
            error = _collect(future, running.pop(future), graph, results, on_done)
            failure = failure or error
    return failure


def _collect(future: Future, job, graph: TopologicalSorter, results: dict, on_done) -> BaseException | None:
    """Record one finished job (its result, or the exception it raised, which is returned)."""
    err = future.exception()
    if err is not None:
        return err
    results[job] = future.result()
    graph.done(job)
    if on_done is not None:
        on_done(job, results[job])
    return None
