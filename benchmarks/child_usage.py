"""Run a command as a child process and measure it: wall time, peak RSS of the child and all
its descendants, and their CPU seconds. Shared by the scaling benchmarks.

The sampler lists the descendants every 0.5 s (a walk of /proc, ~1.7 ms of CPU) and reads the
RSS of the known ones every 20 ms: polling the whole tree at 50 Hz would take ~8% of a core
from the workers, and only in the runs that use every core.
"""

from __future__ import annotations

import resource
import subprocess
import threading
import time
from dataclasses import dataclass

import psutil


@dataclass(frozen=True)
class Usage:
    wall_s: float
    peak_rss: int  # bytes, the child and its descendants together
    cpu_s: float  # user + system of the child and its joined descendants
    stdout: str
    stderr: str


def _tree_rss(procs: list[psutil.Process]) -> int:
    total = 0
    for p in procs:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            pass
    return total


def _child_cpu() -> float:
    use = resource.getrusage(resource.RUSAGE_CHILDREN)
    return use.ru_utime + use.ru_stime


def run_measured(cmd: list[str]) -> Usage:
    """Run ``cmd`` to its end; raise SystemExit with its stderr when it fails."""
    cpu0, t0 = _child_cpu(), time.perf_counter()
    child = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc, peak, done = psutil.Process(child.pid), 0, threading.Event()

    def sample():
        nonlocal peak
        procs, listed = [proc], 0.0
        while not done.is_set():
            if time.monotonic() - listed > 0.5:
                try:
                    procs, listed = [proc, *proc.children(recursive=True)], time.monotonic()
                except psutil.Error:
                    pass
            peak = max(peak, _tree_rss(procs))
            time.sleep(0.02)

    sampler = threading.Thread(target=sample)
    sampler.start()
    out, err = child.communicate()
    done.set()
    sampler.join()
    if child.returncode:
        raise SystemExit(f"{cmd[:4]} failed: {err.decode()[-2000:]}")
    return Usage(time.perf_counter() - t0, peak, _child_cpu() - cpu0, out.decode(), err.decode())
