"""Thread counts from the cores this process may use, shared among the generations running at once."""
import threading

import pytest

from models import SettingsError
from models.threads import cgroup_cpu_limit, fair_threads, generation_running, running_generations, usable_cores


@pytest.mark.parametrize("text, expected", [("max 100000", None), ("150000 100000", 2), ("50000 100000", 1),
                                            ("200000 100000", 2), ("garbage", None)])
def test_a_cgroup_quota_is_read_as_whole_cores(tmp_path, text, expected):
    limit = tmp_path / "cpu.max"
    limit.write_text(text + "\n", encoding="ascii")
    assert cgroup_cpu_limit(limit) == expected
    assert cgroup_cpu_limit(tmp_path / "missing") is None


def test_generations_running_at_once_share_the_usable_cores(monkeypatch):
    monkeypatch.delenv("LLM_JUDGE_THREADS", raising=False)
    monkeypatch.setattr("models.threads.usable_cores", lambda: 4)
    monkeypatch.setattr("models.threads.others_busy_cores", lambda cores, quota=False: 0.0)  # a quiet machine
    started, counted, seen = threading.Barrier(2), threading.Barrier(2), []

    def generate():
        with generation_running():
            started.wait()  # both are running
            seen.append(fair_threads())
            counted.wait()  # neither leaves before both have counted

    workers = [threading.Thread(target=generate) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert seen == [2, 2] and running_generations() == 0
    with generation_running() as alone:
        assert alone == 4


def test_the_environment_fixes_the_count_and_a_bad_value_is_named(monkeypatch):
    monkeypatch.setenv("LLM_JUDGE_THREADS", "3")
    with generation_running() as threads:
        assert threads == 3
    monkeypatch.setenv("LLM_JUDGE_THREADS", "many")
    with pytest.raises(SettingsError, match="LLM_JUDGE_THREADS must be a whole number"):
        fair_threads()


def test_usable_cores_are_at_most_the_machine_s():
    import os

    assert 1 <= usable_cores() <= (os.cpu_count() or 1)
