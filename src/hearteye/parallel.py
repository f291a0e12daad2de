"""Run one function over a stream of tasks: in this process, in local worker processes, or on
a Dask cluster, with the same code path for all three.

Rules, and why:
* **Bounded hand-out.** At most ``in_flight`` tasks per worker are submitted at a time, and the
  next task is taken from the (lazy) task iterator only when one finishes, so the parent never
  builds or queues the whole job list (800,000 records must not sit in memory as tasks).
* **Results as they finish** (`run_tasks`), or **in task order** (`run_ordered`, which holds
  out-of-order results back: at most ``in_flight`` x workers of them).
* **fork** for local workers on POSIX: they start at once with the pipeline (and its models,
  when the parent loaded them) already imported, and the caller's main module is not re-run.
* A task that raises stops the run: the functions run here catch the errors they expect and
  return them as data (a failed record is a row, not an exception).
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from itertools import islice

DEFAULT_IN_FLIGHT = 2  # tasks per worker at a time: one running, one waiting


def default_workers() -> int:
    """The cores this process may use (cgroup/affinity aware where the OS says)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def run_tasks(
    fn: Callable,
    tasks: Iterable[tuple],
    *,
    workers: int = 1,
    scheduler: str | None = None,
    in_flight: int = DEFAULT_IN_FLIGHT,
) -> Iterator[tuple[tuple, object]]:
    """Yield ``(task, fn(*task))`` as each finishes. ``scheduler``: a Dask scheduler address
    (``tcp://host:port``); else ``workers`` local processes (1: in this process)."""
    tasks = iter(tasks)
    if scheduler:
        yield from _run_dask(fn, tasks, scheduler, in_flight)
    elif workers <= 1:
        for task in tasks:
            yield task, fn(*task)
    else:
        yield from _run_local(fn, tasks, workers, in_flight)


def _run_local(fn, tasks: Iterator[tuple], workers: int, in_flight: int):
    ctx = multiprocessing.get_context("fork" if os.name == "posix" else "spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        running = {pool.submit(fn, *t): t for t in islice(tasks, in_flight * workers)}
        while running:
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for fut in done:
                task = running.pop(fut)
                yield task, fut.result()
                for t in islice(tasks, 1):
                    running[pool.submit(fn, *t)] = t


def _run_dask(fn, tasks: Iterator[tuple], scheduler: str, in_flight: int):
    from distributed import Client, as_completed

    with Client(scheduler) as client:
        slots = in_flight * max(1, sum(client.nthreads().values()))
        running = {client.submit(fn, *t, pure=False): t for t in islice(tasks, slots)}
        futures = as_completed(list(running))
        for fut in futures:
            task = running.pop(fut)
            yield task, fut.result()
            fut.release()
            for t in islice(tasks, 1):
                nxt = client.submit(fn, *t, pure=False)
                running[nxt] = t
                futures.add(nxt)


def run_ordered(
    fn: Callable,
    tasks: Iterable[tuple],
    *,
    workers: int = 1,
    scheduler: str | None = None,
    in_flight: int = DEFAULT_IN_FLIGHT,
) -> Iterator[object]:
    """`run_tasks`, but yield the results in task order. Each task's first element must be
    its position (0, 1, 2, ...)."""
    waiting: dict[int, object] = {}
    following = 0
    for task, result in run_tasks(
        fn, tasks, workers=workers, scheduler=scheduler, in_flight=in_flight
    ):
        waiting[task[0]] = result
        while following in waiting:
            yield waiting.pop(following)
            following += 1
