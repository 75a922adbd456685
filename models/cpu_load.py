"""How busy the cores this process may use are with other work: measured, not assumed.

Affinity and a cgroup quota say which cores a process may use, not whether something else is using them. On a laptop
or a shared machine a neighbour often is, and then every thread past the free cores waits for one, and llama.cpp's
threads spin while they wait: with one CPU-bound neighbour on 2 cores, a compare took 22.3 s on 2 threads and 11.7 s
on one (issue 20). So the cores' real use is sampled: the CPU time spent on them (the cgroup's own usage where a quota
applies, else /proc/stat for the cores in the affinity mask) minus this process's own CPU time over the same span,
which leaves what the others took.
"""
from __future__ import annotations

import os
import threading
import time
from pathlib import Path

CGROUP_STAT = Path("/sys/fs/cgroup/cpu.stat")
PROC_STAT = Path("/proc/stat")
RESAMPLE_SECONDS = 0.5  # a neighbour comes and goes in seconds: reading /proc more often costs, tells no more
FIRST_SPAN_SECONDS = 0.05  # the first sample has no earlier one to compare with: wait this long for one
_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_state: dict = {}
_lock = threading.Lock()


def cgroup_usage_seconds(path: Path = CGROUP_STAT) -> float | None:
    """CPU seconds used by every process of this cgroup (its `usage_usec`), or None without cgroup v2 accounting."""
    try:
        for line in path.read_text(encoding="ascii").splitlines():
            key, _, value = line.partition(" ")
            if key == "usage_usec":
                return int(value) / 1e6
    except (OSError, ValueError):
        return None
    return None


def cores_busy_seconds(cores: set[int], text: str | None = None) -> float | None:
    """CPU seconds the given cores spent on anything but idling and waiting for I/O, from /proc/stat's cpuN lines."""
    if text is None:
        try:
            text = PROC_STAT.read_text(encoding="ascii")
        except OSError:
            return None
    busy = 0
    found = False
    for line in text.splitlines():
        name, *fields = line.split()
        if not name.startswith("cpu") or name == "cpu" or int(name[3:]) not in cores:
            continue
        values = [int(v) for v in fields[:8]]  # user nice system idle iowait irq softirq steal
        busy += sum(values) - values[3] - values[4]
        found = True
    return busy / _TICK if found else None


def own_cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


def _used_seconds(cores: set[int], quota: bool) -> float | None:
    """CPU seconds used so far on what this process competes for: its cgroup under a quota, else its cores."""
    return (cgroup_usage_seconds() if quota else None) or cores_busy_seconds(cores)


def others_busy_cores(cores: set[int], quota: bool = False) -> float:
    """Cores' worth of CPU that other processes used lately (0 where it cannot be read): resampled at most every
    RESAMPLE_SECONDS, so asking before every generation costs nothing."""
    now = time.monotonic()
    with _lock:
        last = _state.get("sample")
        if last and now - last[0] < RESAMPLE_SECONDS:
            return _state.get("others", 0.0)
    if not last:
        first = (now, _used_seconds(cores, quota), own_cpu_seconds())
        time.sleep(FIRST_SPAN_SECONDS)
        last, now = first, time.monotonic()
    used, own = _used_seconds(cores, quota), own_cpu_seconds()
    span = now - last[0]
    others = 0.0
    if used is not None and last[1] is not None and span > 0:
        others = min(len(cores), max(0.0, ((used - last[1]) - (own - last[2])) / span))
    with _lock:
        _state.update(sample=(now, used, own), others=others)
    return others


def forget_samples() -> None:
    with _lock:
        _state.clear()
