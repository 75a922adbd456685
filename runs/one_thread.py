"""A run's updates stepped in one thread of its own, whichever threads ask for them.

The app's server (Gradio) steps a handler's generator in whichever of its worker threads is free, so one run's
generation and judge readings can land on different threads. torch and llama.cpp share one OpenMP runtime (libgomp),
which keeps a pool of threads for each thread that starts parallel work; with two threads' pools, llama.cpp's
generation ran at 0.78x (benchmarks/torch_before_llamacpp.py: `torch`, and `torch_both` where the generating thread
had run torch too), and the judge's readings slowed as much; likely because once libgomp manages more threads than
there are cores, its threads wait by sleeping instead of spinning. In one thread throughout it ran at full speed
(`torch_same_thread`). The CLI steps a run in its main thread already; the app steps its compares, batches, sweeps,
arena battles, validations and distillations through this.

The steps stay in lock step with the consumer: the next step is computed only when the next update is asked for, as
with the generator itself, so nothing is computed ahead that a stop would throw away. Closing the stepped iterator
closes the run's generator (its `finally` blocks run) before it returns.
"""
from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import TypeVar

T = TypeVar("T")
_DONE = object()


def stepped_in_one_thread(updates: Iterator[T], name: str = "run") -> Iterator[T]:
    """`updates`, each step computed in one thread started for it; errors are raised here as they were there."""
    handed = queue.Queue(maxsize=1)
    asked = threading.Event()
    stopped = threading.Event()

    def step_all() -> None:
        try:
            for update in updates:
                handed.put((update, None))
                asked.wait()
                asked.clear()
                if stopped.is_set():
                    break
            else:
                handed.put((_DONE, None))
        except BaseException as exc:  # noqa: BLE001  handed over whole: the caller raises it
            handed.put((_DONE, exc))
        finally:
            close = getattr(updates, "close", None)
            if close:
                close()

    worker = threading.Thread(target=step_all, name=f"{name}-steps", daemon=True)
    worker.start()
    try:
        while True:
            update, error = handed.get()
            if error is not None:
                raise error
            if update is _DONE:
                return
            yield update
            asked.set()
    finally:
        stopped.set()
        asked.set()
        worker.join()
