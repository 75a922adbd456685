"""Cores other processes are using, measured (models/cpu_load.py), and the thread count that leaves them out: with a
real CPU-bound neighbour process, this process's generations take fewer threads and the records say why."""
import subprocess
import sys
import time

import pytest

from models import cpu_load, threads

STAT = """cpu  300 0 100 500 0 0 0 0 0 0
cpu0 100 0 50 300 10 0 0 0 0 0
cpu1 200 0 50 200 0 0 5 0 0 0
intr 1 2 3
"""


@pytest.mark.parametrize("cores, busy", [({0}, 150), ({1}, 255), ({0, 1}, 405), ({7}, None)])
def test_busy_time_is_read_for_the_cores_this_process_may_use(cores, busy):
    seconds = cpu_load.cores_busy_seconds(cores, STAT)
    assert seconds == (None if busy is None else pytest.approx(busy / cpu_load._TICK))


def test_a_cgroup_s_usage_is_read_in_seconds(tmp_path):
    stat = tmp_path / "cpu.stat"
    stat.write_text("usage_usec 2500000\nuser_usec 2000000\n")
    assert cpu_load.cgroup_usage_seconds(stat) == 2.5
    assert cpu_load.cgroup_usage_seconds(tmp_path / "missing") is None


def test_what_others_used_is_the_cores_use_less_this_process_s_own(monkeypatch):
    clock, used, own = [100.0], [10.0], [1.0]
    monkeypatch.setattr(cpu_load.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(cpu_load.time, "sleep", lambda s: clock.__setitem__(0, clock[0] + s))
    monkeypatch.setattr(cpu_load, "_used_seconds", lambda cores, quota: used[0])
    monkeypatch.setattr(cpu_load, "own_cpu_seconds", lambda: own[0])
    cpu_load.forget_samples()
    try:
        assert cpu_load.others_busy_cores({0, 1}) == 0.0  # nothing moved in the first span
        clock[0] += 1.0
        used[0] += 1.8  # the cores worked 1.8 s in 1 s: 0.6 s of it this process's own
        own[0] += 0.6
        assert cpu_load.others_busy_cores({0, 1}) == pytest.approx(1.2)
        used[0] += 5.0
        assert cpu_load.others_busy_cores({0, 1}) == pytest.approx(1.2)  # asked again at once: the last sample
    finally:
        cpu_load.forget_samples()


@pytest.mark.parametrize("others, free, said", [(0.0, 2, False), (0.3, 2, False), (0.7, 1, True), (1.0, 1, True),
                                                (2.0, 1, True)])
def test_free_cores_leave_out_what_others_use_and_the_record_says_so(monkeypatch, others, free, said):
    monkeypatch.delenv("LLM_JUDGE_THREADS", raising=False)
    monkeypatch.setattr(threads, "usable_cores", lambda: 2)
    monkeypatch.setattr(threads, "others_busy_cores", lambda cores, quota=False: others)
    threads.busy_notice()  # nothing left from before
    assert threads.free_cores() == free
    assert threads.fair_threads() == free
    notice = threads.busy_notice()
    assert bool(notice) == said
    if said:
        assert f"other processes used {others:.1f} of its 2 cores" in notice
        assert threads.busy_notice() is None  # said once


def test_a_real_cpu_bound_neighbour_takes_a_thread_away():
    """A neighbour process spinning on one core: measured from /proc, this process then counts a core fewer."""
    neighbour = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(1.0)
        cpu_load.forget_samples()
        cores = threads.affinity()
        others = cpu_load.others_busy_cores(cores)
        assert others >= 0.6, others
        cpu_load.forget_samples()
        assert threads.free_cores() <= max(1, threads.usable_cores() - 1)
    finally:
        neighbour.kill()
        neighbour.wait()
        cpu_load.forget_samples()
        threads.busy_notice()
