"""The gate: is a new run worse than the last good one? "The new checkpoint is not worse" as a CI check.

The two runs are paired by prompt (id and preset; a prompt's samples are averaged first), and for each measure the
paired difference new - old gets a bootstrap interval (analysis/stats.py). A measure fails the gate only when it fell
by more than the margin AND its interval excludes no change: a drop the data cannot tell from noise does not fail a
build, and a real but negligible one does not either. Measures: model A's win rate against the baseline (both runs
must have the same baseline), and A's mean on each criterion both rubrics share (the margin is then a share of the
scale's range: 0.05 of 1-4 is 0.15 points). Nothing in common to compare is a failure, never a pass.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from analysis.stats import Interval, mean_with_ci, rubric_of
from basics import UserFacingError
from runs.store import MANIFEST_FILE, load_run

DEFAULT_GATE_MARGIN = 0.05
OUTCOME = {"A": 1.0, "tie": 0.5, "B": 0.0}  # ties count half, as the win rate counts them


@dataclass(frozen=True)
class GateCheck:
    measure: str  # "win rate against B", "relevance"
    old: float
    new: float
    difference: Interval  # paired new - old over the prompts both runs scored
    margin: float  # in the measure's own units

    @property
    def worse(self) -> bool:
        d = self.difference
        return d.mean is not None and d.mean < -self.margin and d.high is not None and d.high < 0

    def describe(self) -> str:
        d = self.difference
        return (f"{self.measure} {self.old:.2f} -> {self.new:.2f} (paired difference {d.mean:+.2f}, 95% CI "
                f"{d.low:+.2f} to {d.high:+.2f}, {d.n} prompts)")


@dataclass(frozen=True)
class GateResult:
    passed: bool
    line: str  # one line saying why, for the CLI
    checks: tuple[GateCheck, ...]


@dataclass(frozen=True)
class LastGoodRun:
    """What a new run is gated against: one run folder's records, or those of every sample round of a `test`."""

    name: str
    records: list


def open_gate_run(run_dir: str | Path, judge_label: str | None = None) -> LastGoodRun:
    """The last good run, checked before anything is run: a run folder, or the folder `test --out` filled with one
    run per sample round (pooled); readable, with records, of one pair of models, judged by the same judge."""
    path = Path(run_dir)
    if not path.is_dir():
        raise UserFacingError(f"--gate {run_dir}: no such run folder; pass the folder a passing run printed")
    folders = [path] if (path / MANIFEST_FILE).is_file() else sorted(
        f for f in path.iterdir() if (f / MANIFEST_FILE).is_file())
    if not folders:
        raise UserFacingError(f"--gate {run_dir}: not a run folder (no run.json), nor a folder of them; pass the "
                              "folder a passing run printed, or the --out folder of a passing test")
    records = [record for folder in folders for record in load_run(folder).records]
    if not records:
        raise UserFacingError(f"--gate {run_dir}: the run has no records to compare with; gate against a run "
                              "that finished")
    pairs = {(r.get("model_a"), r.get("model_b")) for r in records}
    if len(pairs) > 1:  # the pooled folders are not one test's rounds (results/ itself, say)
        raise UserFacingError(f"--gate {run_dir} holds runs of {len(pairs)} different model pairs; name one run "
                              "folder, or a folder holding only one test's runs")
    judges = {r.get("judge") for r in records} - {None, ""}
    if judge_label is not None and judges and judge_label not in judges:
        raise UserFacingError(f"--gate {run_dir} was judged by {' / '.join(sorted(judges))}, this run by "
                              f"{judge_label}: scores of different judges do not compare; gate against a run with "
                              "the same judge, or run with its judge")
    return LastGoodRun(path.name, records)


def check_margin(margin: float) -> float:
    if not 0 <= margin < 1:
        raise UserFacingError(f"--gate-margin must be a share from 0 to below 1 (0.05 = five points of win rate), "
                              f"got {margin:g}")
    return margin


def _by_prompt(records: Sequence[dict], value) -> dict[tuple, float]:
    """{(id, preset): mean of value(record) over its records (its samples)}, None values left out."""
    found = defaultdict(list)
    for record in records:
        v = value(record)
        if v is not None:
            found[(record["id"], record.get("preset") or "custom")].append(v)
    return {key: sum(vs) / len(vs) for key, vs in found.items()}


def _paired(new: Sequence[dict], old: Sequence[dict], value, measure: str, margin: float) -> GateCheck | None:
    a, b = _by_prompt(new, value), _by_prompt(old, value)
    common = sorted(set(a) & set(b))
    if not common:
        return None
    difference = mean_with_ci([a[k] - b[k] for k in common])
    return GateCheck(measure, sum(b[k] for k in common) / len(common), sum(a[k] for k in common) / len(common),
                     difference, margin)


def _baseline(records: Sequence[dict]) -> str | None:
    """The one baseline (model B) of records, None where it is the model itself or there are several."""
    pairs = {(r.get("model_a"), r.get("model_b")) for r in records}
    if len(pairs) != 1:
        return None
    model_a, model_b = pairs.pop()
    return model_b if model_b and model_b != model_a else None


def gate_checks(new: Sequence[dict], old: Sequence[dict], margin: float = DEFAULT_GATE_MARGIN) -> list[GateCheck]:
    checks = []
    baseline = _baseline(new)
    if baseline and baseline == _baseline(old):
        found = _paired(new, old, lambda r: OUTCOME.get(r.get("winner")), f"win rate against {baseline}", margin)
        checks.append(found)
    new_rubric, old_rubric = rubric_of(new), rubric_of(old)
    if new_rubric.scale == old_rubric.scale:
        points = margin * (new_rubric.high - new_rubric.low)
        for criterion in (c for c in new_rubric.criteria if c in old_rubric.criteria):
            checks.append(_paired(new, old, lambda r, c=criterion: ((r.get("scores") or {}).get("A") or {}).get(c),
                                  f"mean {criterion}", points))
    return [c for c in checks if c is not None]


def gate(new: Sequence[dict], old_run: LastGoodRun, margin: float = DEFAULT_GATE_MARGIN) -> GateResult:
    """Whether `new` records (model A) are no worse than `old_run`'s, by every measure both can be compared on."""
    check_margin(margin)
    checks = tuple(gate_checks(new, old_run.records, margin))
    if not checks:
        return GateResult(False, f"gate failed: nothing to compare with {old_run.name} (no prompt with a verdict or "
                                 "scores in both runs, or different baselines and scales), so nothing shows the new "
                                 "model is not worse", checks)
    worse = [c for c in checks if c.worse]
    if worse:
        worst = min(worse, key=lambda c: c.difference.mean / (c.margin or 1))
        more = f" (and {len(worse) - 1} more measure(s))" if len(worse) > 1 else ""
        return GateResult(False, f"gate failed against {old_run.name}: {worst.describe()} is worse by more than the "
                                 f"margin {worst.margin:g}{more}", checks)
    return GateResult(True, f"gate passed against {old_run.name}: no measure worse by more than the margin "
                            f"{margin:g} ({'; '.join(c.describe() for c in checks)})", checks)
