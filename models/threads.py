"""How many compute threads a generation gets: the cores this process may really use, shared among the
generations running in it at the same moment.

os.cpu_count() counts the machine's cores, not the ones this process may use: a container's CPU quota (cgroup
cpu.max) or a CPU affinity mask can leave fewer. Oversubscribing them is not a mild slowdown for llama.cpp: its
worker threads spin while they wait, so two generations with every core each (a transformers answer and a
llama.cpp answer at once, or two visitors of the app) took one compare from 27 s to 187 s on a 2-core machine.
So each generation counts itself in while it runs and takes the free cores (the usable ones less what other
processes are measured to be using: models/cpu_load.py) divided by the generations running, at least one.
`$LLM_JUDGE_THREADS` fixes the count instead (benchmarks).
"""
from __future__ import annotations

import math
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from models.cpu_load import others_busy_cores
from models.errors import SettingsError

_running = [0]
_lock = threading.Lock()


def cgroup_cpu_limit(path: str | Path = "/sys/fs/cgroup/cpu.max") -> int | None:
    """Whole cores allowed by a cgroup v2 CPU quota ("max 100000" means none), rounded up; None without one."""
    try:
        quota, period = Path(path).read_text(encoding="ascii").split()[:2]
    except (OSError, ValueError):
        return None
    if quota == "max":
        return None
    try:
        return max(1, math.ceil(int(quota) / int(period)))
    except (ValueError, ZeroDivisionError):
        return None


def affinity() -> set[int]:
    try:
        return set(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return set(range(os.cpu_count() or 1))


def usable_cores() -> int:
    """The cores this process may run on: its affinity mask, capped by a cgroup quota."""
    cores = len(affinity())
    limit = cgroup_cpu_limit()
    return max(1, min(cores, limit) if limit else cores)


# Other processes using at least this many cores' worth of CPU take a thread away (and are said in the records).
BUSY_CORES = 0.5
MAX_THREADS = 1024  # $LLM_JUDGE_THREADS at most: more than any machine here has, and within a 32-bit count
_busy: list = [0.0]  # the most cores' worth other processes used since busy_notice() last said so


def free_cores() -> int:
    """The usable cores less those other processes are using (measured over the last half second), at least one."""
    usable = usable_cores()
    others = others_busy_cores(affinity(), quota=cgroup_cpu_limit() is not None)
    if others >= BUSY_CORES:
        with _lock:
            _busy[0] = max(_busy[0], others)
    return max(1, min(usable, math.floor(usable - others + BUSY_CORES)))


def busy_notice() -> str | None:
    """A sentence for the record when other processes took cores from this one's generations since the last call
    (then answers take longer than this machine's figures say, and the reason is not this product); else None."""
    with _lock:
        others, _busy[0] = _busy[0], 0.0
    if others < BUSY_CORES:
        return None
    return (f"this machine was busy with other work (other processes used {others:.1f} of its {usable_cores()} "
            "cores): generations ran on fewer threads and took longer than usual")


def configured_threads() -> int | None:
    """$LLM_JUDGE_THREADS as a number of threads, or None when it is not set."""
    text = os.environ.get("LLM_JUDGE_THREADS", "").strip()
    if not text:
        return None
    # ASCII digits only ('²' is a digit to str.isdigit, not to int), and a bound llama.cpp's 32-bit count can hold
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= MAX_THREADS:
        raise SettingsError(f"$LLM_JUDGE_THREADS must be a whole number of threads from 1 to {MAX_THREADS}, got "
                            f"{text[:40]!r}")
    return int(text)


def fair_threads() -> int:
    """Threads for a generation starting now: $LLM_JUDGE_THREADS, else the usable cores over the generations
    running (this one included)."""
    fixed = configured_threads()
    free = free_cores()  # measured even when the count is fixed: a busy machine is said in the records either way
    if fixed:
        return fixed
    with _lock:
        running = max(1, _running[0])
    return max(1, free // running)


@contextmanager
def generation_running() -> Iterator[int]:
    """Count a generation in while it runs; yields the threads it should use."""
    with _lock:
        _running[0] += 1
    try:
        yield fair_threads()
    finally:
        with _lock:
            _running[0] -= 1


def running_generations() -> int:
    with _lock:
        return _running[0]
