"""Suite and sweep outcomes on disk, beside the runs: one folder each (`<time>-suite-NAME/suite.json`,
`<time>-sweep-NAME/sweep.json` + summary.json), and their points over time for the Results tab's history.

A suite's outcome is its pass rate (cases passed of cases, Wilson 95%), a sweep's one point per checkpoint (its win
rate against the baseline, Wilson 95%); each names the model and the judge, since a step between two judges' numbers
may be the judge, not the model. A folder that cannot be read is skipped, as list_runs skips a broken run.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from basics import make_unique_folder, read_json, results_dir
from runs.store import new_run_id

SUITE_OUTCOME = "suite.json"
SWEEP_MANIFEST = "sweep.json"
SWEEP_SUMMARY = "summary.json"  # written last: a sweep without it did not finish


@dataclass
class OutcomePoint:
    created: str
    series: str  # what one line of the chart follows: a suite and the model it tested, or a checkpoint
    value: float
    low: float | None
    high: float | None
    folder: str  # the suite's or the sweep's folder name
    judge: str
    detail: str = ""  # e.g. "7 of 8 cases", "step 20"


def make_outcome_folder(out_dir: str | Path, label: str) -> Path:
    """A new folder `<time>-LABEL` under out_dir, as a run's is named and made (two in one second get -2, -3)."""
    return make_unique_folder(out_dir, new_run_id(label))


def _folders(root: str | Path | None, marker: str) -> list[tuple[Path, dict]]:
    root = Path(root) if root else results_dir()
    found = []
    for folder in sorted(root.iterdir()) if root.is_dir() else []:
        data = read_json(folder / marker) if folder.is_dir() else None
        if isinstance(data, dict) and isinstance(data.get("created"), str):
            found.append((folder, data))
    return sorted(found, key=lambda item: item[1]["created"])


def suite_points(root: str | Path | None = None) -> list[OutcomePoint]:
    """Each finished suite's pass rate, oldest first; one series per suite and model."""
    points = []
    for folder, data in _folders(root, SUITE_OUTCOME):
        rate = data.get("pass_rate") or {}
        if not isinstance(rate.get("rate"), (int, float)):
            continue
        points.append(OutcomePoint(data["created"], f"{data.get('suite')} · {data.get('model')}", rate["rate"],
                                   rate.get("low"), rate.get("high"), folder.name,
                                   " | ".join(data.get("judges") or []) or "unknown",
                                   f"{len(data.get('passed') or [])} of {data.get('cases')} cases"))
    return points


def sweep_points(root: str | Path | None = None) -> list[OutcomePoint]:
    """Each finished sweep's checkpoints: win rate against the baseline, oldest sweep first; one series per
    checkpoint spec (the same checkpoint swept again is the same line)."""
    points = []
    for folder, manifest in _folders(root, SWEEP_MANIFEST):
        summary = read_json(folder / SWEEP_SUMMARY)
        if not isinstance(summary, dict):
            continue  # not finished
        judge = " | ".join((manifest.get("config") or {}).get("judges") or []) or "unknown"
        for row in summary.get("checkpoints") or []:
            rate = row.get("win_rate") or {}
            if row.get("is_baseline") or not isinstance(rate.get("rate"), (int, float)):
                continue
            step = f"step {row['step']}" if row.get("step") is not None else row.get("label", "")
            points.append(OutcomePoint(manifest["created"], row.get("spec") or row.get("label"), rate["rate"],
                                       rate.get("low"), rate.get("high"), folder.name, judge,
                                       f"{step} against {summary.get('baseline')}"))
    return points
