"""runs/one_thread.py: a run's steps in one thread whichever threads ask, in lock step, closed and failing as the
generator itself would."""
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from runs.one_thread import stepped_in_one_thread


def counting(log: list, n: int = 4):
    try:
        for i in range(n):
            log.append(("step", i, threading.get_ident()))
            yield i
    finally:
        log.append(("closed",))


def test_steps_asked_from_many_threads_run_in_one_thread_that_is_not_the_asker():
    log = []
    stepped = stepped_in_one_thread(counting(log))
    # As the app's server does: each step asked for from whichever worker thread is free (here a new one each time).
    got = []
    for _ in range(5):
        with ThreadPoolExecutor(max_workers=1) as pool:
            got.append(pool.submit(next, stepped, None).result())
    assert got == [0, 1, 2, 3, None]
    threads = {entry[2] for entry in log if entry[0] == "step"}
    assert len(threads) == 1 and threading.get_ident() not in threads
    assert log[-1] == ("closed",)


def test_nothing_is_computed_ahead_of_what_was_asked():
    log = []
    stepped = stepped_in_one_thread(counting(log))
    assert next(stepped) == 0 and next(stepped) == 1
    assert [entry[1] for entry in log if entry[0] == "step"] == [0, 1]


def test_closing_it_closes_the_run_before_returning():
    log = []
    stepped = stepped_in_one_thread(counting(log, n=100))
    next(stepped)
    stepped.close()
    assert log[-1] == ("closed",) and len(log) == 2  # one step made, then the run's finally


def test_an_error_in_the_run_is_raised_to_the_asker():
    def failing():
        yield "first"
        raise ValueError("the judge failed")

    stepped = stepped_in_one_thread(failing())
    assert next(stepped) == "first"
    with pytest.raises(ValueError, match="the judge failed"):
        next(stepped)
