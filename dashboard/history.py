"""Headline numbers of a run, and their history across runs."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
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


@dataclass
class HistoryPoint:
    created: str
    value: float
    run: str  # the run folder's name
    judge: str  # who judged the run (a panel's judges joined)


def history_points(root: str | Path | None = None, metric: str = "win_rate_A") -> list[HistoryPoint]:
    """`metric` (a key of HISTORY_METRICS) of every run that has it, oldest first, with the run's judge."""
    if metric not in HISTORY_METRICS:
        raise ValueError(f"unknown metric {metric!r}: use one of {', '.join(HISTORY_METRICS)}")
    points = []
    for info in reversed(list_runs(root)):
        value = aggregates(load_run(info.path))[metric]
        if value is not None:
            points.append(HistoryPoint(info.created, value, info.folder, info.models.get("judge") or "unknown"))
    return points


def history(root: str | Path | None = None, metric: str = "win_rate_A") -> list[tuple[str, float]]:
    """(created, value) of `metric` (a key of HISTORY_METRICS) for every run that has it, oldest first."""
    return [(point.created, point.value) for point in history_points(root, metric)]


def judges_note(points: list[HistoryPoint]) -> str:
    """Which judges the history's runs were judged by, in words: a warning where they differ, since two judges'
    scores and verdicts are not on one scale."""
    if not points:
        return ""
    judges = Counter(point.judge for point in points)
    if len(judges) == 1:
        return f"All {len(points)} run(s) were judged by `{points[0].judge}`."
    who = ", ".join(f"`{judge}` ({n} run{'' if n == 1 else 's'})" for judge, n in judges.items())
    return (f"**These runs were judged by {len(judges)} different judges:** {who}. Different judges' scores are not "
            "on one scale, so a step between two of them may be the judge, not the models: compare the runs of one "
            "judge with each other.")
