"""Headline numbers of a run, and their history across runs."""
from __future__ import annotations

from pathlib import Path

from runs.store import Run, list_runs, load_run

HISTORY_METRICS = {
    "win_rate_A": "Win rate of A (ties = ½)",
    "mean_total_A": "Mean total of A",
    "mean_total_B": "Mean total of B",
    "unparsed": "Unparsed records",
    "consistency": "Position consistency (pairwise)",
}


def _stats(run: Run) -> dict:
    return run.summary.get("stats") or {}


def win_rate_a(run: Run) -> float | None:
    return (_stats(run).get("win_rate") or {}).get("rate")


def aggregates(run: Run) -> dict:
    """The headline numbers of a run, as used by compare_runs and history."""
    mean_total = run.summary.get("mean_total") or {}
    return {
        "win_rate_A": win_rate_a(run),
        "mean_total_A": mean_total.get("A"), "mean_total_B": mean_total.get("B"),
        "unparsed": run.summary.get("unparsed"),
        "consistency": (_stats(run).get("position") or {}).get("consistency_rate"),
    }


def history(root: str | Path | None = None, metric: str = "win_rate_A") -> list[tuple[str, float]]:
    """(created, value) of `metric` (a key of HISTORY_METRICS) for every run that has it, oldest first."""
    if metric not in HISTORY_METRICS:
        raise ValueError(f"unknown metric {metric!r}: use one of {', '.join(HISTORY_METRICS)}")
    points = []
    for info in reversed(list_runs(root)):
        value = aggregates(load_run(info.path))[metric]
        if value is not None:
            points.append((info.created, value))
    return points


