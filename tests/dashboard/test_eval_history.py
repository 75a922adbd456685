"""The Results tab's history of suites and sweeps: a suite run writes its outcome (suite.json) beside its runs, a
finished sweep gives one point per checkpoint, each with its interval and judge; the chart has a line per series,
the words say what the latest point means, and a damaged or unfinished outcome is skipped."""
import json

import pytest
import yaml

from dashboard.eval_history import ALL_METRICS, history_view
from evals.outcomes import SUITE_OUTCOME, suite_points, sweep_points
from evals.runner import EvalConfig, run_suite
from evals.sweep import SweepConfig, run_sweep
from evals.sweep_report import write_summary

pytestmark = pytest.mark.usefixtures("fresh_models")  # scripted models start from their first reply

GOOD = "Relevance: 4\\nCoherence: 4\\nCompleteness: 3"
POOR = "Relevance: 2\\nCoherence: 1\\nCompleteness: 1"


def suite_file(tmp_path) -> str:
    path = tmp_path / "suite.yaml"
    cases = [{"id": f"c{i}", "prompt": f"Explain thing {i}.", "expect": [{"min_total": 9}]} for i in range(3)]
    path.write_text(yaml.safe_dump({"name": "demo", "cases": cases}))
    return str(path)


def test_a_suite_run_is_a_point_with_its_pass_rate_and_interval(tmp_path, monkeypatch):
    out = tmp_path / "results"
    monkeypatch.setenv("LLM_JUDGE_RESULTS", str(out))
    judge = "scripted:" + "||".join([GOOD, GOOD, POOR, POOR, GOOD, GOOD])  # A then B per case: c1 fails
    result = run_suite(EvalConfig(suite=suite_file(tmp_path), model="scripted:An answer.", judges=[judge],
                                  out_dir=str(out)))
    saved = json.loads((result.outcome / SUITE_OUTCOME).read_text())
    assert saved["passed"] == ["c0", "c2"] and saved["failed"] == ["c1"] and saved["cases"] == 3
    assert saved["pass_rate"]["rate"] == pytest.approx(2 / 3)
    assert 0 < saved["pass_rate"]["low"] < 2 / 3 < saved["pass_rate"]["high"] < 1  # Wilson 95% of 2 of 3
    assert saved["runs"] == [d.name for d in result.run_dirs]
    (point,) = suite_points(out)
    assert point.series == "demo · scripted:An answer." and point.detail == "2 of 3 cases" and point.judge == judge

    figure, words = history_view("suite_pass_rate")
    (line,) = figure.data
    assert list(line.y) == [pytest.approx(2 / 3)] and line.error_y.array[0] > 0
    assert "67% (95% " in words and "share of the suite's cases that passed" in words


def test_a_finished_sweep_gives_a_point_per_checkpoint_and_an_unfinished_one_none(tmp_path, monkeypatch):
    out = tmp_path / "results"
    monkeypatch.setenv("LLM_JUDGE_RESULTS", str(out))
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text("".join(json.dumps({"id": f"q{i}", "prompt": f"Say {i}."}) + "\n" for i in range(3)))
    config = SweepConfig(checkpoints=["scripted:hist-a", "scripted:hist-b"], baseline="scripted:hist-base",
                         prompts=str(prompts), judges=[f"scripted:{GOOD}||{POOR}"], out_dir=str(out))
    write_summary(run_sweep(config))
    run_sweep(config)  # no summary written: as a sweep cut off before its end
    points = sweep_points(out)
    assert [p.series for p in points] == ["scripted:hist-a", "scripted:hist-b"]  # the baseline is not a point
    assert all(p.value == 1.0 and p.low < 1.0 and "against scripted:hist-base" in p.detail for p in points)
    figure, words = history_view("sweep_win_rate")
    assert [trace.name for trace in figure.data] == ["scripted:hist-a", "scripted:hist-b"]
    assert "won against the baseline" in words


def test_nothing_yet_says_how_to_make_a_point_and_damaged_outcomes_are_skipped(tmp_path, monkeypatch):
    monkeypatch.setenv("LLM_JUDGE_RESULTS", str(tmp_path))
    for metric, how in (("suite_pass_rate", "python -m judge test"), ("sweep_win_rate", "Compare checkpoints")):
        figure, words = history_view(metric)
        assert not figure.data and how in words
    (tmp_path / "1-suite-x").mkdir()
    (tmp_path / "1-suite-x" / SUITE_OUTCOME).write_text('{"created": "2026-01-01", "pass_rate": ')  # cut off
    (tmp_path / "2-suite-y").mkdir()
    (tmp_path / "2-suite-y" / SUITE_OUTCOME).write_text('["not", "an", "object"]')
    assert suite_points(tmp_path) == []
    assert set(ALL_METRICS) >= {"win_rate_A", "suite_pass_rate", "sweep_win_rate"}


def test_points_judged_by_two_judges_say_so(tmp_path):
    for n, judge in enumerate(("judge-one", "judge-two")):
        folder = tmp_path / f"{n}-suite-demo"
        folder.mkdir()
        (folder / SUITE_OUTCOME).write_text(json.dumps({
            "created": f"2026-01-0{n + 1}T00:00:00", "suite": "demo", "model": "m", "judges": [judge], "cases": 4,
            "passed": ["a", "b"], "pass_rate": {"rate": 0.5, "low": 0.15, "high": 0.85}}))
    from dashboard.eval_history import outcome_note

    words = outcome_note(suite_points(tmp_path), "suite_pass_rate")
    assert "judged by 2 different judges" in words and "`judge-one` (1)" in words
